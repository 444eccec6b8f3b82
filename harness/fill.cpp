#include "harness/fill.h"

#include <cstring>
#include <stdexcept>

namespace qb {

OwnedWeight::OwnedWeight(const Format& f, int64_t rows, int64_t cols, const nlohmann::json& params,
                         const std::vector<std::vector<uint8_t>>& tensors, std::size_t misalign) {
  const auto layout = f.layout(rows, cols, params);
  if (layout.size() != tensors.size()) throw std::invalid_argument("tensor count does not match " + f.id + " layout");
  view_.format = &f;
  view_.rows = rows;
  view_.cols = cols;
  view_.params = params;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    // The offset is counted from the first 64-byte boundary inside the buffer.
    buffers_.emplace_back(tensors[i].size() + 128);
    const auto base = reinterpret_cast<uintptr_t>(buffers_[i].data());
    uint8_t* start = buffers_[i].data() + (64 - base % 64) % 64 + misalign;
    std::memcpy(start, tensors[i].data(), tensors[i].size());
    view_.tensors.push_back({layout[i].name, layout[i].dtype, layout[i].shape, start, tensors[i].size()});
  }
}

std::vector<float> gaussian(std::size_t n, uint64_t seed, float sigma) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<std::vector<uint8_t>> random_tensors(const Format& f, int64_t rows, int64_t cols,
                                                 const nlohmann::json& params, uint64_t seed) {
  std::vector<std::vector<uint8_t>> tensors;
  if (f.encode_ref) {
    const std::vector<float> src = gaussian(static_cast<std::size_t>(rows * cols), seed);
    f.encode_ref(src.data(), rows, cols, params, tensors);
  } else if (f.random_stored) {
    tensors = f.random_stored(f, rows, cols, params, seed);
  } else {
    throw std::invalid_argument("format " + f.id + " has neither an encoder nor a random filler");
  }
  return tensors;
}

OwnedWeight random_weight(const Format& f, int64_t rows, int64_t cols, uint64_t seed, std::size_t misalign,
                          const nlohmann::json& params) {
  return OwnedWeight(f, rows, cols, params, random_tensors(f, rows, cols, params, seed), misalign);
}

void plant_special_scales(OwnedWeight& w, uint64_t seed) {
  static constexpr uint16_t kSpecial[] = {0x7C01, 0xFE55, 0x7D00, 0x7E00, 0x7C00, 0xFC00,
                                          0x0001, 0x83FF, 0x0200, 0x0000, 0x8000};
  const QWeight& v = w.view();
  const Format& f = *v.format;
  const int64_t blocks = v.rows * v.cols / f.block_elems;
  std::mt19937_64 rng(seed);
  uint8_t* data = w.tensor_data(0);
  for (int64_t b = 0; b < blocks; ++b) {
    if (rng() % 4 != 0) continue;  // most blocks keep ordinary scales
    for (int64_t off : f.fp16_scale_offsets) {
      const uint16_t h = kSpecial[rng() % (sizeof kSpecial / sizeof kSpecial[0])];
      std::memcpy(data + b * f.block_bytes + off, &h, 2);
    }
  }
}

OwnedActivation quantize_activation(const Format& f, const std::vector<float>& x, int64_t cols, std::size_t misalign) {
  OwnedActivation a;
  const std::size_t stride = f.activation->bytes(cols), m = x.size() / static_cast<std::size_t>(cols);
  a.buffer.resize(stride * m + 128);
  const auto base = reinterpret_cast<uintptr_t>(a.buffer.data());
  a.offset = (64 - base % 64) % 64 + misalign;
  for (std::size_t i = 0; i < m; ++i)
    f.activation->quantize(x.data() + i * cols, cols, a.buffer.data() + a.offset + i * stride);
  return a;
}

}  // namespace qb

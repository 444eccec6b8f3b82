#include "harness/fill.h"

#include <algorithm>
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
  // A format whose every bit pattern decodes fills at random even when it has an encoder: random
  // bits reach codes and padding an encoder never writes.
  if (f.random_stored) {
    tensors = f.random_stored(f, rows, cols, params, seed);
  } else if (f.encode_ref) {
    const std::vector<float> src = gaussian(static_cast<std::size_t>(rows * cols), seed);
    f.encode_ref(src.data(), rows, cols, params, tensors);
  } else {
    throw std::invalid_argument("format " + f.id + " has neither an encoder nor a random filler");
  }
  return tensors;
}

OwnedWeight random_weight(const Format& f, int64_t rows, int64_t cols, uint64_t seed, std::size_t misalign,
                          const nlohmann::json& params) {
  return OwnedWeight(f, rows, cols, params, random_tensors(f, rows, cols, params, seed), misalign);
}

namespace {

// Subnormals, +-0, NaN (several payloads, both signs) and +-Inf, interleaved so that the first
// few already hold a finite and a non-finite class.
constexpr uint16_t kSpecial[] = {0x0001, 0x7C01, 0x8000, 0x7C00, 0x83FF, 0xFE55, 0x0000, 0xFC00, 0x0200, 0x7D00, 0x7E00};
constexpr std::size_t kClasses = sizeof kSpecial / sizeof kSpecial[0];

}  // namespace

void plant_special_scales(OwnedWeight& w, uint64_t seed, const std::string& only_tensor) {
  const QWeight& v = w.view();
  const Format& f = *v.format;
  std::mt19937_64 rng(seed);
  // Block scales: rows/2 fields at random positions, so most GEMV rows meet none or a finite one
  // and non-finite handling is checked without every output being NaN.
  if (!f.fp16_scale_offsets.empty() && only_tensor.empty()) {
    const int64_t blocks = v.rows * v.cols / f.block_elems;
    for (int64_t i = 0; i < std::max<int64_t>(1, v.rows / 2); ++i) {
      const int64_t b = static_cast<int64_t>(rng() % static_cast<uint64_t>(blocks));
      const int64_t off = f.fp16_scale_offsets[rng() % f.fp16_scale_offsets.size()];
      std::memcpy(w.tensor_data(0) + b * f.block_bytes + off, &kSpecial[rng() % kClasses], 2);
    }
  }
  for (std::size_t i = 0; i < v.tensors.size(); ++i)
    for (const std::string& name : f.fp16_scale_tensors)
      if (v.tensors[i].name == name && (only_tensor.empty() || name == only_tensor))  // each element a scale: a few special
        for (std::size_t e = 0; e < v.tensors[i].nbytes / 2; ++e)
          if (rng() % 16 == 0) std::memcpy(w.tensor_data(i) + 2 * e, &kSpecial[rng() % kClasses], 2);
}

void plant_extreme_codes(OwnedWeight& w, uint64_t seed) {
  const QWeight& v = w.view();
  const Format& f = *v.format;
  if (f.block_bytes <= 0 || v.tensors.size() != 1) return;
  // Whole code fields of one byte pattern: every nibble 0 or 15, int8 -128 or 127, mixed nibbles.
  static constexpr uint8_t kCodeBytes[] = {0x00, 0xFF, 0x80, 0x7F, 0x0F, 0xF0, 0x88};
  std::mt19937_64 rng(seed);
  const int64_t blocks = v.rows * v.cols / f.block_elems;
  for (int64_t b = 0; b < blocks; ++b) {
    if (rng() % 5 != 0) continue;
    uint8_t* blk = w.tensor_data(0) + b * f.block_bytes;
    const uint8_t code = kCodeBytes[rng() % sizeof kCodeBytes];
    for (int64_t i = 0; i < f.block_bytes; ++i) {
      const bool scale = std::any_of(f.fp16_scale_offsets.begin(), f.fp16_scale_offsets.end(),
                                     [&](int64_t off) { return i == off || i == off + 1; });
      if (!scale) blk[i] = code;
    }
  }
}

void plant_special_activation_scales(const ActivationFormat& a, uint8_t* act, int64_t cols, int64_t m, uint64_t seed,
                                     bool extreme_codes) {
  if (a.fp16_scale_offsets.empty()) return;
  std::mt19937_64 rng(seed);
  const std::size_t stride = a.bytes(cols);
  const int64_t blocks = static_cast<int64_t>(stride) / a.block_bytes;
  std::vector<int64_t> special_block(static_cast<std::size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    const int64_t b = static_cast<int64_t>(rng() % static_cast<uint64_t>(blocks));
    const int64_t off = a.fp16_scale_offsets[rng() % a.fp16_scale_offsets.size()];
    std::memcpy(act + i * stride + b * a.block_bytes + off, &kSpecial[i % kClasses], 2);
    special_block[static_cast<std::size_t>(i)] = b;
  }
  if (!extreme_codes) return;
  // A generator of its own, so the special scales land where they did before codes were planted.
  // The first three hold -128; the forced block takes one of them.
  static constexpr uint8_t kPatterns[][4] = {
      {0x80, 0x80, 0x80, 0x80}, {0x80, 0x7F, 0x80, 0x7F}, {0x80, 0x80, 0x7F, 0x7F},
      {0x7F, 0x7F, 0x7F, 0x7F}, {0xFF, 0xFF, 0xFF, 0xFF}};
  std::mt19937_64 pick(seed ^ 0xc0de'5eedull);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t skip = blocks > 1 ? special_block[static_cast<std::size_t>(i)] : -1;
    // Block `forced` is planted whatever the draws, so each vector holds at least one.
    int64_t forced = static_cast<int64_t>(pick() % static_cast<uint64_t>(blocks));
    if (forced == skip) forced = (forced + 1) % blocks;
    for (int64_t b = 0; b < blocks; ++b) {
      if (b == skip || (b != forced && pick() % 4 != 0)) continue;
      const uint8_t* pattern = kPatterns[pick() % (b == forced ? 3 : sizeof kPatterns / sizeof kPatterns[0])];
      uint8_t* blk = act + i * stride + b * a.block_bytes;
      for (int64_t k = 0, c = 0; k < a.block_bytes; ++k) {
        const bool scale = std::any_of(a.fp16_scale_offsets.begin(), a.fp16_scale_offsets.end(),
                                       [&](int64_t off) { return k == off || k == off + 1; });
        if (!scale) blk[k] = pattern[c++ % 4];
      }
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

#include "reference/exl3/random.h"

#include <cstring>
#include <stdexcept>

#include "reference/common/half.h"
#include "reference/exl3/exl3.h"

namespace qb::exl3 {

void random_trellis(int16_t* words, std::size_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> dist(-32768, 32767);
  for (std::size_t i = 0; i < n; ++i) words[i] = static_cast<int16_t>(dist(rng));
}

void random_scales(uint16_t* fp16, std::size_t n, float lo, float hi, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> mag(lo, hi);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = mag(rng);
    fp16[i] = f32_to_fp16((rng() & 1) ? -v : v);
  }
}

std::vector<std::vector<uint8_t>> random_trellis_tensors(const Format& f, int64_t rows, int64_t cols,
                                                         const nlohmann::json& params, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<uint8_t>> out;
  for (const auto& spec : f.layout(rows, cols, params)) {
    std::size_t n = 1;
    for (int64_t d : spec.shape) n *= static_cast<std::size_t>(d);
    std::vector<uint8_t> bytes(n * dtype_size(spec.dtype));
    if (spec.name == "trellis") {
      random_trellis(reinterpret_cast<int16_t*>(bytes.data()), n, rng);
    } else if (spec.name == "suh") {
      random_scales(reinterpret_cast<uint16_t*>(bytes.data()), n, 0.01f, 0.05f, rng);
    } else if (spec.name == "svh") {
      random_scales(reinterpret_cast<uint16_t*>(bytes.data()), n, 0.5f, 2.0f, rng);
    } else if (spec.name == "mcg" || spec.name == "mul1") {
      const uint32_t m = spec.name == "mcg" ? kMcgMultiplier : kMul1Multiplier;
      std::memcpy(bytes.data(), &m, sizeof m);
    } else {
      throw std::invalid_argument("format " + f.id + " has a tensor '" + spec.name + "' that is not EXL3's");
    }
    out.push_back(std::move(bytes));
  }
  return out;
}

}  // namespace qb::exl3

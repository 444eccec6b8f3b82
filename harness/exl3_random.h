// Random EXL3 weights for tests and benches. Any int16 array is a valid trellis (every bit
// pattern decodes), so random words time and exercise the same decode as a quantized model
// without running the quantizer's Viterbi search.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/fill.h"
#include "harness/registry.h"

namespace qb {

// The codebook markers' stored values: upstream locked the multipliers to these constants
// (specs/exl3.md section 1) and stores them as int32.
inline constexpr uint32_t kMcgMultiplier = 0xCBAC1FEDu;
inline constexpr uint32_t kMul1Multiplier = 0x83DCD12Du;

// Scale magnitudes seen in real models: suh is the input scale (sign flip x ~0.01-0.05),
// svh the output scale (sign flip x ~0.5-2).
void random_trellis(int16_t* words, std::size_t n, std::mt19937_64& rng);
void random_scales(uint16_t* fp16, std::size_t n, float lo, float hi, std::mt19937_64& rng);

// Bytes of each tensor of format.layout(rows, cols, params), in layout order: trellis words,
// suh, svh, and the codebook marker holding its locked multiplier.
std::vector<std::vector<uint8_t>> random_trellis_tensors(const Format& f, int64_t rows, int64_t cols,
                                                         const nlohmann::json& params, uint64_t seed);
OwnedWeight random_trellis_weight(const Format& f, int64_t rows, int64_t cols, const nlohmann::json& params,
                                  uint64_t seed, std::size_t misalign = 0);

}  // namespace qb

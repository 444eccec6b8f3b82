// Random EXL3 weights for tests and benches. Any int16 array is a valid trellis (every bit
// pattern decodes), so random words time and exercise the same decode as a quantized model
// without running the quantizer's Viterbi search.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/registry.h"

namespace qb::exl3 {

// Scale magnitudes seen in real models: suh is the input scale (sign flip x ~0.01-0.05),
// svh the output scale (sign flip x ~0.5-2).
void random_trellis(int16_t* words, std::size_t n, std::mt19937_64& rng);
void random_scales(uint16_t* fp16, std::size_t n, float lo, float hi, std::mt19937_64& rng);

// Bytes of each tensor of format.layout(rows, cols, params), in layout order: trellis words,
// suh, svh, and the codebook marker holding its locked multiplier.
std::vector<std::vector<uint8_t>> random_trellis_tensors(const Format& f, int64_t rows, int64_t cols,
                                                         const nlohmann::json& params, uint64_t seed);

}  // namespace qb::exl3

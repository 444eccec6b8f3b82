// Exact-by-construction GEMV inputs (Format::exact_gemv_case) for q4_1, q5_1, q1_0, q2_0, mxfp4 and
// nvfp4: the q8_0_paired_exact_case idea (reference/ggml/exact_case.cpp) for their scale fields.
#pragma once
#include <cstdint>
#include <vector>

#include "harness/registry.h"

namespace qb::ggml {

// Which scale fields a block carries, each set to a power of two by the exact case.
enum class ExactScales {
  fp16_d,     // fp16 d at offset 0 (q1_0, q2_0)
  fp16_d_m,   // fp16 d at 0 and min m at 2, paired with q8_1 (q4_1, q5_1)
  e8m0,       // E8M0 e at offset 0 (mxfp4)
  ue4m3_x4,   // four UE4M3 bytes at 0..3, one per 16 elements (nvfp4)
};

template <ExactScales kScales>
bool legacy_exact_case(const Format& f, int64_t rows, int64_t cols, uint64_t seed,
                       std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act);

}  // namespace qb::ggml

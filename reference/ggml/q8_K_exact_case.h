// Exact-by-construction GEMV inputs (Format::exact_gemv_case) for the 256-element types paired
// with q8_K activations (k-quants, iq4_xs, tq1_0, tq2_0 and the grid types iq2_*, iq3_*, iq1_*):
// the q8_0_paired_exact_case idea (reference/ggml/exact_case.cpp) with one shared construction and
// a per-format view of a block as integers. Why the result is exact: q8_K_exact_case.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "harness/registry.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::ggml {

// One stored block as the construction sees it. Every element decodes to
//   2^c * (d * S_i - dmin * N_i),  S_i, N_i integers, c a constant of the format,
// and a kernel forms, from element i and its activation code x8_i, integer pieces (its level, an
// unsigned-offset form of the level and the offset's correction, times its integer scale; a min
// times x8 or a bsum) which it sums exactly, converts, and scales by d*yd or dmin*yd. `scaled[i]`
// bounds the magnitude of every subset sum of the pieces scaled by d, over |x8_i|, in units of
// |d|*2^c; `min[i]` the same for dmin (0 where the type has none). c cancels in the construction.
struct ExactTerms {
  int64_t scaled[kQK_K];
  int64_t min[kQK_K];
};
// Fills the terms of one block; it reads no super-scale (d, dmin), whatever they hold.
using ExactTermsFn = void (*)(const uint8_t* block, ExactTerms& t);
// Writes the block's super-scales as fp16 bit patterns d and dmin (types without a min ignore
// it). Null: d and dmin are the fp16 fields at Format::fp16_scale_offsets[0] and [1].
using ExactScalesFn = void (*)(uint8_t* block, uint16_t d, uint16_t dmin);

// The construction (q8_K_exact_case.cpp); false when cols is not a multiple of 256 or no
// activation range makes it exact.
bool q8_K_exact_case(const Format& f, ExactTermsFn terms, ExactScalesFn scales, int64_t rows, int64_t cols,
                     uint64_t seed, std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act);

// As Format::exact_gemv_case.
template <ExactTermsFn kTerms, ExactScalesFn kScales = nullptr>
bool q8_K_exact_case(const Format& f, int64_t rows, int64_t cols, uint64_t seed,
                     std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act) {
  return q8_K_exact_case(f, kTerms, kScales, rows, cols, seed, tensors, act);
}

}  // namespace qb::ggml

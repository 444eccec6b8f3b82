// q8_1 as a GEMV input: what ggml's x86 mul_mat feeds to the q4_1 and q5_1 vec_dot (specs/ggml.md
// 3.6). Like q8_0 plus s, the block's level sum times d, which the dot uses for the weight's min
// term instead of d * sum(levels).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK8_1 = 32;
struct BlockQ8_1 {
  uint16_t d;  // fp16 scale
  uint16_t s;  // fp16 of d * sum(qs), d unrounded fp32
  int8_t qs[kQK8_1];
};
static_assert(sizeof(BlockQ8_1) == 36, "q8_1 block is 36 bytes");

// Upstream x86 quantize_row_q8_1 (AVX2 path, the CPU from_float): d, id and the levels exactly as
// the native q8_0 quantizer (q8_0_activation.h: vmaxps amax, d = amax/127 as fp16 by F16C,
// id = 127/amax, half to even, NaN and overflowing levels to the int32 indefinite value, packs
// saturating it to -128); s = F16C fp16 of d * (float)sum, the sum taken over the int32 levels
// before the packs saturate them (wrapping like vpaddd: 32 indefinite values sum to 0).
// n: a positive multiple of 32 (std::invalid_argument otherwise); out: n/32 blocks of 36 bytes.
void quantize_row_q8_1_native(const float* x, int64_t n, uint8_t* out);
// Upstream quantize_row_q8_1_ref: amax = MAX(amax, |x_j|) in element order, d = amax/127,
// id = 1/d, roundf (half away from zero), both fp16 conversions in software; s from the sum of the
// stored int8 levels. A level outside int8 (non-finite input; upstream's conversion is UB there)
// follows the native rule, as quantize_row_q8_0_ref does. Same n and out as above.
void quantize_row_q8_1_ref(const float* x, int64_t n, uint8_t* out);
// The values the kernels multiply, fp16(d) * qs (upstream has no q8_1 to_float; s is not a value).
void dequantize_row_q8_1(const uint8_t* blocks, int64_t n, float* out);

const ActivationFormat& q8_1_activation();

}  // namespace qb::ggml

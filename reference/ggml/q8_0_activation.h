// q8_0 as a GEMV input: what ggml's x86 mul_mat feeds to every q8_0-paired vec_dot.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

// Upstream x86 quantize_row_q8_0 (the CPU from_float): d = amax/127 stored as fp16,
// id = 127/amax (not 1/d), levels rounded half to even. Differs from quantize_row_q8_0_ref on
// exact .5 ties and where the two reciprocals differ by an ulp (specs/ggml.md 3.5).
void quantize_row_q8_0_native(const float* x, int64_t n, uint8_t* out);
// Upstream quantize_row_q8_0_ref: id = 1/d, roundf (half away from zero).
void quantize_row_q8_0_ref(const float* x, int64_t n, uint8_t* out);
void dequantize_row_q8_0(const uint8_t* blocks, int64_t n, float* out);

const ActivationFormat& q8_0_activation();

}  // namespace qb::ggml

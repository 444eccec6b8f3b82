// q8_0 as a GEMV input: what ggml's x86 mul_mat feeds to every q8_0-paired vec_dot.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

// Upstream x86 quantize_row_q8_0 (the CPU from_float): d = amax/127 stored as fp16 (F16C),
// id = 127/amax (not 1/d), levels rounded half to even. Differs from quantize_row_q8_0_ref on
// exact .5 ties and where the two reciprocals differ by an ulp (specs/ggml.md 3.5).
// Defined for every input, as the instructions define it: amax is the vmaxps chain in upstream's
// lane and reduction order (vmaxps returns its second operand when either is NaN, so a NaN counts
// or is dropped by its position); a NaN level, or one beyond int32 (id = 127/amax overflows to Inf
// for amax below about 3.7e-37), converts to the integer indefinite 0x80000000, which the packs
// saturate to -128 (0x80); other levels saturate to [-128, 127].
void quantize_row_q8_0_native(const float* x, int64_t n, uint8_t* out);
// Upstream quantize_row_q8_0_ref: amax = MAX(amax, |x_j|) in element order (C's MAX macro: a
// NaN survives only as the last element), id = 1/d, roundf (half away from zero). Upstream's
// float -> int8 store is UB for a level outside int8 (NaN, Inf, or beyond [-128, 127]); here it
// follows the native rule above (NaN and >= 2^31 give -128, others saturate), so both quantizers
// give the same byte for the same level.
void quantize_row_q8_0_ref(const float* x, int64_t n, uint8_t* out);
void dequantize_row_q8_0(const uint8_t* blocks, int64_t n, float* out);

const ActivationFormat& q8_0_activation();

}  // namespace qb::ggml

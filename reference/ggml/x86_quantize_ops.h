// The instruction semantics ggml's x86 activation quantizers (quantize_row_q8_0 / q8_1, AVX2 path,
// specs/ggml.md 3.5, 3.6) rest on, as scalar functions defined for every input: nothing here is UB.
// q8_0_activation.cpp and q8_1_activation.cpp build on them (F16C's conversion is
// reference/common/half.h f32_to_fp16_rne).
#pragma once
#include <cmath>
#include <cstdint>

#include "reference/common/half.h"

namespace qb::ggml::x86_ops {

// |v| by clearing the sign bit, as vandnps with -0.0f does: a NaN keeps its payload.
inline float abs_bits(float v) { return bits_to_f32(f32_to_bits(v) & 0x7FFFFFFFu); }

// (MAX)PS semantics, and C's MAX(a, b) macro: a if a > b, else b. The second operand wins whenever
// either is NaN (and on ties), so whether a NaN survives depends on its position.
inline float max_second_wins(float a, float b) { return a > b ? a : b; }

// amax of 32 values as the AVX2 code forms it: lane l of the four 8-wide vectors (elements l,
// 8 + l, 16 + l, 24 + l) folded in that order by vmaxps(acc, next); then vmaxps(high half, low
// half), vmaxps(t, movehl(t)) and vmaxss(u, movehdup(u)).
inline float native_amax32(const float* x) {
  float m[8];
  for (int l = 0; l < 8; ++l) {
    m[l] = abs_bits(x[l]);
    for (int k = 1; k < 4; ++k) m[l] = max_second_wins(m[l], abs_bits(x[8 * k + l]));
  }
  float t[4];
  for (int j = 0; j < 4; ++j) t[j] = max_second_wins(m[4 + j], m[j]);
  return max_second_wins(max_second_wins(t[0], t[2]), max_second_wins(t[1], t[3]));
}

// amax / 127 as divss computes it: a NaN amax comes back quieted with its payload, written out so
// the result does not rest on the compiler.
inline float div127(float amax) {
  return std::isnan(amax) ? bits_to_f32(f32_to_bits(amax) | 0x00400000u) : amax / 127.0f;
}

// vcvtps2dq of a rounded level (an integer, +-Inf or NaN): NaN and values outside int32 give the
// integer indefinite 0x80000000. Tested in float before converting, so nothing is UB.
inline int32_t cvtps2dq(float r) {
  if (!(r >= -2147483648.0f && r < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(r);
}

// vpackssdw then vpacksswb: an int32 level saturated to int16, then to int8.
inline int8_t pack_saturate(int32_t v) { return static_cast<int8_t>(v > 127 ? 127 : (v < -128 ? -128 : v)); }

}  // namespace qb::ggml::x86_ops

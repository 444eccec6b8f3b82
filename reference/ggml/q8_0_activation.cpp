#include "reference/ggml/q8_0_activation.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"

namespace qb::ggml {
namespace {

void check_cols(int64_t n) {
  if (n <= 0 || n % kQK8_0 != 0)
    throw std::invalid_argument("q8_0 activation: length " + std::to_string(n) +
                                " is not a positive multiple of 32");
}

// |v| by clearing the sign bit, as vandnps with -0.0f does: a NaN keeps its payload.
float abs_bits(float v) { return bits_to_f32(f32_to_bits(v) & 0x7FFFFFFFu); }

// (MAX)PS semantics, and C's MAX(a, b) macro: a if a > b, else b. So the second operand wins
// whenever either is NaN (and on ties), which makes a NaN's survival depend on its position.
float max_second_wins(float a, float b) { return a > b ? a : b; }

// The native quantizer's amax: lane l of the four 8-wide vectors (elements l, 8 + l, 16 + l,
// 24 + l) folded in that order by vmaxps(acc, next), then the lanes reduced as upstream does:
// vmaxps(high half, low half) (t_j = max(m_{4+j}, m_j)), vmaxps(t, movehl(t)) (u_0 = max(t_0, t_2),
// u_1 = max(t_1, t_3)), vmaxss(u, movehdup(u)) (max(u_0, u_1)).
float native_amax(const float* x) {
  float m[8];
  for (int l = 0; l < 8; ++l) {
    m[l] = abs_bits(x[l]);
    for (int k = 1; k < 4; ++k) m[l] = max_second_wins(m[l], abs_bits(x[8 * k + l]));
  }
  float t[4];
  for (int j = 0; j < 4; ++j) t[j] = max_second_wins(m[4 + j], m[j]);
  return max_second_wins(max_second_wins(t[0], t[2]), max_second_wins(t[1], t[3]));
}

// The reference quantizer's amax: amax = MAX(amax, fabsf(x_j)) from 0 in element order.
float ref_amax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK8_0; ++j) amax = max_second_wins(amax, abs_bits(x[j]));
  return amax;
}

// x86 arithmetic returns a NaN operand quieted (first NaN operand for division): what amax / 127
// gives for a NaN amax, written out so the fp16 payload does not rest on the compiler.
float quiet_nan_div(float amax) {
  return std::isnan(amax) ? bits_to_f32(f32_to_bits(amax) | 0x00400000u) : amax / 127.0f;
}

// A rounded level (an integer, +-Inf or NaN) to int8 as vcvtps2dq then vpackssdw and vpacksswb
// do: NaN and values outside int32 become the integer indefinite 0x80000000, and the two packs
// saturate to int16 and then int8, so the indefinite value ends as -128 while finite levels clamp
// to [-128, 127]. Every test is made in float before any conversion, so nothing is UB.
int8_t level_to_int8(float r) {
  if (!(r < 2147483648.0f)) return -128;  // NaN, +Inf and >= 2^31: indefinite, packed to -128
  if (r > 127.0f) return 127;
  if (r < -128.0f) return -128;          // includes -Inf and < -2^31 (indefinite, also -128)
  return static_cast<int8_t>(static_cast<int>(r));
}

template <bool kNative>
void quantize_row(const float* x, int64_t n, uint8_t* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* xb = x + b * kQK8_0;
    uint8_t* ob = out + b * sizeof(BlockQ8_0);
    const float amax = kNative ? native_amax(xb) : ref_amax(xb);
    const float d = kNative ? quiet_nan_div(amax) : amax / 127.0f;
    // `d != 0` and `amax != 0` are true for NaN: id is then NaN and every level NaN.
    const float id = kNative ? (amax != 0.0f ? 127.0f / amax : 0.0f) : (d != 0.0f ? 1.0f / d : 0.0f);
    const uint16_t dh = kNative ? f32_to_fp16_rne(d) : f32_to_fp16(d);
    std::memcpy(ob, &dh, 2);
    for (int j = 0; j < kQK8_0; ++j) {
      const float v = xb[j] * id;
      // Native: _mm256_round_ps(_MM_ROUND_NEAREST), half to even (nearbyint under the default
      // rounding mode); ref: roundf, half away from zero. Both pass NaN and Inf through.
      const int8_t q = level_to_int8(kNative ? std::nearbyint(v) : std::round(v));
      std::memcpy(ob + 2 + j, &q, 1);
    }
  }
}

std::size_t activation_bytes(int64_t cols) {
  return static_cast<std::size_t>(cols / kQK8_0) * sizeof(BlockQ8_0);
}

}  // namespace

void quantize_row_q8_0_native(const float* x, int64_t n, uint8_t* out) { quantize_row<true>(x, n, out); }
void quantize_row_q8_0_ref(const float* x, int64_t n, uint8_t* out) { quantize_row<false>(x, n, out); }

void dequantize_row_q8_0(const uint8_t* blocks, int64_t n, float* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = blocks + b * sizeof(BlockQ8_0);
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = fp16_to_f32(dh);
    for (int j = 0; j < kQK8_0; ++j) {
      const int8_t q = static_cast<int8_t>(blk[2 + j]);
      out[b * kQK8_0 + j] = static_cast<float>(q) * d;
    }
  }
}

const ActivationFormat& q8_0_activation() {
  static const ActivationFormat act{"q8_0", activation_bytes, quantize_row_q8_0_native,
                                    dequantize_row_q8_0, sizeof(BlockQ8_0), {0}};
  return act;
}

}  // namespace qb::ggml

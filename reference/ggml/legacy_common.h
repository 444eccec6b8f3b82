// What the 32/64/128-element GGML weight types of issue 10 share (q4_1, q5_0, q5_1, q1_0, q2_0,
// mxfp4, nvfp4): the x86 float-to-int conversions of upstream's encoders, the q4_1 / q5_1 decode
// step, the strict vec_dot loop, and the rounding depth and bounds of the q8_1-paired dots.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "harness/check.h"
#include "harness/qb_plugin.h"
#include "harness/qweight.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"

namespace qb::ggml {

// A float-to-integer conversion of upstream's reference encoders as x86 code performs it:
// cvttss2si truncates toward zero into int32, and NaN or a value outside int32 gives the integer
// indefinite 0x80000000. For finite inputs the encoders only convert small values; written out so
// that a non-finite input gives that defined result instead of undefined behaviour.
inline int32_t cvtt_i32(float v) {
  const bool in_range = v >= -2147483648.0f && v < 2147483648.0f;  // false for NaN
  return in_range ? static_cast<int32_t>(v) : INT32_MIN;
}

// `(int8_t)v` and `(uint8_t)v`: the conversion above, of which the store keeps the low byte.
inline uint8_t trunc_low_byte(float v) { return static_cast<uint8_t>(static_cast<uint32_t>(cvtt_i32(v)) & 0xFFu); }

// The q4_1 / q5_1 decode `(float)q * d + m`, two roundings (spec 3.2). x86 addition returns a NaN
// operand quieted; when the product and m are both NaN, addss returns its first operand, the
// product, as this does (written out so the payload does not rest on the compiler's operand order).
inline float scaled_plus_min(float q, float d, float m) {
  const float p = q * d;
  return std::isnan(p) ? p : p + m;
}

// Upstream's strict scalar vec_dot loop (specs/ggml.md 4.2) for a weight type of kQK elements in
// kBlockBytes against an activation of 32-element blocks of kActBytes (q8_0: 34, q8_1: 36): sumf
// starts at 0.0f and adds each weight block's fp32 term in block order. term(weight_block, act)
// gets the kQK / 32 consecutive activation blocks the weight block covers and rounds exactly
// where the type's upstream code rounds.
template <int64_t kQK, int64_t kBlockBytes, int64_t kActBytes, typename BlockTerm>
void strict_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, BlockTerm term) {
  static_assert(kQK % 32 == 0, "activation blocks hold 32 elements");
  const int64_t nb = w->cols / kQK;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK, kBlockBytes);
    float sumf = 0.0f;
    for (int64_t b = 0; b < nb; ++b) sumf += term(blk + b * kBlockBytes, act + b * (kQK / 32) * kActBytes);
    y[r] = sumf;
  }
}

// q4_1 and q5_1 against q8_1 (spec 4.2): a block's term is (dx*dy)*(float)sumi + mx*sy, so a term
// holds at most 3 roundings (dx*dy, the product with the exact integer sum, the min product
// mx*sy) plus the addition joining them (or an FMA in place of a product and an addition), and
// one addition per block in a sequential sum. Kernels that keep the min terms in a separate
// accumulator give each of them 1 + blocks + 1 (the final join); SIMD kernels split the block sum
// over up to 64 lanes reduced by a tree (<= 6 more additions). Every such path is at most
// blocks + 3 + 6 roundings long.
inline int64_t q8_1_paired_rounding_depth(int64_t cols) { return cols / 32 + 3 + 6; }

// Format::gemv_bounds and gemv_rms_terms of q4_1 and q5_1. Their dot is not sum(w_i * x_i) of the
// decoded values: the min term uses the activation's stored s (fp16 of d * sum(levels), with the
// unrounded d), not fp16(d) * sum(levels). The product terms a kernel rounds are therefore
// dx*dy*q_j*qy_j (q_j the unsigned code) and mx*sy per block; the bound is
// 2*gamma_n*(sum |dx*dy*q_j*qy_j| + sum |mx*sy|) + 2n*2^-149 and T_r the 2-norm of those terms
// (harness/check.h for both). A non-finite scale makes the row's sum non-finite, as it makes the
// row's result. `codes(block, q)` writes the block's 32 unsigned codes; [m][rows] like the harness.
template <int64_t kBlockBytes, typename Codes>
std::vector<double> q8_1_paired_terms(const QWeight& w, const uint8_t* act, int64_t m, bool rms, Codes codes) {
  constexpr int64_t kActBytes = 36;  // q8_1: fp16 d, fp16 s, 32 int8
  const int64_t nb = w.cols / 32;
  const double n = static_cast<double>(q8_1_paired_rounding_depth(w.cols));
  std::vector<double> out(static_cast<std::size_t>(m * w.rows));
  int q[32];
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < w.rows; ++r) {
      double s = 0;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w.tensors[0].data + (r * nb + b) * kBlockBytes;
        const uint8_t* xb = act + (i * nb + b) * kActBytes;
        codes(blk, q);
        const double dd = static_cast<double>(fp16_to_f32(load_u16(blk))) * fp16_to_f32(load_u16(xb));
        const double ms = static_cast<double>(fp16_to_f32(load_u16(blk + 2))) * fp16_to_f32(load_u16(xb + 2));
        for (int j = 0; j < 32; ++j) {
          const double t = dd * q[j] * static_cast<int8_t>(xb[4 + j]);
          s += rms ? t * t : std::fabs(t);
        }
        s += rms ? ms * ms : std::fabs(ms);
      }
      out[static_cast<std::size_t>(i * w.rows + r)] = rms ? std::sqrt(s) : 2.0 * gamma32(n) * s + 2.0 * n * std::ldexp(1.0, -149);
    }
  return out;
}

}  // namespace qb::ggml

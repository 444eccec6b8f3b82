// What the 32/64/128-element GGML weight types of issue 10 share (q4_1, q5_0, q5_1, q1_0, q2_0,
// mxfp4, nvfp4): the x86 float-to-int conversions of upstream's encoders, the 5-bit code layout of
// q5_0 / q5_1, the strict vec_dot loops, and the q8_1-paired types' decode, dot, rounding depth
// and bounds, with the registry entry made of them.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "harness/check.h"
#include "harness/qb_plugin.h"
#include "harness/qweight.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_exact_case.h"
#include "reference/ggml/q8_1_activation.h"

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

// quantize_row_q4_1_ref / q5_1_ref: the block's min and max, from FLT_MAX / -FLT_MAX (a NaN
// element changes neither).
inline void block_min_max(const float* x, int n, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

// q5_0 / q5_1 (spec 3.3, 3.4): the 32 five-bit codes of a block, element j's low nibble in qs[j]
// (j < 16) or qs[j - 16] >> 4, its bit 4 in bit j of the little-endian 32-bit qh.
inline void q5_codes(const uint8_t* qh_bytes, const uint8_t* qs, int q[32]) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 15) | static_cast<int>((qh >> j) & 1u) << 4;
    q[j + 16] = (qs[j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1u) << 4;
  }
}
// The inverse: codes L[32] (0..31) into qs[16] and qh.
inline void pack_q5_codes(const uint8_t L[32], uint8_t* qh_bytes, uint8_t* qs) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | (L[j + 16] & 0x0F) << 4);
    qh |= static_cast<uint32_t>((L[j] & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}

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

// Upstream's vec_dot of the types of kQK > 32 elements with one fp16 d (bytes 0-1) against q8_0
// (q1_0, q2_0; spec 4.2): per activation block k of the kQK / 32 a weight block covers, sumi_k =
// sum level(block, 32k + j) * qy_j exactly; t = 0.0f, t += dy_k*(float)sumi_k in order; the
// block's term dx*t is added to sumf in block order. level(block, e) is element e's integer level.
template <int64_t kQK, int64_t kBlockBytes, typename Level>
void q8_0_grouped_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, Level level) {
  constexpr int64_t kActBytes = 34;  // q8_0: fp16 d + 32 int8
  strict_gemv<kQK, kBlockBytes, kActBytes>(w, act, r0, r1, y, [&](const uint8_t* blk, const uint8_t* xb) {
    float t = 0.0f;
    for (int k = 0; k < kQK / 32; ++k) {
      const uint8_t* xk = xb + k * kActBytes;
      const int8_t* xq = reinterpret_cast<const int8_t*>(xk + 2);
      int32_t sumi = 0;
      for (int j = 0; j < 32; ++j) sumi += level(blk, 32 * k + j) * xq[j];
      t += fp16_to_f32(load_u16(xk)) * static_cast<float>(sumi);
    }
    return fp16_to_f32(load_u16(blk)) * t;
  });
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

// The registry entry of q4_1 and q5_1 (spec 3.2, 3.4, 4.2): blocks of fp16 d, fp16 m (bytes 0-3)
// and 32 unsigned codes that kCodes(block, q) reads; decoded as (float)q*d + m (scaled_plus_min);
// upstream's ggml_vec_dot_q4_1_q8_1 / q5_1 term (dx*dy)*(float)sumi + mx*sy, sumi the exact sum
// of q*qy, added to sumf in block order; kEncodeBlock is one block of quantize_row_<type>_ref.
template <int64_t kBlockBytes, void (*kCodes)(const uint8_t* block, int q[32]),
          void (*kEncodeBlock)(const float* x, uint8_t* out)>
Format q8_1_paired_format(Format f) {
  f.activation = &q8_1_activation();
  f.fp16_scale_offsets = {0, 2};  // d and m
  f.dequant_ref = [](const qb_weight* w, int64_t r0, int64_t r1, float* out) {
    dequant_blocks<32, kBlockBytes>(w, r0, r1, out, [](const uint8_t* blk, float* y) {
      const float d = fp16_to_f32(load_u16(blk)), m = fp16_to_f32(load_u16(blk + 2));
      int q[32];
      kCodes(blk, q);
      for (int j = 0; j < 32; ++j) y[j] = scaled_plus_min(static_cast<float>(q[j]), d, m);
    });
  };
  f.gemv_ref = [](const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
    strict_gemv<32, kBlockBytes, 36>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
      int q[32];
      kCodes(blk, q);
      const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 4);
      int32_t sumi = 0;
      for (int j = 0; j < 32; ++j) sumi += q[j] * xq[j];
      const float dx = fp16_to_f32(load_u16(blk)), mx = fp16_to_f32(load_u16(blk + 2));
      const float dy = fp16_to_f32(load_u16(xb)), sy = fp16_to_f32(load_u16(xb + 2));
      return (dx * dy) * static_cast<float>(sumi) + mx * sy;
    });
  };
  f.encode_ref = encode_blocks<32, kBlockBytes, kEncodeBlock>;
  f.exact_gemv_case = legacy_exact_case<ExactScales::fp16_d_m>;
  f.gemv_rounding_depth = q8_1_paired_rounding_depth;
  f.gemv_bounds = [](const QWeight& w, const uint8_t* act, int64_t m) {
    return q8_1_paired_terms<kBlockBytes>(w, act, m, false, kCodes);
  };
  f.gemv_rms_terms = [](const QWeight& w, const uint8_t* act, int64_t m) {
    return q8_1_paired_terms<kBlockBytes>(w, act, m, true, kCodes);
  };
  return f;
}

}  // namespace qb::ggml

// What the 256-element iq types paired with q8_K share (specs/ggml.md 3.22-3.29, 4.2): the
// scalar vec_dot loop, the decoder and dot of the grid types read as 8-element groups, and the
// GEMV rounding depth.
#pragma once
#include <cstdint>

#include "harness/registry.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/q8_K_exact_case.h"

namespace qb::ggml {

// Upstream's decode `v * (sign ? -1.f : 1.f)` of iq2_* and iq3_* (specs/ggml.md 3.23-3.27) as its
// build runs it: GCC folds the multiplication by -1 into a sign-bit flip at -O1 and above (upstream
// is built Release, spec section 0), which flips a NaN's sign too (IEEE 754 leaves the sign of a NaN
// product unspecified, so both are conforming). IEEE negation states that flip, so the result does
// not rest on this build's folding; gguf-py's numpy multiply keeps the sign (tests/gguf_oracle.py).
inline float apply_sign(float v, bool negative) { return negative ? -v : v; }

// Upstream's scalar vec_dot for a 256-element type paired with q8_K (specs/ggml.md 4.2): sumf
// starts at 0, `block(weight_block, act_block, sumf)` adds the block's fp32 term(s) to it exactly
// as upstream rounds them, and the result is final_factor * sumf (0.125f for iq2_*, 0.25f for
// iq3_xxs, 1.0f where upstream applies none: multiplying by 1 changes no bits).
template <int64_t kBlockBytes, typename Block>
void q8_K_paired_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y,
                      float final_factor, Block block) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, kBlockBytes);
    float sumf = 0.0f;
    for (int64_t b = 0; b < nb; ++b) block(blk + b * kBlockBytes, act + b * sizeof(BlockQ8_K), sumf);
    y[r] = final_factor * sumf;
  }
}

// One 8-element group of a grid type (iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s; spec 3.23-3.27):
// the magnitudes its grid entries give, its sign bits (bit j set: element j negative) and the
// 4-bit scale s of the scale group holding it.
struct IqGroup {
  int mag[8];
  uint8_t signs;
  int s;
};

// dequantize_row_<type> of a grid type over rows [r0, r1): element j of 8-group l of 32-group ib
// is db * (float)mag[j] with its sign applied (apply_sign), db = kGroupScale(d, s) rounded as the
// type's spec section says; kGroup(block, ib, l) reads the group.
template <int64_t kBlockBytes, IqGroup (*kGroup)(const uint8_t* block, int ib, int l),
          float (*kGroupScale)(float d, int s)>
void iq_grid_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_blocks<kQK_K, kBlockBytes>(w, r0, r1, out, [](const uint8_t* blk, float* y) {
    const float d = fp16_to_f32(load_u16(blk));
    for (int ib = 0; ib < kQK_K / 32; ++ib)
      for (int l = 0; l < 4; ++l, y += 8) {
        const IqGroup g = kGroup(blk, ib, l);
        const float db = kGroupScale(d, g.s);
        for (int j = 0; j < 8; ++j) y[j] = apply_sign(db * static_cast<float>(g.mag[j]), g.signs >> j & 1);
      }
  });
}

// Upstream's ggml_vec_dot_<type>_q8_K of a grid type: bsum = sum over groups of (2s+1) * (exact
// signed mag*q8 sum), an exact int32 however upstream groups it (|bsum| < 256*62*127*31 < 2^31);
// sumf += (d_w*d_x)*(float)bsum per block; the result is final_factor * sumf (q8_K_paired_gemv).
template <int64_t kBlockBytes, IqGroup (*kGroup)(const uint8_t* block, int ib, int l)>
void iq_grid_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, float final_factor) {
  q8_K_paired_gemv<kBlockBytes>(w, act, r0, r1, y, final_factor, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const int8_t* q8 = q8_K_qs(ab);
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib)
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const IqGroup g = kGroup(blk, ib, l);
        int32_t sumi = 0;
        for (int j = 0; j < 8; ++j) sumi += g.mag[j] * q8[j] * (g.signs >> j & 1 ? -1 : 1);
        bsum += (2 * g.s + 1) * sumi;
      }
    sumf += (fp16_to_f32(load_u16(blk)) * q8_K_d(ab)) * static_cast<float>(bsum);
  });
}

// q8_K_exact_case's view of a grid type's block: element j of 8-group l of 32-group ib is
// (2s+1) * sign * mag_j in units of d/8 (iq2_*), d/4 (iq3_xxs) or d (iq3_s); kernels put the sign
// on the magnitude or on the code, no offset, so every piece is at most (2s+1) * mag_j * |x8|.
template <IqGroup (*kGroup)(const uint8_t* block, int ib, int l)>
void iq_grid_exact_terms(const uint8_t* block, ExactTerms& t) {
  for (int ib = 0; ib < kQK_K / 32; ++ib)
    for (int l = 0; l < 4; ++l) {
      const IqGroup g = kGroup(block, ib, l);
      for (int j = 0; j < 8; ++j) {
        t.scaled[32 * ib + 8 * l + j] = static_cast<int64_t>(2 * g.s + 1) * g.mag[j];
        t.min[32 * ib + 8 * l + j] = 0;
      }
    }
}

// Roundings on one product's path in a q8_K-paired iq GEMV, for any correct evaluation order.
// A term is the exact integer sum of a scale group (16 elements at the finest, iq2_xs/iq2_s)
// times d_w, d_x and the group's integer scale: at most 4 roundings (d_w*d_x, the scale multiply,
// the conversion of an integer sum that may pass 2^24 (iq2: 256*43*127*31), the product with it).
// Terms are added one per scale group at most, cols/16 additions in a sequential sum, and SIMD
// kernels reduce up to 64 lanes by a tree (<= 6 more). The final 0.125f/0.25f factors are powers
// of two: exact, except in the subnormal range, which the bound's absolute term covers.
inline int64_t iq_q8_K_rounding_depth(int64_t cols) { return cols / 16 + 4 + 6; }

// iq1_s and iq1_m: each element is dl*(g + delta) with g in {-1, 0, 1}, delta = +-0.125, but the
// dot keeps the grid part (sum ls*g*q8) and the delta part (0.125 * sum ls*delta*q8, from bsums
// or from the codes) as two integer sums, rounds each, and adds them. Every rounding there is
// relative to |g| + 0.125 instead of |g + delta|, at most 1.125/0.875 = 9/7 times larger (g = 1,
// delta = -0.125); an evaluation that carries the two parts in separate fp32 accumulators to
// the end (a natural SIMD layout) has the same 9/7 factor on every rounding.
// gamma_(2n) >= 2 gamma_n > (9/7) gamma_n, so counting each rounding twice covers it; for the
// probabilistic model (sigma ~ sqrt(n)), the parts' squares g^2 + delta^2 are at most
// 1.33 (g + delta)^2, under the factor 2 as well.
inline int64_t iq1_rounding_depth(int64_t cols) { return 2 * iq_q8_K_rounding_depth(cols); }

}  // namespace qb::ggml

// What tq1_0 and tq2_0 share (specs/ggml.md 3.18, 3.19, 4.2): 256-element blocks of codes c in
// 0..3 and one fp16 d, element e decoding to (float)(c_e - 1) * d, and upstream's vec_dot against
// q8_K with an exact integer sum of (c_e - 1) * x8_e per block.
#pragma once
#include <cstdint>

#include "harness/qb_plugin.h"
#include "harness/registry.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/q8_K_exact_case.h"

namespace qb::ggml {

// dequantize_row_tq{1,2}_0 over rows [r0, r1): kCodes(block, c) writes the block's 256 codes in
// element order; d is the fp16 at byte kDOffset; y = (float)(c - 1) * d, one rounding.
template <int64_t kBlockBytes, int64_t kDOffset, void (*kCodes)(const uint8_t* block, int c[kQK_K])>
void ternary_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_blocks<kQK_K, kBlockBytes>(w, r0, r1, out, [](const uint8_t* blk, float* y) {
    int c[kQK_K];
    kCodes(blk, c);
    const float d = fp16_to_f32(load_u16(blk + kDOffset));
    for (int e = 0; e < kQK_K; ++e) y[e] = static_cast<float>(c[e] - 1) * d;
  });
}

// The operand order of the block scale in upstream's vec_dot, kept because it decides which NaN
// payload survives when both scales are NaN: d_w*d_x (tq1_0) or d_x*d_w (tq2_0).
enum class TernaryScaleOrder { weight_first, act_first };

// Upstream's ggml_vec_dot_tq{1,2}_0_q8_K: per block sum = sum (c_e - 1) * x8_e exactly, then
// sumf += (float)sum * (the two scales in kOrder), in block order.
template <int64_t kBlockBytes, int64_t kDOffset, void (*kCodes)(const uint8_t* block, int c[kQK_K]),
          TernaryScaleOrder kOrder>
void ternary_gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  const int64_t nb = w->cols / kQK_K;
  int c[kQK_K];
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, kBlockBytes);
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; ++i, blk += kBlockBytes) {
      const uint8_t* xb = act + i * sizeof(BlockQ8_K);
      const int8_t* x8 = q8_K_qs(xb);
      kCodes(blk, c);
      int32_t sum = 0;
      for (int e = 0; e < kQK_K; ++e) sum += (c[e] - 1) * x8[e];
      const float dw = fp16_to_f32(load_u16(blk + kDOffset)), dx = q8_K_d(xb);
      sumf += static_cast<float>(sum) * (kOrder == TernaryScaleOrder::weight_first ? dw * dx : dx * dw);
    }
    y[r] = sumf;
  }
}

// The block sum is exact in int32; (float)sum * (d*yd) is 2 roundings (spec 4.2) and the
// strict order adds one term per block (nb). A SIMD kernel that keeps per-lane float partial
// sums and fuses the product into its accumulation needs no more on a term's path, plus a tree
// over up to 64 lanes (6). The bound (kquant_gemv_bounds over ternary_unpack) sums the stored
// fields exactly in fp64, so no rounding of decoded values needs covering.
inline int64_t ternary_rounding_depth(int64_t cols) { return cols / kQK_K + 2 + 6; }

// A ternary block as a k-quant block (KBlock): level c_e - 1 under d, scale 1, no min, stored
// level c_e = (c_e - 1) + level_bias 1. Kernels multiply the stored code and take x8 (or its
// bsum) off once, or the signed level: the k-quants' bound and exact case cover both (why: in
// kquant_common.cpp).
template <int64_t kDOffset, void (*kCodes)(const uint8_t* block, int c[kQK_K])>
void ternary_unpack(const uint8_t* block, KBlock& k) {
  int c[kQK_K];
  kCodes(block, c);
  k.d = fp16_to_f32(load_u16(block + kDOffset));
  k.dmin = 0;
  for (int e = 0; e < kQK_K; ++e) k.q[e] = c[e] - 1;
  for (int g = 0; g < kQK_K / 16; ++g) {
    k.scale[g] = 1;
    k.min[g] = 0;
  }
  k.level_bias = 1;
}

// The registry entry of tq1_0 / tq2_0: q8_K activation, the fp16 d at byte kDOffset, the decoder
// and dot above over kCodes, kEncodeBlock (one block of quantize_row_tq{1,2}_0_ref), the exact
// GEMV case.
template <typename Block, int64_t kDOffset, void (*kCodes)(const uint8_t* block, int c[kQK_K]),
          void (*kEncodeBlock)(const float* x, Block& y), TernaryScaleOrder kOrder>
Format ternary_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {kDOffset};
  f.dequant_ref = ternary_dequant<sizeof(Block), kDOffset, kCodes>;
  f.gemv_ref = ternary_gemv<sizeof(Block), kDOffset, kCodes, kOrder>;
  f.encode_ref = encode_blocks<kQK_K, sizeof(Block), encode_into_bytes<Block, kEncodeBlock>>;
  f.gemv_rounding_depth = ternary_rounding_depth;
  constexpr KUnpack kUnpack = ternary_unpack<kDOffset, kCodes>;
  f.gemv_bounds = [](const QWeight& w, const uint8_t* act, int64_t m) {
    return kquant_gemv_bounds(w, act, m, kUnpack, sizeof(Block), ternary_rounding_depth);
  };
  f.gemv_rms_terms = [](const QWeight& w, const uint8_t* act, int64_t m) {
    return kquant_gemv_rms_terms(w, act, m, kUnpack, sizeof(Block));
  };
  f.exact_gemv_case = q8_K_exact_case<kquant_exact_terms<kUnpack>>;
  return f;
}

}  // namespace qb::ggml

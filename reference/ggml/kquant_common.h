// What the five k-quants (q2_K, q3_K, q4_K, q5_K, q6_K; specs/ggml.md 3.11-3.16) share: the
// scale packings, upstream's iterative level searches (quantize_row_*_ref), and the decoder, the
// strict-order q8_K GEMV and the GEMV bound, written once over a block unpacked to integers, and
// the registry entry made of them.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "harness/qweight.h"
#include "harness/registry.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/q8_K_exact_case.h"

namespace qb::ggml {

// ---- Scale packings (spec 3.11) ----

// q4_K/q5_K: the 6-bit scale `sc` and min `m` of 32-element sub-block j (0..7) from scales[12].
// Inline: the x86 kernels (and the mutant plugins built from their sources alone) use it too.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {  // low four bits beside the other sub-block's, top two bits above sub-block j-4's
    sc = static_cast<uint8_t>((q[j + 4] & 15) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}
// The inverse for all eight sub-blocks at once (ls, lm < 64); writes every byte of q[12].
void pack_scale_min_k4(const uint8_t ls[8], const uint8_t lm[8], uint8_t* q);
// q3_K: the signed scale (-32..31) of 16-element sub-block i (0..15) from scales[12]. Inline
// for the same reason.
inline int q3_K_scale(int i, const uint8_t* s) {
  const int low4 = i < 8 ? s[i] & 15 : s[i - 8] >> 4;
  const int high2 = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low4 | (high2 << 4)) - 32;
}

// ---- Level searches of the reference quantizers (spec 3.11), upstream's fp32 order ----

// make_qx_quants with rmse_type 1 and no imatrix (weights x^2), as quantize_row_q6_K_ref calls
// it: returns the sub-block's scale and writes L[i] = level + nmax (0..2*nmax-1). A group with
// max |x| < 1e-15 gets L = 0 and scale 0.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L);
// make_q3_quants with do_rmse (quantize_row_q3_K_ref): levels from -nmax/max, then up to five
// sweeps of coordinate descent; returns the scale, L[i] = level + nmax.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);
// make_qkx2_quants (q2_K, q4_K, q5_K): scale and min (levels 0..nmax, L) minimising the weighted
// error (|.| with use_mad, else squared) over nstep+1 trial inverse scales; n <= 32. Returns the
// scale and stores -min in *the_min (the min is never positive, so this is >= 0 or -0).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, float rmin,
                       float rdelta, int nstep, bool use_mad);

// quantize_row_q3_K_ref and quantize_row_q6_K_ref: of the 16 sub-block scales, the one of
// largest magnitude, signed (the first wins ties, a NaN never wins; 0 when all are 0).
float largest_magnitude_scale(const float scales[16]);
// Their levels again under the stored scales (pitfall 7.5): dg[j] is 16-group j's fp32 scale
// (the fp16 super-scale times its stored integer scale); L = clamp(nearest_int(x / dg[j]),
// -nmax, nmax - 1) + nmax, and a group whose dg[j] is 0 keeps the search's levels.
void requantize_signed_levels(const float* x, const float dg[16], int nmax, int8_t* L);

// The part of quantize_row_q4_K_ref and quantize_row_q5_K_ref before the bit packing (spec
// 3.14, 3.15): per 32-element sub-block make_qkx2_quants(32, nmax, weights sqrt(mean x^2) + |x|,
// rmin, 0.1, nstep, squared error); 6-bit scales and mins over d = fp16(max_scale/63), dmin =
// fp16(max_min/63) packed into scales[12]; then every level again under the fp16 super-scales
// (pitfall 7.5), L[e] in 0..nmax (a sub-block whose scale rounds to 0 keeps the search's levels).
void quantize_k4_sub_blocks(const float* x, int nmax, float rmin, int nstep, uint16_t& d, uint16_t& dmin,
                            uint8_t* scales, uint8_t* L);

// ---- One 256-element block as its decoder and its q8_K dot see it ----

// Every k-quant decodes element e of a block as y = (d*scale)*q, minus dmin*min for the formats
// with mins, where scale and min are small integers per 16-element group (a 32-element
// sub-block's pair covers two groups).
struct KBlock {
  float d = 0;     // fp16 super-scale, widened
  float dmin = 0;  // fp16 super-scale of the mins (formats with mins)
  int q[kQK_K];    // level of each element, signed as the format decodes it
  int scale[kQK_K / 16];
  int min[kQK_K / 16];  // 0 for q3_K and q6_K
  // The stored level is q + level_bias, unsigned (q3_K 4, q6_K 32; 0 where q is stored as is):
  // the form kernels multiply, taking level_bias * scale * bsum off (q8_K_exact_case).
  int level_bias = 0;
};
// q4_K/q5_K: KBlock's scale and min of every 16-element group from scales[12]; 32-element
// sub-block j's pair covers groups 2j and 2j+1.
inline void unpack_scale_min_k4(const uint8_t* scales, KBlock& k) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, sc, m);
    k.scale[2 * j] = k.scale[2 * j + 1] = sc;
    k.min[2 * j] = k.min[2 * j + 1] = m;
  }
}
// Reads one stored block (unaligned bytes) into a KBlock.
using KUnpack = void (*)(const uint8_t* block, KBlock& k);

// dequantize_row_<type> over rows [r0, r1): y = d*(float)scale, then *(float)q, then (with mins)
// minus dmin*(float)min: two or three fp32 roundings in that order (spec 3.12-3.16, pitfall 7.12).
void kquant_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out, KUnpack unpack, int64_t block_bytes,
                    bool with_min);

// Upstream's strict scalar vec_dot against q8_K (spec 4.2), one vector, rows [r0, r1):
// q2_K: per block, isum = sum scale*q*x8 (exact), summs = sum bsums*min (exact);
//       sumf += (yd*d)*(float)isum - (yd*dmin)*(float)summs.
void q2_K_order_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, KUnpack unpack,
                     int64_t block_bytes);
// q3_K, q4_K, q5_K, q6_K: eight int32 lanes per block (lane = element index mod 8) take
// scale*q*x8; eight fp32 lanes persist over the blocks, sums[l] += (d*yd)*(float)aux32[l]; with
// mins, sumf -= (dmin*yd)*(float)summs per block; at the end sumf += sums[l] for l = 0..7.
void lane_order_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, KUnpack unpack,
                     int64_t block_bytes, bool with_min);

// Longest chain of fp32 roundings on one product's path in any correct k-quant GEMV (why: in
// kquant_common.cpp).
int64_t kquant_rounding_depth(int64_t cols);

// Format::gemv_bounds and gemv_rms_terms of the k-quants (and of the ternary types, as KBlocks):
// the generic 2*gamma_n*sum|w*x|, n = depth(cols), with |w_i| replaced by
// |d*scale|*(|q_i| + level_bias) + |dmin*min_i|, from the block fields in fp64 (why: in
// kquant_common.cpp). [m][rows].
std::vector<double> kquant_gemv_bounds(const QWeight& w, const uint8_t* act, int64_t m, KUnpack unpack,
                                       int64_t block_bytes, int64_t (*depth)(int64_t cols) = kquant_rounding_depth);
std::vector<double> kquant_gemv_rms_terms(const QWeight& w, const uint8_t* act, int64_t m, KUnpack unpack,
                                          int64_t block_bytes);

// q8_K_exact_case's view of a k-quant block: element e's pieces are scale*(q + level_bias)*x8
// and level_bias*scale*x8 (through bsums) or scale*q*x8, so every subset of them is at most
// |scale|*(|q| + level_bias)*|x8| (a q5_K kernel may split q into its low bits and 16*high
// bit: both under |q|); the min part dmin*min*x8 (per element or through bsums), |min|*|x8|.
template <void (*kUnpack)(const uint8_t* block, KBlock& k)>
void kquant_exact_terms(const uint8_t* block, ExactTerms& t) {
  KBlock k;
  kUnpack(block, k);
  for (int e = 0; e < kQK_K; ++e) {
    const int sc = k.scale[e / 16], q = k.q[e], m = k.min[e / 16];
    t.scaled[e] = static_cast<int64_t>(sc < 0 ? -sc : sc) * ((q < 0 ? -q : q) + k.level_bias);
    t.min[e] = m < 0 ? -m : m;
  }
}

// ---- A k-quant's registry hooks from its block unpacking and block encoder ----

// Which strict q8_K order the type's upstream vec_dot follows (q2_K_order_gemv, lane_order_gemv).
enum class KDotOrder { q2_K, lanes };

// Fills a k-quant's catalog entry (spec 3.11-3.16, 4.2): q8_K activation, the fp16 fields at
// fp16_scale_offsets, kquant_dequant and the kDot GEMV over kUnpack (kWithMin: the type stores
// mins), the encoder kEncodeBlock (quantize_row_<type>_ref, one block), the k-quant bounds and
// the exact-by-construction GEMV case (d at fp16_scale_offsets[0], dmin at [1]).
template <typename Block, void (*kUnpack)(const uint8_t* block, KBlock& k),
          void (*kEncodeBlock)(const float* x, Block& y), bool kWithMin, KDotOrder kDot>
Format kquant_format(Format f, std::vector<int64_t> fp16_scale_offsets) {
  constexpr int64_t kBytes = sizeof(Block);
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = std::move(fp16_scale_offsets);
  f.dequant_ref = [](const qb_weight* w, int64_t r0, int64_t r1, float* out) {
    kquant_dequant(w, r0, r1, out, kUnpack, kBytes, kWithMin);
  };
  f.gemv_ref = [](const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
    if constexpr (kDot == KDotOrder::q2_K)
      q2_K_order_gemv(w, act, r0, r1, y, kUnpack, kBytes);
    else
      lane_order_gemv(w, act, r0, r1, y, kUnpack, kBytes, kWithMin);
  };
  f.encode_ref = encode_blocks<kQK_K, kBytes, encode_into_bytes<Block, kEncodeBlock>>;
  f.gemv_rounding_depth = kquant_rounding_depth;
  f.gemv_bounds = [](const QWeight& w, const uint8_t* act, int64_t m) {
    return kquant_gemv_bounds(w, act, m, kUnpack, kBytes);
  };
  f.gemv_rms_terms = [](const QWeight& w, const uint8_t* act, int64_t m) {
    return kquant_gemv_rms_terms(w, act, m, kUnpack, kBytes);
  };
  f.exact_gemv_case = q8_K_exact_case<kquant_exact_terms<kUnpack>>;
  return f;
}

}  // namespace qb::ggml

// Shared k-quant pieces (specs/ggml.md 3.11, 4.2). Compiled with -ffp-contract=off; every fp32
// expression is written in upstream's evaluation order, int-to-float conversions explicit.
#include "reference/ggml/kquant_common.h"

#include <cmath>
#include <cstring>

#include "harness/check.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/nearest_int.h"

namespace qb::ggml {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // upstream GROUP_MAX_EPS: below it a group counts as all zero

int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

float as_float(int v) { return static_cast<float>(v); }

// The signed extreme of x (the first of largest magnitude) and its magnitude.
void signed_extreme(int n, const float* x, float& max, float& amax) {
  max = 0.0f;
  amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
}

}  // namespace

void pack_scale_min_k4(const uint8_t ls[8], const uint8_t lm[8], uint8_t* q) {
  for (int j = 0; j < 4; ++j) {  // low six bits of sub-blocks 0-3; their top two bits carry 4-7's high bits
    q[j] = ls[j];
    q[j + 4] = lm[j];
  }
  for (int j = 4; j < 8; ++j) {
    q[j + 4] = static_cast<uint8_t>((ls[j] & 15) | ((lm[j] & 15) << 4));
    q[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
    q[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
  }
}

float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max, amax;
  signed_extreme(n, x, max, amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  // Levels for one trial inverse scale, with the weighted sums sum w*x*l and sum w*l^2 (w = x^2).
  auto trial = [&](float iscale, int8_t* levels, float& sumlx, float& suml2) {
    sumlx = 0.0f;
    suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      if (levels) levels[i] = static_cast<int8_t>(l + nmax);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * as_float(l);
      suml2 += w * as_float(l) * as_float(l);
    }
  };
  float sumlx, suml2;
  trial(as_float(-nmax) / max, L, sumlx, suml2);
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float iscale = -(as_float(nmax) + 0.1f * as_float(is)) / max;
    trial(iscale, nullptr, sumlx, suml2);
    // Maximising sumlx^2/suml2 (the error's reduction), compared without dividing.
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      trial(iscale, L, sumlx, suml2);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max, amax;
  signed_extreme(n, x, max, amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = as_float(-nmax) / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * as_float(l);
    suml2 += w * as_float(l) * as_float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      // The best level of element i with the others fixed, kept if it raises sumlx^2/suml2.
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * as_float(L[i]);
      if (slx > 0.0f) {
        float sl2 = suml2 - w * as_float(L[i]) * as_float(L[i]);
        const int new_l = clamp_int(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l != L[i]) {
          slx += w * x[i] * as_float(new_l);
          sl2 += w * as_float(new_l) * as_float(new_l);
          if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, float rmin,
                       float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0.0f) min = 0.0f;  // the min is subtracted: it is never positive
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.0f;
  }
  // Weighted error of levels `lv` under (scale, min).
  auto error = [&](float scale, float mn, const uint8_t* lv) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      float diff = scale * as_float(lv[i]) + mn - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      err += weights[i] * diff;
    }
    return err;
  };
  float iscale = as_float(nmax) / (max - min);
  float scale = 1.0f / iscale;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax));
  float best_error = error(scale, min, L);
  uint8_t Laux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * as_float(is) + as_float(nmax)) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * as_float(l);
      sum_l2 += w * as_float(l) * as_float(l);
      sum_xl += w * as_float(l) * x[i];
    }
    // Weighted least squares for (scale, min) given these levels; a positive min is refused and
    // the scale refitted through the origin.
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0.0f) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0.0f) {
        this_min = 0.0f;
        this_scale = sum_xl / sum_l2;
      }
      const float cur_error = error(this_scale, this_min, Laux);
      if (cur_error < best_error) {
        std::memcpy(L, Laux, static_cast<std::size_t>(n));
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

void quantize_k4_sub_blocks(const float* x, int nmax, float rmin, int nstep, uint16_t& d, uint16_t& dmin,
                            uint8_t* scales, uint8_t* L) {
  float weights[32], sub_scales[8], sub_mins[8];
  float max_scale = 0.0f, max_min = 0.0f;  // the min is subtracted, so scales are never negative
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    sub_scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &sub_mins[j], rmin, 0.1f, nstep, false);
    if (sub_scales[j] > max_scale) max_scale = sub_scales[j];
    if (sub_mins[j] > max_min) max_min = sub_mins[j];
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    // Upstream stores nearest_int's result into a uint8_t (modulo 256) before the cap at 63.
    const uint8_t s = static_cast<uint8_t>(nearest_int(inv_scale * sub_scales[j]));
    const uint8_t m = static_cast<uint8_t>(nearest_int(inv_min * sub_mins[j]));
    ls[j] = s < 63 ? s : 63;
    lm[j] = m < 63 ? m : 63;
  }
  pack_scale_min_k4(ls, lm, scales);
  d = f32_to_fp16(max_scale / 63.0f);
  dmin = f32_to_fp16(max_min / 63.0f);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, sc, m);
    const float dl = fp16_to_f32(d) * as_float(sc);
    if (dl == 0.0f) continue;
    const float dm = fp16_to_f32(dmin) * as_float(m);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<uint8_t>(clamp_int(nearest_int((x[32 * j + i] + dm) / dl), 0, nmax));
  }
}

void kquant_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out, KUnpack unpack, int64_t block_bytes,
                    bool with_min) {
  const int64_t nb = w->cols / kQK_K;
  KBlock k;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, block_bytes);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += block_bytes, y += kQK_K) {
      unpack(blk, k);
      for (int e = 0; e < kQK_K; ++e) {
        const float dl = k.d * as_float(k.scale[e / 16]);
        y[e] = with_min ? dl * as_float(k.q[e]) - k.dmin * as_float(k.min[e / 16]) : dl * as_float(k.q[e]);
      }
    }
  }
}

namespace {

// The exact integer sum of the min terms of one block: sum over 16-element groups of
// bsums[j]*min[j].
int32_t min_sum(const KBlock& k, const uint8_t* xb) {
  int32_t summs = 0;
  for (int j = 0; j < kQK_K / 16; ++j) summs += q8_K_bsum(xb, j) * k.min[j];
  return summs;
}

}  // namespace

void q2_K_order_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, KUnpack unpack,
                     int64_t block_bytes) {
  const int64_t nb = w->cols / kQK_K;
  KBlock k;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, block_bytes);
    float sumf = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* xb = act + b * sizeof(BlockQ8_K);
      unpack(blk + b * block_bytes, k);
      const int8_t* x8 = q8_K_qs(xb);
      int32_t isum = 0;
      for (int e = 0; e < kQK_K; ++e) isum += k.scale[e / 16] * (k.q[e] * x8[e]);
      const float yd = q8_K_d(xb);
      const float dall = yd * k.d;
      const float dmin = yd * k.dmin;
      sumf += dall * as_float(isum) - dmin * as_float(min_sum(k, xb));
    }
    y[r] = sumf;
  }
}

void lane_order_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, KUnpack unpack,
                     int64_t block_bytes, bool with_min) {
  const int64_t nb = w->cols / kQK_K;
  KBlock k;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, block_bytes);
    float sums[8] = {};
    float sumf = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* xb = act + b * sizeof(BlockQ8_K);
      unpack(blk + b * block_bytes, k);
      const int8_t* x8 = q8_K_qs(xb);
      int32_t aux32[8] = {};
      for (int e = 0; e < kQK_K; ++e) aux32[e % 8] += k.scale[e / 16] * (k.q[e] * x8[e]);
      const float d = k.d * q8_K_d(xb);
      for (int l = 0; l < 8; ++l) sums[l] += d * as_float(aux32[l]);
      if (with_min) {
        const float dmin = k.dmin * q8_K_d(xb);
        sumf -= dmin * as_float(min_sum(k, xb));
      }
    }
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    y[r] = sumf;
  }
}

// With the integer sums exact, every correct evaluation is a sum of the terms
// d*yd*scale*q_i*x8_i and dmin*yd*min_g*x8_i (a group's bsum is the exact sum of its x8), each
// term passing through at most: 3 product roundings (d*yd; a float multiply by the sub-block
// scale, where a SIMD kernel scales in float; the product with the integer sum), 1 where a
// block's min term is combined with its scale term, nb additions in the chain over blocks
// (per lane), and 16 additions combining per-block or per-lane partial sums (upstream's
// strict order adds its eight lanes one by one at the end, 8; a SIMD kernel may add its 16
// sub-block terms by a tree, 4, and its up to 64 lanes by a tree, 6). n = nb + 20 covers all.
int64_t kquant_rounding_depth(int64_t cols) { return cols / kQK_K + 3 + 1 + 16; }

namespace {

// Per output row of each vector, sum over elements of
// (|d*scale|*(|q_i| + level_bias) + |dmin*min_i|) * |yd*x8_i| (power = 1) or its squares
// (power = 2), exact in fp64 from the block and activation fields.
std::vector<double> term_sums(const QWeight& w, const uint8_t* act, int64_t m, KUnpack unpack, int64_t block_bytes,
                              int power) {
  const int64_t nb = w.cols / kQK_K;
  const uint8_t* blocks = w.tensors.at(0).data;
  const std::size_t stride = static_cast<std::size_t>(nb) * sizeof(BlockQ8_K);
  std::vector<double> out(static_cast<std::size_t>(m * w.rows), 0.0);
  KBlock k;
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      unpack(blocks + (r * nb + b) * block_bytes, k);
      for (int64_t i = 0; i < m; ++i) {
        const uint8_t* xb = act + i * stride + b * sizeof(BlockQ8_K);
        const double yd = q8_K_d(xb);
        const int8_t* x8 = q8_K_qs(xb);
        double s = 0;
        for (int e = 0; e < kQK_K; ++e) {
          const double mag = std::fabs(static_cast<double>(k.d) * k.scale[e / 16]) * (std::abs(k.q[e]) + k.level_bias) +
                             std::fabs(static_cast<double>(k.dmin) * k.min[e / 16]);
          const double t = mag * std::fabs(yd * x8[e]);
          s += power == 1 ? t : t * t;
        }
        out[static_cast<std::size_t>(i * w.rows + r)] += s;
      }
    }
  return out;
}

}  // namespace

// The generic bound (harness/check.h) sums |w_i*x_i| of the decoded w_i = d*scale*q_i - dmin*min_i.
// The GEMV never forms w_i: it rounds the scale terms and the min terms separately (spec 4.2),
// so where they nearly cancel in w_i their rounding errors are still those of |d*scale*q_i| and
// |dmin*min_i|. Likewise a kernel may multiply the stored level q_i + level_bias (unsigned, what
// vpmaddubsw and vpdpbusd take) and take level_bias*scale*x8 off through the bsums, and those two
// pieces land in different int32 lanes: each lane's integer is exact, but its float partial sums
// then carry |d*scale|*(|q_i| + level_bias)*|x_i|, however small w_i*x_i is (a block of level
// q = 0 with a large d beside tiny blocks shows it: its lanes are large and cancel only in the
// final tree). Each evaluation is within
// gamma_n * sum (|d*scale|*(|q_i| + level_bias) + |dmin*min_i|)*|x_i| of the exact value (Higham
// 3.1 over those pieces), the reference as well: twice that, plus the generic 2n*2^-149 for
// products in the subnormal range. Decoded values would also miss the rounding of yd*x8 in fp32
// (q8_K's d is fp32); these fields are exact in fp64. Non-finite scales give a non-finite bound,
// which harness/check.h compares as "must be non-finite".
std::vector<double> kquant_gemv_bounds(const QWeight& w, const uint8_t* act, int64_t m, KUnpack unpack,
                                       int64_t block_bytes, int64_t (*depth)(int64_t cols)) {
  const double n = static_cast<double>(depth(w.cols));
  std::vector<double> s = term_sums(w, act, m, unpack, block_bytes, 1);
  for (double& v : s) v = 2.0 * gamma32(n) * v + 2.0 * n * std::ldexp(1.0, -149);
  return s;
}

// T_r of the probabilistic model (harness/check.h gemv_sigmas): any partial sum a kernel rounds
// is sum_i c_i*x_i with |c_i| <= |d*scale|*(|q_i| + level_bias) + |dmin*min_i|, so its mean
// square under the harness's independent zero-mean x is at most the sum of those c_i^2 x_i^2.
std::vector<double> kquant_gemv_rms_terms(const QWeight& w, const uint8_t* act, int64_t m, KUnpack unpack,
                                          int64_t block_bytes) {
  std::vector<double> s = term_sums(w, act, m, unpack, block_bytes, 2);
  for (double& v : s) v = std::sqrt(v);
  return s;
}

float largest_magnitude_scale(const float scales[16]) {
  float max_scale = 0.0f, amax = 0.0f;
  for (int j = 0; j < 16; ++j) {
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      max_scale = scales[j];
    }
  }
  return max_scale;
}

void requantize_signed_levels(const float* x, const float dg[16], int nmax, int8_t* L) {
  for (int j = 0; j < 16; ++j) {
    if (dg[j] == 0.0f) continue;
    for (int i = 0; i < 16; ++i) {
      const int l = nearest_int(x[16 * j + i] / dg[j]);
      L[16 * j + i] = static_cast<int8_t>((l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l) + nmax);
    }
  }
}

}  // namespace qb::ggml

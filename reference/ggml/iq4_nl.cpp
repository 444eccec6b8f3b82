// iq4_nl golden reference (specs/ggml.md 3.20, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq4_nl.h"

#include <cmath>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb::ggml {

int iq4_nl_index(float x) {
  const int8_t* v = kvalues_iq4nl;
  if (x <= v[0]) return 0;
  if (x >= v[15]) return 15;
  // mu: the first level above x (15 when no comparison holds, i.e. for NaN).
  int mu = 1;
  while (mu < 15 && !(x < v[mu])) ++mu;
  return x - static_cast<float>(v[mu - 1]) < static_cast<float>(v[mu]) - x ? mu - 1 : mu;
}

float iq4_nl_group_scale(const float* x, int ntry, uint8_t* L) {
  const float lowest = static_cast<float>(kvalues_iq4nl[0]);  // -127
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK4_NL; ++j) {
    if (std::fabs(x[j]) > amax) {  // strict: the first extreme wins ties
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (amax < 1e-15f) return 0.0f;
  // Sums of w*q*x and w*q*q, w = x^2, for the levels nearest to id*x; rounded as upstream
  // accumulates them (((w*q)*x) added in element order).
  auto fit = [&](float id, uint8_t* idx, float& sumqx, float& sumq2) {
    sumqx = 0.0f;
    sumq2 = 0.0f;
    for (int j = 0; j < kQK4_NL; ++j) {
      const int l = iq4_nl_index(id * x[j]);
      if (idx) idx[j] = static_cast<uint8_t>(l);
      const float q = static_cast<float>(kvalues_iq4nl[l]);
      const float w = x[j] * x[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
  };
  const float d0 = ntry > 0 ? -max / lowest : max / lowest;
  float sumqx, sumq2;
  fit(1.0f / d0, L, sumqx, sumq2);
  float d = sumqx / sumq2;
  float best = d * sumqx;
  for (int itry = -ntry; itry <= ntry; ++itry) {
    fit(static_cast<float>(itry + kvalues_iq4nl[0]) / max, nullptr, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

namespace {

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK4_NL;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK4_NL, sizeof(BlockIQ4_NL));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ4_NL), y += kQK4_NL) {
      const float d = fp16_to_f32(load_u16(blk));
      const uint8_t* qs = blk + 2;
      for (int j = 0; j < kQK4_NL / 2; ++j) {
        y[j] = d * static_cast<float>(kvalues_iq4nl[qs[j] & 15]);
        y[j + 16] = d * static_cast<float>(kvalues_iq4nl[qs[j] >> 4]);
      }
    }
  }
}

// quantize_row_iq4_nl_ref: the group fit without the scale search (ntry = -1), d = fp16 of the
// fitted scale, the first pass's levels kept. Upstream's levels array lives across the groups of
// one call and is left unwritten for an all-zero group (max |x| < 1e-15, d = 0): its nibbles repeat
// the last written group's levels (all 75 such groups of the vectors' zero_blocks case do), and
// before any group is written they are whatever memory held (spec 3.20; the importer masks those
// bytes); here index 8 (level +1, what the ntry > 0 path writes), decoding to d * 1 = +0.
void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK4_NL;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb) * sizeof(BlockIQ4_NL)));
  uint8_t L[kQK4_NL];
  std::memset(L, 8, sizeof L);
  for (int64_t b = 0; b < nb; ++b) {
    const float d = iq4_nl_group_scale(src + b * kQK4_NL, -1, L);
    BlockIQ4_NL blk;
    blk.d = f32_to_fp16(d);
    for (int j = 0; j < kQK4_NL / 2; ++j) blk.qs[j] = static_cast<uint8_t>(L[j] | L[j + 16] << 4);
    std::memcpy(tensors[0].data() + b * sizeof(BlockIQ4_NL), &blk, sizeof blk);
  }
}

// Upstream ggml_vec_dot_iq4_nl_q8_0: exact integer sum of level*code, then (d_x*d_w)*(float)sum.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_0_paired_gemv<sizeof(BlockIQ4_NL)>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
    const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 2);
    int32_t sumi = 0;
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      sumi += kvalues_iq4nl[blk[2 + j] & 15] * xq[j];
      sumi += kvalues_iq4nl[blk[2 + j] >> 4] * xq[j + 16];
    }
    return (fp16_to_f32(load_u16(xb)) * fp16_to_f32(load_u16(blk))) * static_cast<float>(sumi);
  });
}

}  // namespace

Format iq4_nl_format(Format f) {
  f.activation = &q8_0_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode;
  // Terms are (d_x*d_w)*(float)sumi, |sumi| <= 32*127*128 < 2^24: two roundings, as q4_0's.
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;
  f.exact_gemv_case = q8_0_paired_exact_case;
  return f;
}

}  // namespace qb::ggml

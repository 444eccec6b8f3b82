// iq1_m golden reference (specs/ggml.md 3.29, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq1_m.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_lattice.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/nearest_int.h"
#include "reference/ggml/q8_K_exact_case.h"

namespace qb::ggml {

namespace {
constexpr int kQh = 32, kScales = 48;  // byte offsets in the block
constexpr float kDelta = 0.125f;        // IQ1M_DELTA

uint16_t scale_word(const uint8_t* blk, int k) { return load_u16(blk + kScales + 2 * k); }
}  // namespace

uint16_t iq1_m_scale_bits(const uint8_t* blk) {
  uint16_t u = 0;
  for (int k = 0; k < 4; ++k) u = static_cast<uint16_t>(u | (scale_word(blk, k) >> 12) << (4 * k));
  return u;
}

namespace {

// 8-group l (0..3) of 32-group ib: its qh nibble (index bits 8-10 in bits 0-2, shift sign in 3).
int group_nibble(const uint8_t* blk, int ib, int l) { return (blk[kQh + 2 * ib + l / 2] >> (4 * (l % 2))) & 15; }
uint64_t group_grid(const uint8_t* blk, int ib, int l) {
  return iq1s_grid[blk[4 * ib + l] | (group_nibble(blk, ib, l) & 7) << 8];
}
// Scale ls = 2t+1 of the 16-half h (8-groups 2h, 2h+1) of 32-group ib: t is 3 bits at
// 6(ib%2) + 3h of scale word ib/2.
int half_scale(const uint8_t* blk, int ib, int h) {
  return 2 * ((scale_word(blk, ib / 2) >> (6 * (ib % 2) + 3 * h)) & 7) + 1;
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, sizeof(BlockIQ1_M));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ1_M)) {
      const float d = fp16_to_f32(iq1_m_scale_bits(blk));
      for (int ib = 0; ib < kQK_K / 32; ++ib) {
        const float dl[2] = {d * static_cast<float>(half_scale(blk, ib, 0)),
                             d * static_cast<float>(half_scale(blk, ib, 1))};
        for (int l = 0; l < 4; ++l, y += 8) {
          const uint64_t g = group_grid(blk, ib, l);
          const float delta = group_nibble(blk, ib, l) & 8 ? -kDelta : kDelta;
          // g + delta is exact: |g| <= 1 and delta = +-2^-3.
          for (int j = 0; j < 8; ++j) y[j] = dl[l / 2] * (static_cast<float>(grid_i8(g, j)) + delta);
        }
      }
    }
  }
}

// Upstream ggml_vec_dot_iq1_m_q8_K: per block the exact integer sums
//   sumi1 = sum over 16-halves of ls * sum(grid*code)
//   sumi2 = sum over 16-halves of ls * sum over its 8-groups of (+-1) * sum(code)  (shift signs)
// then sumf += (d*d_x)*((float)sumi1 + 0.125f*(float)sumi2).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_K_paired_gemv<sizeof(BlockIQ1_M)>(w, act, r0, r1, y, 1.0f, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const int8_t* q8 = q8_K_qs(ab);
    int32_t sumi1 = 0, sumi2 = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const uint64_t g = group_grid(blk, ib, l);
        int32_t grid_sum = 0, code_sum = 0;
        for (int j = 0; j < 8; ++j) {
          grid_sum += grid_i8(g, j) * q8[j];
          code_sum += q8[j];
        }
        const int ls = half_scale(blk, ib, l / 2);
        sumi1 += ls * grid_sum;
        sumi2 += ls * (group_nibble(blk, ib, l) & 8 ? -1 : 1) * code_sum;
      }
    }
    sumf += (fp16_to_f32(iq1_m_scale_bits(blk)) * q8_K_d(ab)) *
            (static_cast<float>(sumi1) + kDelta * static_cast<float>(sumi2));
  });
}

constexpr float kPlus[3] = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr float kMinus[3] = {-1 - kDelta, -kDelta, 1 - kDelta};
// Shift pattern k of a 16-half: bit 1 = first 8-group shifted -0.125, bit 0 = second.
const float* shifted(int k, int group) { return ((group == 0 ? k >> 1 : k) & 1) ? kMinus : kPlus; }

// Upstream's iq1_m quantizer without an importance matrix (ggml_quantize_chunk; upstream has no
// reference quantizer), specs/ggml.md 3.29: per 16 elements, weights w = x^2; the elements
// sorted by value (stably, as glibc's merge sort orders equal values) and every split into
// three runs of levels -1, 0, 1 scored for the 4 shift patterns of the two 8-groups, sums taken
// in sorted order; a negative scale flips levels and shifts; off-grid 8-groups take their best
// neighbour and the scale is refitted. d = max_scale/15, 3-bit codes
// clamp(nearest_int((scale/d - 1)/2), 0, 7), then d refitted over the block with the codes and
// stored as fp16(d*1.1125) in the scale words' top nibbles. A 16-half with max |x| < 1e-7 gets
// index 0, code 0 and no shift bits.
void encode_block(const float* x, uint8_t* out) {
  const IqLattice& lattice = iq1s_lattice();
  BlockIQ1_M blk{};
  float scales[kQK_K / 16];
  int shifts[kQK_K / 16] = {};
  float max_scale = 0.0f;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float* xb = x + 16 * ib;
    float weight[16];
    for (int i = 0; i < 16; ++i) weight[i] = xb[i] * xb[i];
    float max = std::fabs(xb[0]);
    for (int i = 1; i < 16; ++i) max = max > std::fabs(xb[i]) ? max : std::fabs(xb[i]);
    if (max < 1e-7f) {
      scales[ib] = 0.0f;
      continue;
    }
    int order[16];
    for (int j = 0; j < 16; ++j) order[j] = j;
    std::stable_sort(order, order + 16, [&](int a, int b) { return xb[a] < xb[b]; });
    float best = -std::numeric_limits<float>::max(), scale = max;
    int best1 = -1, best2 = -1, best_k = -1;
    for (int i1 = 0; i1 <= 16; ++i1) {
      for (int i2 = i1; i2 <= 16; ++i2) {
        float sumqx[4] = {}, sumq2[4] = {};
        for (int j = 0; j < 16; ++j) {
          const int i = order[j], level = j < i1 ? 0 : (j < i2 ? 1 : 2);
          for (int k = 0; k < 4; ++k) {
            const float q = shifted(k, i < 8 ? 0 : 1)[level];
            sumqx[k] += weight[i] * q * xb[i];
            sumq2[k] += weight[i] * q * q;
          }
        }
        for (int k = 0; k < 4; ++k) {
          if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best * sumq2[k]) {
            scale = sumqx[k] / sumq2[k];
            best = scale * sumqx[k];
            best1 = i1;
            best2 = i2;
            best_k = k;
          }
        }
      }
    }
    if (best_k < 0) throw std::invalid_argument("iq1_m encoder: input is not finite");
    int L[16];
    for (int j = 0; j < 16; ++j) L[order[j]] = j < best1 ? 0 : (j < best2 ? 1 : 2);
    if (scale < 0) {
      for (int& l : L) l = 2 - l;
      scale = -scale;
      best_k = 3 - best_k;
    }
    int index[2];
    bool all_on_grid = true;
    for (int k = 0; k < 2; ++k) {
      index[k] = lattice.index_of(L + 8 * k);
      if (index[k] < 0) {
        all_on_grid = false;
        index[k] = nearest_neighbour(lattice, L + 8 * k, xb + 8 * k, weight + 8 * k, scale, shifted(best_k, k));
      }
    }
    if (!all_on_grid) {
      float sumqx = 0.0f, sumq2 = 0.0f;
      for (int i = 0; i < 16; ++i) {
        const float q = shifted(best_k, i / 8)[L[i]];
        sumqx += weight[i] * q * xb[i];
        sumq2 += weight[i] * q * q;
      }
      if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    blk.qs[2 * ib] = static_cast<uint8_t>(index[0] & 255);
    blk.qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
    blk.qh[ib] = static_cast<uint8_t>((index[0] >> 8) | (index[1] >> 8) << 4);
    scales[ib] = scale;
    shifts[ib] = best_k;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (max_scale != 0.0f) {
    static constexpr uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
    uint16_t sc[4] = {};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      int l = nearest_int(0.5f * (id * scales[ib] - 1));
      l = l < 0 ? 0 : (l > 7 ? 7 : l);
      sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | l << (3 * (ib % 4)));
      blk.qh[ib] = static_cast<uint8_t>(blk.qh[ib] | kMasks[shifts[ib]]);
      const float* xb = x + 16 * ib;
      for (int k = 0; k < 2; ++k) {
        const uint64_t g = iq1s_grid[blk.qs[2 * ib + k] | ((blk.qh[ib] >> (4 * k)) & 7) << 8];
        for (int j = 0; j < 8; ++j) {
          const float w = xb[8 * k + j] * xb[8 * k + j];
          const float q = shifted(shifts[ib], k)[grid_i8(g, j) + 1] * static_cast<float>(2 * l + 1);
          sumqx += w * q * xb[8 * k + j];
          sumq2 += w * q * q;
        }
      }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t u = f32_to_fp16(d * 1.1125f);
    for (int k = 0; k < 4; ++k) sc[k] = static_cast<uint16_t>(sc[k] | ((u >> (4 * k)) & 15) << 12);
    std::memcpy(blk.scales, sc, sizeof sc);
  }
  std::memcpy(out, &blk, sizeof blk);
}

// q8_K_exact_case's view: as iq1_s's (iq1_s.cpp), with the scale of the element's 16-half.
void exact_terms(const uint8_t* blk, ExactTerms& t) {
  for (int ib = 0; ib < kQK_K / 32; ++ib)
    for (int l = 0; l < 4; ++l) {
      const int ls = half_scale(blk, ib, l / 2);
      const uint64_t g = group_grid(blk, ib, l);
      for (int j = 0; j < 8; ++j) {
        t.scaled[32 * ib + 8 * l + j] = ls * (8 * (std::abs(grid_i8(g, j)) + 1) + 1);
        t.min[32 * ib + 8 * l + j] = 0;
      }
    }
}

// d's fp16 bits are nibble k of the top of scale word k (iq1_m_scale_bits); the 12 low bits, the
// sub-block scales, stay.
void exact_scales(uint8_t* blk, uint16_t d, uint16_t) {
  for (int k = 0; k < 4; ++k) {
    const uint16_t word = static_cast<uint16_t>((scale_word(blk, k) & 0x0FFF) | ((d >> (4 * k)) & 15) << 12);
    std::memcpy(blk + kScales + 2 * k, &word, 2);
  }
}

}  // namespace

Format iq1_m_format(Format f) {
  f.activation = &q8_K_activation();
  // The fp16 scale is four nibbles in four words, not a 2-byte field: nowhere for the harness
  // to plant special values; the golden random_bytes_raw case covers NaN/Inf scales.
  f.fp16_scale_offsets = {};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ1_M), encode_block>;
  f.gemv_rounding_depth = iq1_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<exact_terms, exact_scales>;
  return f;
}

}  // namespace qb::ggml

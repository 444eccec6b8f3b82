// iq1_s golden reference (specs/ggml.md 3.28, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq1_s.h"

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_lattice.h"
#include "reference/ggml/nearest_int.h"
#include "reference/ggml/q8_K_exact_case.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

constexpr int kQs = 2, kQh = 34;  // byte offsets in the block
constexpr float kDelta = 0.125f;   // IQ1S_DELTA

uint16_t group_bits(const uint8_t* blk, int ib) { return load_u16(blk + kQh + 2 * ib); }
// Grid entry of 8-group l of 32-group ib.
uint64_t group_grid(const uint8_t* blk, int ib, int l) {
  return iq1s_grid[blk[kQs + 4 * ib + l] | ((group_bits(blk, ib) >> (3 * l)) & 7) << 8];
}
int group_scale(uint16_t h) { return 2 * ((h >> 12) & 7) + 1; }

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, sizeof(BlockIQ1_S));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ1_S)) {
      const float d = fp16_to_f32(load_u16(blk));
      for (int ib = 0; ib < kQK_K / 32; ++ib) {
        const uint16_t h = group_bits(blk, ib);
        const float dl = d * static_cast<float>(group_scale(h));
        const float delta = h & 0x8000 ? -kDelta : kDelta;
        for (int l = 0; l < 4; ++l, y += 8) {
          const uint64_t g = group_grid(blk, ib, l);
          // g + delta is exact: |g| <= 1 and delta = +-2^-3.
          for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<float>(grid_i8(g, j)) + delta);
        }
      }
    }
  }
}

// Upstream's iq1_s quantizer (quantize_row_iq1_s_impl, specs/ggml.md 3.28), which requires an
// importance matrix, with every importance 1 (ggml_quantize_chunk with an all-ones imatrix).
// Per 32-group, weights w = sqrt(sigma2 + x^2), sigma2 = 2*sum(x^2)/256 over the block. Levels
// -1, 0, 1 plus a shift +-0.125: the elements sorted by value (stably, as glibc's merge sort
// orders equal values), every split into three runs (i1 <= i2) is scored for both shifts from
// prefix sums of w*x and w, keeping the largest sumqx^2/sumq2 (the +0.125 shift first at each
// split); a negative scale flips the levels and the shift. Off-grid 8-groups take their best
// neighbour at that scale, and the scale is then refitted. d = max_scale/15 stored as
// fp16(d*1.125); codes clamp(nearest_int((scale/d - 1)/2), 0, 7), bit 3 for the -0.125 shift.
// A group with max |x| < 1e-12 gets index 0, scale code 0 and no shift bit.
void encode_block(const float* x, uint8_t* out) {
  static constexpr float kPlus[3] = {-1 + kDelta, kDelta, 1 + kDelta};
  static constexpr float kMinus[3] = {-1 - kDelta, -kDelta, 1 - kDelta};
  const IqLattice& lattice = iq1s_lattice();
  int8_t shifts[kQK_K / 32] = {};
  BlockIQ1_S blk{};
  float sumx2 = 0.0f;
  for (int i = 0; i < kQK_K; ++i) sumx2 += x[i] * x[i];
  const float sigma2 = 2 * sumx2 / kQK_K;
  float scales[kQK_K / 32];
  float max_scale = 0.0f;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32];
    for (int i = 0; i < 32; ++i) weight[i] = 1.0f * std::sqrt(sigma2 + xb[i] * xb[i]);
    float max = std::fabs(xb[0]);
    for (int i = 1; i < 32; ++i) max = max > std::fabs(xb[i]) ? max : std::fabs(xb[i]);
    if (max < 1e-12f) {
      scales[ib] = 0.0f;
      continue;
    }
    int order[32];
    for (int j = 0; j < 32; ++j) order[j] = j;
    std::stable_sort(order, order + 32, [&](int a, int b) { return xb[a] < xb[b]; });
    float sumx[33], sumw[33];
    sumx[0] = sumw[0] = 0.0f;
    for (int j = 0; j < 32; ++j) {
      sumx[j + 1] = sumx[j] + weight[order[j]] * xb[order[j]];
      sumw[j + 1] = sumw[j] + weight[order[j]];
    }
    float best = -std::numeric_limits<float>::min(), scale = max;
    int best1 = -1, best2 = -1, shift = 0;
    for (int i1 = 0; i1 <= 32; ++i1) {
      for (int i2 = i1; i2 <= 32; ++i2) {
        for (const int s : {1, -1}) {
          const float* q = s == 1 ? kPlus : kMinus;
          const float sumqx = (sumx[i1] - sumx[0]) * q[0] + (sumx[i2] - sumx[i1]) * q[1] + (sumx[32] - sumx[i2]) * q[2];
          const float sumq2 = (sumw[i1] - sumw[0]) * q[0] * q[0] + (sumw[i2] - sumw[i1]) * q[1] * q[1] +
                              (sumw[32] - sumw[i2]) * q[2] * q[2];
          if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            best1 = i1;
            best2 = i2;
            shift = s;
          }
        }
      }
    }
    if (shift == 0) throw std::invalid_argument("iq1_s encoder: input is not finite");
    int L[32];
    for (int j = 0; j < 32; ++j) L[order[j]] = j < best1 ? 0 : (j < best2 ? 1 : 2);
    if (scale < 0) {
      for (int& l : L) l = 2 - l;
      scale = -scale;
      shift = -shift;
    }
    const float* q = shift == 1 ? kPlus : kMinus;
    int index[4];
    bool all_on_grid = true;
    for (int k = 0; k < 4; ++k) {
      index[k] = lattice.index_of(L + 8 * k);
      if (index[k] < 0) {
        all_on_grid = false;
        index[k] = nearest_neighbour(lattice, L + 8 * k, xb + 8 * k, weight + 8 * k, scale, q);
      }
    }
    if (!all_on_grid) {
      float sumqx = 0.0f, sumq2 = 0.0f;
      for (int i = 0; i < 32; ++i) {
        sumqx += weight[i] * q[L[i]] * xb[i];
        sumq2 += weight[i] * q[L[i]] * q[L[i]];
      }
      if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    uint16_t h = 0;
    for (int k = 0; k < 4; ++k) {
      blk.qs[4 * ib + k] = static_cast<uint8_t>(index[k] & 255);
      h = static_cast<uint16_t>(h | (index[k] >> 8) << (3 * k));
    }
    blk.qh[ib] = h;
    scales[ib] = scale;
    shifts[ib] = static_cast<int8_t>(shift);
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (max_scale != 0.0f) {
    const float d = max_scale / 15;
    blk.d = f32_to_fp16(d * 1.125f);
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = nearest_int(0.5f * (id * scales[ib] - 1));
      l = l < 0 ? 0 : (l > 7 ? 7 : l);
      if (shifts[ib] == -1) l |= 8;
      blk.qh[ib] = static_cast<uint16_t>(blk.qh[ib] | l << 12);
    }
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_iq1_s_q8_K: per block the exact integer sums
//   sumi  = sum over 32-groups of ls * sum(grid*code)
//   sumi1 = sum over 32-groups of ls * (+-1) * (bsums[2ib] + bsums[2ib+1])  (the shift's sign)
// then sumf += (d_w*d_x)*((float)sumi + 0.125f*(float)sumi1); the activation's stored bsums are
// used, as upstream does.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_K_paired_gemv<sizeof(BlockIQ1_S)>(w, act, r0, r1, y, 1.0f, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const int8_t* q8 = q8_K_qs(ab);
    int32_t sumi = 0, sumi1 = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint16_t h = group_bits(blk, ib);
      const int ls = group_scale(h);
      int32_t lsum = 0;
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const uint64_t g = group_grid(blk, ib, l);
        for (int j = 0; j < 8; ++j) lsum += grid_i8(g, j) * q8[j];
      }
      sumi += ls * lsum;
      sumi1 += ls * (h & 0x8000 ? -1 : 1) * (q8_K_bsum(ab, 2 * ib) + q8_K_bsum(ab, 2 * ib + 1));
    }
    sumf += (fp16_to_f32(load_u16(blk)) * q8_K_d(ab)) * (static_cast<float>(sumi) + kDelta * static_cast<float>(sumi1));
  });
}

// q8_K_exact_case's view: element j of 8-group l of 32-group ib is ls * (8g_j +- 1) in units of
// d/8. Kernels sum the grid part ls*g*x8 (g in -1..1, or g + 1 unsigned with ls*bsum taken off)
// and the shift part ls*(+-1)*x8 (through bsums) apart, at d and d/8: every subset of the pieces
// is at most ls * (8(|g| + 1) + 1) * |x8| in units of d/8.
void exact_terms(const uint8_t* blk, ExactTerms& t) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const int ls = group_scale(group_bits(blk, ib));
    for (int l = 0; l < 4; ++l) {
      const uint64_t g = group_grid(blk, ib, l);
      for (int j = 0; j < 8; ++j) {
        t.scaled[32 * ib + 8 * l + j] = ls * (8 * (std::abs(grid_i8(g, j)) + 1) + 1);
        t.min[32 * ib + 8 * l + j] = 0;
      }
    }
  }
}

}  // namespace

Format iq1_s_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ1_S), encode_block>;
  f.gemv_rounding_depth = iq1_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<exact_terms>;
  return f;
}

}  // namespace qb::ggml

// iq2_s golden reference (specs/ggml.md 3.25, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq2_s.h"

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include <cstring>

#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_lattice.h"
#include "reference/ggml/nearest_int.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

constexpr int kQs = 2, kSigns = 34, kQh = 66, kScales = 74;  // byte offsets in the block

// 8-group l of 32-group ib: grid index from qs[4ib + l] and bits 2l..2l+1 of qh[ib], signs
// stored whole, the scale the nibble of scales[ib] for its 16-element half.
IqGroup group(const uint8_t* blk, int ib, int l) {
  const int index = blk[kQs + 4 * ib + l] | ((blk[kQh + ib] >> (2 * l)) & 3) << 8;
  IqGroup g;
  for (int j = 0; j < 8; ++j) g.mag[j] = grid_u8(iq2s_grid[index], j);
  g.signs = blk[kSigns + 4 * ib + l];
  g.s = (blk[kScales + ib] >> (4 * (l / 2))) & 15;
  return g;
}
float group_scale(float d, int s) { return (d * (0.5f + static_cast<float>(s))) * 0.25f; }

// quantize_row_iq2_s_ref (no importance weights), specs/ggml.md 3.25. Weights are
// w = sigma2/4 + x^2 with sigma2 = 2*sum(x^2)/256 over the block; signs are stored whole; the
// magnitudes of each 16 elements (two 8-element points) are fitted on the 1024-point lattice
// with is = -9..9 in steps of 0.1 (iq_fit_group); a 16-group whose max magnitude is < 1e-8 gets
// scale 0 and writes nothing. d = max_scale/31 stored as fp16(d*0.9875); scale codes
// clamp(nearest_int((scale/d - 1)/2), 0, 15) through id = 1/d.
void encode_block(const float* x, uint8_t* out) {
  const IqLattice& lattice = iq2s_lattice();
  BlockIQ2_S blk{};
  float sumx2 = 0.0f;
  for (int i = 0; i < kQK_K; ++i) sumx2 += x[i] * x[i];
  const float sigma2 = 2 * sumx2 / kQK_K;
  float scales[kQK_K / 16];
  float max_scale = 0.0f;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float* xb = x + 16 * ib;
    float weight[16], xval[16];
    uint8_t signs[2] = {};
    for (int i = 0; i < 16; ++i) {
      weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
      xval[i] = xb[i] >= 0 ? xb[i] : -xb[i];
      if (!(xb[i] >= 0)) signs[i / 8] = static_cast<uint8_t>(signs[i / 8] | 1 << (i % 8));
    }
    float max = xval[0];
    for (int i = 1; i < 16; ++i) max = max > xval[i] ? max : xval[i];
    if (max < 1e-8f) {
      scales[ib] = 0.0f;
      continue;
    }
    int L[16] = {};
    // Magnitudes, weights and levels 2l+1 are all >= 0: the scale is never negative (upstream's
    // sign flip for a negative scale cannot trigger here).
    const float scale = iq_fit_group(lattice, 16, xval, weight, {9, 0.1f, true, false}, L);
    for (int k = 0; k < 2; ++k) {
      const int g = 2 * ib + k;  // 8-group number
      const int index = lattice.index_of(L + 8 * k);
      blk.qs[g] = static_cast<uint8_t>(index & 255);
      blk.qh[g / 4] = static_cast<uint8_t>(blk.qh[g / 4] | (index >> 8) << (2 * (g % 4)));
      blk.qs[32 + g] = signs[k];
    }
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 0.9875f);
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      int l = nearest_int(0.5f * (id * scales[ib] - 1));
      l = l < 0 ? 0 : (l > 15 ? 15 : l);
      blk.scales[ib / 2] = static_cast<uint8_t>(blk.scales[ib / 2] | l << (4 * (ib % 2)));
    }
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_iq2_s_q8_K: as iq2_xs, bsum = sum over 16-halves of (2s+1) * (exact
// signed grid*code sum), sumf += (d_w*d_x)*(float)bsum per block, result 0.125f*sumf.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  iq_grid_gemv<sizeof(BlockIQ2_S), group>(w, act, r0, r1, y, 0.125f);
}

}  // namespace

Format iq2_s_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = iq_grid_dequant<sizeof(BlockIQ2_S), group, group_scale>;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ2_S), encode_block>;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<iq_grid_exact_terms<group>>;
  return f;
}

}  // namespace qb::ggml

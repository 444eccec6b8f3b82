// iq3_s golden reference (specs/ggml.md 3.27, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq3_s.h"

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include <cstring>

#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_lattice.h"
#include "reference/ggml/nearest_int.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

constexpr int kQs = 2, kQh = 66, kSigns = 74, kScales = 106;  // byte offsets in the block

// 8-group l of 32-group ib: elements 0-3 from grid index k = 2l, 4-7 from k = 2l+1, each qs byte
// extended by bit k of qh[ib]; signs stored whole; one scale nibble per 32-group.
IqGroup group(const uint8_t* blk, int ib, int l) {
  IqGroup g;
  for (int j = 0; j < 8; ++j) {
    const int k = 2 * l + j / 4;
    const int index = blk[kQs + 8 * ib + k] | ((blk[kQh + ib] >> k) & 1) << 8;
    g.mag[j] = grid_u8(iq3s_grid[index], j % 4);
  }
  g.signs = blk[kSigns + 4 * ib + l];
  g.s = (blk[kScales + ib / 2] >> (4 * (ib % 2))) & 15;
  return g;
}
float group_scale(float d, int s) { return d * static_cast<float>(1 + 2 * s); }

// quantize_row_iq3_s_ref (no importance weights: w = x^2), specs/ggml.md 3.27. Signs are stored
// whole (one byte per 8 elements), the magnitudes fitted on the 512-point lattice with the scale
// search is = -9..9 and every point re-chosen at the fitted scale when any was off the grid
// (iq_fit_group). A group whose magnitudes are all zero gets scale 0 and writes nothing; upstream
// advances its qs and sign cursors only past written groups, so the next group's grid bytes and
// signs land in the zero group's slots (the qh bits are placed by group number). d = max_scale/31
// stored as fp16(d*1.033); scale codes clamp(nearest_int((scale/d - 1)/2), 0, 15).
void encode_block(const float* x, uint8_t* out) {
  const IqLattice& lattice = iq3s_lattice();
  BlockIQ3_S blk{};
  float scales[kQK_K / 32];
  float max_scale = 0.0f;
  int written = 0;  // groups written so far: the qs and sign cursor
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32], xval[32];
    uint8_t signs[4] = {};
    for (int i = 0; i < 32; ++i) {
      weight[i] = xb[i] * xb[i];
      xval[i] = xb[i] >= 0 ? xb[i] : -xb[i];
      if (!(xb[i] >= 0)) signs[i / 8] = static_cast<uint8_t>(signs[i / 8] | 1 << (i % 8));
    }
    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];
    if (max == 0.0f) {
      scales[ib] = 0.0f;
      continue;
    }
    int L[32] = {};
    // Magnitudes, weights and levels 2l+1 are all >= 0: the scale is never negative (upstream's
    // sign flip for a negative scale cannot trigger here).
    const float scale = iq_fit_group(lattice, 32, xval, weight, {9, 0.2f, false, true}, L);
    for (int k = 0; k < 8; ++k) {
      const int index = lattice.index_of(L + 4 * k);
      blk.qs[8 * written + k] = static_cast<uint8_t>(index & 255);
      blk.qh[ib] = static_cast<uint8_t>(blk.qh[ib] | (index >> 8) << k);
    }
    std::memcpy(blk.signs + 4 * written, signs, 4);
    ++written;
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 1.033f);
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = nearest_int(0.5f * (id * scales[ib] - 1));
      l = l < 0 ? 0 : (l > 15 ? 15 : l);
      blk.scales[ib / 2] = static_cast<uint8_t>(blk.scales[ib / 2] | l << (4 * (ib % 2)));
    }
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_iq3_s_q8_K: bsum = sum over 32-groups of (2s+1) * (exact signed
// grid*code sum), sumf += (d_w*d_x)*(float)bsum per block; no final factor.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  iq_grid_gemv<sizeof(BlockIQ3_S), group>(w, act, r0, r1, y, 1.0f);
}

}  // namespace

Format iq3_s_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = iq_grid_dequant<sizeof(BlockIQ3_S), group, group_scale>;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ3_S), encode_block>;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<iq_grid_exact_terms<group>>;
  return f;
}

}  // namespace qb::ggml

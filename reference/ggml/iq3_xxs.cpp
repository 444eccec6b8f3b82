// iq3_xxs golden reference (specs/ggml.md 3.26, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq3_xxs.h"

#include <cmath>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_lattice.h"
#include "reference/ggml/nearest_int.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

// 8-group l of 32-group ib: elements 0-3 from grid index qs[8ib + 2l], 4-7 from qs[8ib + 2l + 1];
// the group's uint32 after the 64 index bytes holds the sign index of 8-group l in bits
// 7l..7l+6 and the scale s in bits 28-31.
IqGroup group(const uint8_t* blk, int ib, int l) {
  uint32_t a;
  std::memcpy(&a, blk + 2 + 64 + 4 * ib, 4);
  IqGroup g;
  for (int j = 0; j < 8; ++j) g.mag[j] = grid_u8(iq3xxs_grid[blk[2 + 8 * ib + 2 * l + j / 4]], j % 4);
  g.signs = ksigns_iq2xs[(a >> (7 * l)) & 127];
  g.s = static_cast<int>(a >> 28);
  return g;
}
float group_scale(float d, int s) { return (d * (0.5f + static_cast<float>(s))) * 0.5f; }

// quantize_row_iq3_xxs_ref (no importance weights: w = x^2), specs/ggml.md 3.26. Per 8 elements
// the signs are taken out with even parity (even_parity_signs); the magnitudes are fitted on the
// 256-point lattice (iq_fit_group); a group with max magnitude < 1e-8 stays all zero (scale 0).
// d = max_scale/31 stored as fp16(d*1.0125); group scale codes
// clamp(nearest_int((scale/d - 1)/2), 0, 15) through id = 1/d. A block whose groups all have
// scale 0 is all zero.
void encode_block(const float* x, uint8_t* out) {
  const IqLattice& lattice = iq3xxs_lattice();
  uint8_t qs[96] = {};
  float scales[kQK_K / 32];
  float max_scale = 0.0f;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32], xval[32];
    for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
    uint32_t signs[4];
    even_parity_signs(xb, weight, 4, xval, signs);
    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];
    if (max < 1e-8f) {
      scales[ib] = 0.0f;
      continue;
    }
    int L[32] = {};
    float scale = iq_fit_group(lattice, 32, xval, weight, {15, 0.2f, true, false}, L);
    // Only a parity-kept negative magnitude can make the scale negative; upstream then stores
    // its magnitude and flips every stored sign instead.
    if (scale < 0) {
      scale = -scale;
      for (auto& s : signs) s = ~s & 127;
    }
    const uint32_t word = signs[0] | signs[1] << 7 | signs[2] << 14 | signs[3] << 21;
    for (int k = 0; k < 8; ++k) qs[8 * ib + k] = static_cast<uint8_t>(lattice.index_of(L + 4 * k));
    std::memcpy(qs + 64 + 4 * ib, &word, 4);
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  BlockIQ3_XXS blk{};
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 1.0125f);
    const float id = 1 / d;
    std::memcpy(blk.qs, qs, sizeof qs);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = nearest_int(0.5f * (id * scales[ib] - 1));
      l = l < 0 ? 0 : (l > 15 ? 15 : l);
      uint32_t word;
      std::memcpy(&word, blk.qs + 64 + 4 * ib, 4);
      word |= static_cast<uint32_t>(l) << 28;
      std::memcpy(blk.qs + 64 + 4 * ib, &word, 4);
    }
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_iq3_xxs_q8_K: bsum = sum over 32-groups of (2s+1) * (exact signed
// grid*code sum), sumf += (d_w*d_x)*(float)bsum per block, result 0.25f*sumf (the decode's
// (s + 0.5)/2 is (2s+1)/4).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  iq_grid_gemv<sizeof(BlockIQ3_XXS), group>(w, act, r0, r1, y, 0.25f);
}

}  // namespace

Format iq3_xxs_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = iq_grid_dequant<sizeof(BlockIQ3_XXS), group, group_scale>;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ3_XXS), encode_block>;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<iq_grid_exact_terms<group>>;
  return f;
}

}  // namespace qb::ggml

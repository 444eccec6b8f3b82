// iq2_xxs golden reference (specs/ggml.md 3.23, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq2_xxs.h"

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

// 8-group l of 32-group ib: grid index qs byte 8ib + l; the group's uint32 `a` after its four
// index bytes holds the sign index of 8-group l in bits 7l..7l+6 and the scale s in bits 28-31.
IqGroup group(const uint8_t* blk, int ib, int l) {
  uint32_t a;
  std::memcpy(&a, blk + 2 + 8 * ib + 4, 4);
  IqGroup g;
  for (int j = 0; j < 8; ++j) g.mag[j] = grid_u8(iq2xxs_grid[blk[2 + 8 * ib + l]], j);
  g.signs = ksigns_iq2xs[(a >> (7 * l)) & 127];
  g.s = static_cast<int>(a >> 28);
  return g;
}
float group_scale(float d, int s) { return (d * (0.5f + static_cast<float>(s))) * 0.25f; }

// Upstream's iq2_xxs quantizer (quantize_row_iq2_xxs_impl, specs/ggml.md 3.23), which requires
// an importance matrix, with every importance 1 (ggml_quantize_chunk with an all-ones imatrix):
// weights w = sqrt(sigma2 + x^2), sigma2 = sum(x^2)/256 over the block; per 8 elements the
// signs with even parity as iq3_xxs; magnitudes fitted on the 256-point lattice
// (iq2_imatrix_fit); a group with max magnitude < 1e-15 stays zero. d = fp16(max_scale/31),
// scale codes clamp(nearest_int((scale/d - 1)/2), 0, 15) through id = 1/d.
void encode_block(const float* x, uint8_t* out) {
  const IqLattice& lattice = iq2xxs_lattice();
  float sumx2 = 0.0f;
  for (int i = 0; i < kQK_K; ++i) sumx2 += x[i] * x[i];
  const float sigma2 = sumx2 / kQK_K;
  uint32_t q2[16] = {};
  float scales[kQK_K / 32];
  float max_scale = 0.0f;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32], xval[32];
    for (int i = 0; i < 32; ++i) weight[i] = 1.0f * std::sqrt(sigma2 + xb[i] * xb[i]);
    uint32_t signs[4];
    even_parity_signs(xb, weight, 4, xval, signs);
    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];
    if (max < 1e-15f) {
      scales[ib] = 0.0f;
      continue;
    }
    int L[32];
    float scale = iq2_imatrix_fit(lattice, 32, xval, weight, L);
    if (scale < 0) {  // only a parity-kept negative magnitude can cause it: store |scale|, flip signs
      scale = -scale;
      for (auto& s : signs) s = ~s & 127;
    }
    for (int k = 0; k < 4; ++k) {
      q2[2 * ib] |= static_cast<uint32_t>(lattice.index_of(L + 8 * k)) << (8 * k);
      q2[2 * ib + 1] |= signs[k] << (7 * k);
    }
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  BlockIQ2_XXS blk{};
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = nearest_int(0.5f * (id * scales[ib] - 1));
      l = l < 0 ? 0 : (l > 15 ? 15 : l);
      q2[2 * ib + 1] |= static_cast<uint32_t>(l) << 28;
    }
    std::memcpy(blk.qs, q2, sizeof q2);
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_iq2_xxs_q8_K: bsum = sum over 32-groups of (2s+1) * (exact signed
// grid*code sum), sumf += (d_w*d_x)*(float)bsum per block, result 0.125f*sumf (the decode's
// (s + 0.5)/4 is (2s+1)/8).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  iq_grid_gemv<sizeof(BlockIQ2_XXS), group>(w, act, r0, r1, y, 0.125f);
}

}  // namespace

Format iq2_xxs_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = iq_grid_dequant<sizeof(BlockIQ2_XXS), group, group_scale>;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ2_XXS), encode_block>;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<iq_grid_exact_terms<group>>;
  return f;
}

}  // namespace qb::ggml

// iq2_xs golden reference (specs/ggml.md 3.24, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq2_xs.h"

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include <cmath>
#include <cstring>

#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_lattice.h"
#include "reference/ggml/nearest_int.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

constexpr int kScales = 66;  // byte offset of scales[8]

// 8-group l of 32-group ib: a uint16 of grid index (9 bits) and sign index (7 bits); the scale
// is the nibble of scales[ib] for its 16-element half.
IqGroup group(const uint8_t* blk, int ib, int l) {
  const uint16_t q = load_u16(blk + 2 + 2 * (4 * ib + l));
  IqGroup g;
  for (int j = 0; j < 8; ++j) g.mag[j] = grid_u8(iq2xs_grid[q & 511], j);
  g.signs = ksigns_iq2xs[q >> 9];
  g.s = (blk[kScales + ib] >> (4 * (l / 2))) & 15;
  return g;
}
float group_scale(float d, int s) { return (d * (0.5f + static_cast<float>(s))) * 0.25f; }

// Upstream's iq2_xs quantizer (quantize_row_iq2_xs_impl, specs/ggml.md 3.24), which requires an
// importance matrix, with every importance 1 (ggml_quantize_chunk with an all-ones imatrix):
// weights w = sqrt(sigma2 + x^2), sigma2 = sum(x^2)/256 over the block; per 8 elements the
// signs with even parity (even_parity_signs); the magnitudes of each 16 elements (two points)
// fitted on the 512-point lattice (iq_fit_group, is = -9..9 in steps of 0.1); a 16-group with max magnitude < 1e-15 stays zero.
// d = fp16(max_scale/31), scale codes clamp(nearest_int((scale/d - 1)/2), 0, 15) through 1/d.
void encode_block(const float* x, uint8_t* out) {
  const IqLattice& lattice = iq2xs_lattice();
  float sumx2 = 0.0f;
  for (int i = 0; i < kQK_K; ++i) sumx2 += x[i] * x[i];
  const float sigma2 = sumx2 / kQK_K;
  uint16_t q2[32] = {};
  float scales[kQK_K / 16];
  float max_scale = 0.0f;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float* xb = x + 16 * ib;
    float weight[16], xval[16];
    for (int i = 0; i < 16; ++i) weight[i] = 1.0f * std::sqrt(sigma2 + xb[i] * xb[i]);
    uint32_t signs[2];
    even_parity_signs(xb, weight, 2, xval, signs);
    float max = xval[0];
    for (int i = 1; i < 16; ++i) max = max > xval[i] ? max : xval[i];
    if (max < 1e-15f) {
      scales[ib] = 0.0f;
      continue;
    }
    int L[16] = {};
    float scale = iq_fit_group(lattice, 16, xval, weight, {9, 0.1f, true, false}, L);
    if (scale < 0) {  // only a parity-kept negative magnitude can cause it: store |scale|, flip signs
      scale = -scale;
      for (auto& s : signs) s = ~s & 127;
    }
    for (int k = 0; k < 2; ++k)
      q2[2 * ib + k] = static_cast<uint16_t>(lattice.index_of(L + 8 * k) | signs[k] << 9);
    scales[ib] = scale;
    max_scale = max_scale > scale ? max_scale : scale;
  }
  BlockIQ2_XS blk{};
  if (max_scale != 0.0f) {
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      int l = nearest_int(0.5f * (id * scales[ib] - 1));
      l = l < 0 ? 0 : (l > 15 ? 15 : l);
      blk.scales[ib / 2] = static_cast<uint8_t>(blk.scales[ib / 2] | l << (4 * (ib % 2)));
    }
    std::memcpy(blk.qs, q2, sizeof q2);
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_iq2_xs_q8_K: bsum = sum over 16-halves of (2s+1) * (exact signed
// grid*code sum), sumf += (d_w*d_x)*(float)bsum per block, result 0.125f*sumf.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  iq_grid_gemv<sizeof(BlockIQ2_XS), group>(w, act, r0, r1, y, 0.125f);
}

}  // namespace

Format iq2_xs_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = iq_grid_dequant<sizeof(BlockIQ2_XS), group, group_scale>;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ2_XS), encode_block>;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<iq_grid_exact_terms<group>>;
  return f;
}

}  // namespace qb::ggml

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

// 32-group ib's uint32 `a`: sign index of 8-group l in bits 7l..7l+6, scale s in bits 28-31.
uint32_t group_word(const uint8_t* blk, int ib) {
  uint32_t a;
  std::memcpy(&a, blk + 2 + 8 * ib + 4, 4);
  return a;
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, sizeof(BlockIQ2_XXS));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ2_XXS)) {
      const float d = fp16_to_f32(load_u16(blk));
      for (int ib = 0; ib < kQK_K / 32; ++ib) {
        const uint32_t a = group_word(blk, ib);
        const float db = (d * (0.5f + static_cast<float>(a >> 28))) * 0.25f;
        for (int l = 0; l < 4; ++l, y += 8) {
          const uint64_t g = iq2xxs_grid[blk[2 + 8 * ib + l]];
          const uint8_t signs = ksigns_iq2xs[(a >> (7 * l)) & 127];
          for (int j = 0; j < 8; ++j)
            y[j] = apply_sign(db * static_cast<float>(grid_u8(g, j)), signs >> j & 1);
        }
      }
    }
  }
}

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

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK_K;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb) * sizeof(BlockIQ2_XXS)));
  for (int64_t b = 0; b < nb; ++b) encode_block(src + b * kQK_K, tensors[0].data() + b * sizeof(BlockIQ2_XXS));
}

// Upstream ggml_vec_dot_iq2_xxs_q8_K: bsum = sum over 32-groups of (2s+1) * (exact signed
// grid*code sum), sumf += (d_w*d_x)*(float)bsum per block, result 0.125f*sumf (the decode's
// (s + 0.5)/4 is (2s+1)/8).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_K_paired_gemv<sizeof(BlockIQ2_XXS)>(w, act, r0, r1, y, 0.125f, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const int8_t* q8 = q8_K_qs(ab);
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint32_t a = group_word(blk, ib);
      int32_t sumi = 0;
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const uint64_t g = iq2xxs_grid[blk[2 + 8 * ib + l]];
        const uint8_t signs = ksigns_iq2xs[(a >> (7 * l)) & 127];
        for (int j = 0; j < 8; ++j) sumi += grid_u8(g, j) * q8[j] * (signs >> j & 1 ? -1 : 1);
      }
      bsum += static_cast<int32_t>(2 * (a >> 28) + 1) * sumi;
    }
    sumf += (fp16_to_f32(load_u16(blk)) * q8_K_d(ab)) * static_cast<float>(bsum);
  });
}

}  // namespace

Format iq2_xxs_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  return f;
}

}  // namespace qb::ggml

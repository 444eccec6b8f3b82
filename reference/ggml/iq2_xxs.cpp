// iq2_xxs golden reference (specs/ggml.md 3.23, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq2_xxs.h"

#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_common.h"
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
            y[j] = (db * static_cast<float>(grid_u8(g, j))) * (signs >> j & 1 ? -1.0f : 1.0f);
        }
      }
    }
  }
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
  f.random_stored = iq_random_blocks;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  return f;
}

}  // namespace qb::ggml

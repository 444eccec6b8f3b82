// iq3_s golden reference (specs/ggml.md 3.27, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq3_s.h"

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

constexpr int kQs = 2, kQh = 66, kSigns = 74, kScales = 106;  // byte offsets in the block

// Element j (0..7) of 8-group l of 32-group ib, before scale and sign: elements 0-3 from index
// k = 2l, 4-7 from k = 2l+1, each qs byte extended by bit k of qh[ib].
int magnitude(const uint8_t* blk, int ib, int l, int j) {
  const int k = 2 * l + j / 4;
  const int index = blk[kQs + 8 * ib + k] | ((blk[kQh + ib] >> k) & 1) << 8;
  return grid_u8(iq3s_grid[index], j % 4);
}
int group_scale(const uint8_t* blk, int ib) { return (blk[kScales + ib / 2] >> (4 * (ib % 2))) & 15; }

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, sizeof(BlockIQ3_S));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ3_S)) {
      const float d = fp16_to_f32(load_u16(blk));
      for (int ib = 0; ib < kQK_K / 32; ++ib) {
        const float db = d * static_cast<float>(1 + 2 * group_scale(blk, ib));
        for (int l = 0; l < 4; ++l, y += 8) {
          const uint8_t signs = blk[kSigns + 4 * ib + l];
          for (int j = 0; j < 8; ++j)
            y[j] = (db * static_cast<float>(magnitude(blk, ib, l, j))) * (signs >> j & 1 ? -1.0f : 1.0f);
        }
      }
    }
  }
}

// Upstream ggml_vec_dot_iq3_s_q8_K: bsum = sum over 32-groups of (2s+1) * (exact signed
// grid*code sum), sumf += (d_w*d_x)*(float)bsum per block; no final factor.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_K_paired_gemv<sizeof(BlockIQ3_S)>(w, act, r0, r1, y, 1.0f, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const int8_t* q8 = q8_K_qs(ab);
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int32_t sumi = 0;
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const uint8_t signs = blk[kSigns + 4 * ib + l];
        for (int j = 0; j < 8; ++j) sumi += magnitude(blk, ib, l, j) * q8[j] * (signs >> j & 1 ? -1 : 1);
      }
      bsum += (2 * group_scale(blk, ib) + 1) * sumi;
    }
    sumf += (fp16_to_f32(load_u16(blk)) * q8_K_d(ab)) * static_cast<float>(bsum);
  });
}

}  // namespace

Format iq3_s_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.random_stored = iq_random_blocks;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  return f;
}

}  // namespace qb::ggml

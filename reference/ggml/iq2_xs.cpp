// iq2_xs golden reference (specs/ggml.md 3.24, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq2_xs.h"

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

constexpr int kScales = 66;  // byte offset of scales[8]

// 8-group g's uint16: grid index (9 bits) and sign index (7 bits).
uint16_t group_code(const uint8_t* blk, int g) { return load_u16(blk + 2 + 2 * g); }
// 4-bit scale of 8-group l (0..3) of 32-group ib.
int group_scale(const uint8_t* blk, int ib, int l) { return (blk[kScales + ib] >> (4 * (l / 2))) & 15; }

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, sizeof(BlockIQ2_XS));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ2_XS)) {
      const float d = fp16_to_f32(load_u16(blk));
      for (int ib = 0; ib < kQK_K / 32; ++ib) {
        const float db[2] = {(d * (0.5f + static_cast<float>(group_scale(blk, ib, 0)))) * 0.25f,
                             (d * (0.5f + static_cast<float>(group_scale(blk, ib, 2)))) * 0.25f};
        for (int l = 0; l < 4; ++l, y += 8) {
          const uint16_t q = group_code(blk, 4 * ib + l);
          const uint64_t g = iq2xs_grid[q & 511];
          const uint8_t signs = ksigns_iq2xs[q >> 9];
          for (int j = 0; j < 8; ++j)
            y[j] = (db[l / 2] * static_cast<float>(grid_u8(g, j))) * (signs >> j & 1 ? -1.0f : 1.0f);
        }
      }
    }
  }
}

// Upstream ggml_vec_dot_iq2_xs_q8_K: bsum = sum over 16-halves of (2s+1) * (exact signed
// grid*code sum), sumf += (d_w*d_x)*(float)bsum per block, result 0.125f*sumf.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_K_paired_gemv<sizeof(BlockIQ2_XS)>(w, act, r0, r1, y, 0.125f, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const int8_t* q8 = q8_K_qs(ab);
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const uint16_t q = group_code(blk, 4 * ib + l);
        const uint64_t g = iq2xs_grid[q & 511];
        const uint8_t signs = ksigns_iq2xs[q >> 9];
        int32_t sumi = 0;
        for (int j = 0; j < 8; ++j) sumi += grid_u8(g, j) * q8[j] * (signs >> j & 1 ? -1 : 1);
        bsum += (2 * group_scale(blk, ib, l) + 1) * sumi;
      }
    }
    sumf += (fp16_to_f32(load_u16(blk)) * q8_K_d(ab)) * static_cast<float>(bsum);
  });
}

}  // namespace

Format iq2_xs_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.random_stored = iq_random_blocks;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  return f;
}

}  // namespace qb::ggml

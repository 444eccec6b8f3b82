// iq1_s golden reference (specs/ggml.md 3.28, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq1_s.h"

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_common.h"
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

}  // namespace

Format iq1_s_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.random_stored = iq_random_blocks;
  f.gemv_rounding_depth = iq1_rounding_depth;
  return f;
}

}  // namespace qb::ggml

// iq1_m golden reference (specs/ggml.md 3.29, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq1_m.h"

#include <random>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {

namespace {
constexpr int kQh = 32, kScales = 48;  // byte offsets in the block
constexpr float kDelta = 0.125f;        // IQ1M_DELTA

uint16_t scale_word(const uint8_t* blk, int k) { return load_u16(blk + kScales + 2 * k); }
}  // namespace

uint16_t iq1_m_scale_bits(const uint8_t* blk) {
  uint16_t u = 0;
  for (int k = 0; k < 4; ++k) u = static_cast<uint16_t>(u | (scale_word(blk, k) >> 12) << (4 * k));
  return u;
}

namespace {

// 8-group l (0..3) of 32-group ib: its qh nibble (index bits 8-10 in bits 0-2, shift sign in 3).
int group_nibble(const uint8_t* blk, int ib, int l) { return (blk[kQh + 2 * ib + l / 2] >> (4 * (l % 2))) & 15; }
uint64_t group_grid(const uint8_t* blk, int ib, int l) {
  return iq1s_grid[blk[4 * ib + l] | (group_nibble(blk, ib, l) & 7) << 8];
}
// Scale ls = 2t+1 of the 16-half h (8-groups 2h, 2h+1) of 32-group ib: t is 3 bits at
// 6(ib%2) + 3h of scale word ib/2.
int half_scale(const uint8_t* blk, int ib, int h) {
  return 2 * ((scale_word(blk, ib / 2) >> (6 * (ib % 2) + 3 * h)) & 7) + 1;
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, sizeof(BlockIQ1_M));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ1_M)) {
      const float d = fp16_to_f32(iq1_m_scale_bits(blk));
      for (int ib = 0; ib < kQK_K / 32; ++ib) {
        const float dl[2] = {d * static_cast<float>(half_scale(blk, ib, 0)),
                             d * static_cast<float>(half_scale(blk, ib, 1))};
        for (int l = 0; l < 4; ++l, y += 8) {
          const uint64_t g = group_grid(blk, ib, l);
          const float delta = group_nibble(blk, ib, l) & 8 ? -kDelta : kDelta;
          // g + delta is exact: |g| <= 1 and delta = +-2^-3.
          for (int j = 0; j < 8; ++j) y[j] = dl[l / 2] * (static_cast<float>(grid_i8(g, j)) + delta);
        }
      }
    }
  }
}

// Upstream ggml_vec_dot_iq1_m_q8_K: per block the exact integer sums
//   sumi1 = sum over 16-halves of ls * sum(grid*code)
//   sumi2 = sum over 16-halves of ls * sum over its 8-groups of (+-1) * sum(code)  (shift signs)
// then sumf += (d*d_x)*((float)sumi1 + 0.125f*(float)sumi2).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_K_paired_gemv<sizeof(BlockIQ1_M)>(w, act, r0, r1, y, 1.0f, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const int8_t* q8 = q8_K_qs(ab);
    int32_t sumi1 = 0, sumi2 = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const uint64_t g = group_grid(blk, ib, l);
        int32_t grid_sum = 0, code_sum = 0;
        for (int j = 0; j < 8; ++j) {
          grid_sum += grid_i8(g, j) * q8[j];
          code_sum += q8[j];
        }
        const int ls = half_scale(blk, ib, l / 2);
        sumi1 += ls * grid_sum;
        sumi2 += ls * (group_nibble(blk, ib, l) & 8 ? -1 : 1) * code_sum;
      }
    }
    sumf += (fp16_to_f32(iq1_m_scale_bits(blk)) * q8_K_d(ab)) *
            (static_cast<float>(sumi1) + kDelta * static_cast<float>(sumi2));
  });
}

// Random blocks with a finite super-block scale, |d| < 2: bit 14 of the assembled fp16 is bit 14
// of scale word 3, bit 6 of the block's last byte.
std::vector<std::vector<uint8_t>> random_blocks(const Format& f, int64_t rows, int64_t cols, const nlohmann::json&,
                                                uint64_t seed) {
  const int64_t nblocks = rows * (cols / kQK_K);
  std::vector<uint8_t> blocks(static_cast<std::size_t>(nblocks * f.block_bytes));
  std::mt19937_64 rng(seed);
  for (auto& b : blocks) b = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < nblocks; ++i) blocks[static_cast<std::size_t>((i + 1) * f.block_bytes - 1)] &= 0xBF;
  return {std::move(blocks)};
}

}  // namespace

Format iq1_m_format(Format f) {
  f.activation = &q8_K_activation();
  // The fp16 scale is four nibbles in four words, not a 2-byte field: nowhere for the harness
  // to plant special values; the golden random_bytes_raw case covers NaN/Inf scales.
  f.fp16_scale_offsets = {};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.random_stored = random_blocks;
  f.gemv_rounding_depth = iq1_rounding_depth;
  return f;
}

}  // namespace qb::ggml

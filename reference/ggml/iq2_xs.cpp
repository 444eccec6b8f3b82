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
            y[j] = apply_sign(db[l / 2] * static_cast<float>(grid_u8(g, j)), signs >> j & 1);
        }
      }
    }
  }
}

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

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK_K;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb) * sizeof(BlockIQ2_XS)));
  for (int64_t b = 0; b < nb; ++b) encode_block(src + b * kQK_K, tensors[0].data() + b * sizeof(BlockIQ2_XS));
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
  f.encode_ref = encode;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  return f;
}

}  // namespace qb::ggml

// tq2_0 golden reference (specs/ggml.md 3.19, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/tq2_0.h"

#include <cmath>
#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::ggml {
namespace {

constexpr int64_t kBytes = sizeof(BlockTQ2_0);

// The 2-bit code (0..3; value code - 1, so 3 decodes to +2) of element e.
int code(const BlockTQ2_0& b, int e) {
  const int c = e / 128, n = (e % 128) / 32, m = e % 32;
  return (b.qs[32 * c + m] >> (2 * n)) & 3;
}

BlockTQ2_0 load(const uint8_t* p) {
  BlockTQ2_0 b;
  std::memcpy(&b, p, sizeof b);
  return b;
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, kBytes);
    for (int64_t i = 0; i < nb; ++i) {
      const BlockTQ2_0 b = load(blk + i * kBytes);
      const float d = fp16_to_f32(b.d);
      float* y = out + r * w->cols + i * kQK_K;
      for (int e = 0; e < kQK_K; ++e) y[e] = static_cast<float>(code(b, e) - 1) * d;
    }
  }
}

// Upstream ggml_vec_dot_tq2_0_q8_K: exact integer block sum, then (float)sumi * (d_x * d_w).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, kBytes);
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; ++i) {
      const BlockTQ2_0 b = load(blk + i * kBytes);
      const uint8_t* xb = act + i * sizeof(BlockQ8_K);
      const int8_t* x8 = q8_K_qs(xb);
      int32_t sumi = 0;
      for (int e = 0; e < kQK_K; ++e) sumi += (code(b, e) - 1) * x8[e];
      sumf += static_cast<float>(sumi) * (q8_K_d(xb) * fp16_to_f32(b.d));
    }
    y[r] = sumf;
  }
}

void encode_block(const float* x, BlockTQ2_0& y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK_K; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  const float d = amax;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y.d = f32_to_fp16(d);
  std::memset(y.qs, 0, sizeof y.qs);
  for (int e = 0; e < kQK_K; ++e) {
    // lroundf rounds half away from zero; levels use the fp32 id (pitfall 7.5).
    const int q = static_cast<int>(std::lround(x[e] * id)) + 1;
    const int c = e / 128, n = (e % 128) / 32, m = e % 32;
    y.qs[32 * c + m] = static_cast<uint8_t>(y.qs[32 * c + m] + ((q & 3) << (2 * n)));
  }
}

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK_K;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb * kBytes)));
  for (int64_t b = 0; b < nb; ++b) {
    BlockTQ2_0 y;
    encode_block(src + b * kQK_K, y);
    std::memcpy(tensors[0].data() + b * kBytes, &y, sizeof y);
  }
}

// As tq1_0 (tq1_0.cpp): 2 product roundings, nb block additions, a 64-lane tree (6), and one for
// the fp32 rounding of q8_K's yd*x8 in the generic bound's |x_i|; the decoded (q-1)*d are exact.
int64_t rounding_depth(int64_t cols) { return cols / kQK_K + 2 + 6 + 1; }

}  // namespace

Format tq2_0_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {offsetof(BlockTQ2_0, d)};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode;
  f.gemv_rounding_depth = rounding_depth;
  return f;
}

}  // namespace qb::ggml

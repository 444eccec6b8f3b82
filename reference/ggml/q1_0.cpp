// q1_0 golden reference (specs/ggml.md 3.7, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q1_0.h"

#include <cmath>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_exact_case.h"
#include "reference/ggml/legacy_common.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb::ggml {
namespace {

bool bit(const uint8_t* blk, int j) { return (blk[2 + j / 8] >> (j % 8)) & 1; }

// A select, no arithmetic: a NaN d comes out as its fp16 widening (and -d with the sign flipped).
void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_blocks<kQK1_0, sizeof(BlockQ1_0)>(w, r0, r1, out, [](const uint8_t* blk, float* y) {
    const float d = fp16_to_f32(load_u16(blk)), neg_d = -d;
    for (int j = 0; j < kQK1_0; ++j) y[j] = bit(blk, j) ? d : neg_d;
  });
}

// One block of quantize_row_q1_0_ref: d = (sum |x|) / 128, summed in element order in fp32 (the
// mean magnitude); bit = x >= 0, so -0 gives 1 and NaN 0.
void encode_block(const float* x, uint8_t* out) {
  float sum = 0.0f;
  for (int j = 0; j < kQK1_0; ++j) sum += std::fabs(x[j]);
  BlockQ1_0 blk{};
  blk.d = f32_to_fp16(sum / 128.0f);
  for (int j = 0; j < kQK1_0; ++j)
    if (x[j] >= 0.0f) blk.qs[j / 8] |= static_cast<uint8_t>(1u << (j % 8));
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_q1_0_q8_0: element levels +-1, four activation blocks per weight block.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_0_grouped_gemv<kQK1_0, sizeof(BlockQ1_0)>(w, act, r0, r1, y,
                                               [](const uint8_t* blk, int e) { return bit(blk, e) ? 1 : -1; });
}

}  // namespace

Format q1_0_format(Format f) {
  f.activation = &q8_0_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK1_0, sizeof(BlockQ1_0), encode_block>;
  f.exact_gemv_case = legacy_exact_case<ExactScales::fp16_d>;
  // Upstream's path for one product: dy_k*sumi_k, 4 additions into t, dx*t, one addition per
  // weight block: cols/128 + 6 roundings. A kernel scaling each activation block by dx*dy_k (2
  // roundings) and summing cols/32 such terms over up to 64 lanes (+6) is the longest correct
  // path: the q8_0-paired depth cols/32 + 2 + 6 covers both.
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;
  return f;
}

}  // namespace qb::ggml

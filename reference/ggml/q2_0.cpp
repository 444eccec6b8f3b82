// q2_0 golden reference (specs/ggml.md 3.8, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q2_0.h"

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

// The code of element j, 0..3 (value (q - 1) * d: -1, 0, +1, +2).
int code(const uint8_t* blk, int j) { return (blk[2 + j / 4] >> (2 * (j % 4))) & 3; }

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_blocks<kQK2_0, sizeof(BlockQ2_0)>(w, r0, r1, out, [](const uint8_t* blk, float* y) {
    const float d = fp16_to_f32(load_u16(blk));
    for (int j = 0; j < kQK2_0; ++j) y[j] = static_cast<float>(code(blk, j) - 1) * d;
  });
}

// One block of quantize_row_q2_0_ref: d = amax (first largest |x|), id = 1/d in fp32, code =
// clamp((int)roundf(x*id) + 1, 0, 3): levels -1, 0, +1 (roundf: half away from zero), so code 3
// (+2 d) is never produced.
void encode_block(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (int j = 0; j < kQK2_0; ++j)
    if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
  const float d = amax;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  BlockQ2_0 blk{};
  blk.d = f32_to_fp16(d);
  for (int j = 0; j < kQK2_0; ++j) {
    const int32_t level = cvtt_i32(std::round(x[j] * id));
    const int q = level < -1 ? 0 : (level > 2 ? 3 : level + 1);  // no int32 overflow at the ends
    blk.qs[j / 4] |= static_cast<uint8_t>(q << (2 * (j % 4)));
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_q2_0_q8_0: element levels q - 1, two activation blocks per weight block.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_0_grouped_gemv<kQK2_0, sizeof(BlockQ2_0)>(w, act, r0, r1, y,
                                               [](const uint8_t* blk, int e) { return code(blk, e) - 1; });
}

}  // namespace

Format q2_0_format(Format f) {
  f.activation = &q8_0_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK2_0, sizeof(BlockQ2_0), encode_block>;
  f.exact_gemv_case = legacy_exact_case<ExactScales::fp16_d>;
  // Upstream's path for one product: dy_k*sumi_k, 2 additions into t, dx*t, one addition per
  // weight block: cols/64 + 4 roundings. A kernel scaling each activation block by dx*dy_k (2
  // roundings) and summing cols/32 such terms over up to 64 lanes (+6) is the longest correct
  // path: the q8_0-paired depth cols/32 + 2 + 6 covers both.
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;
  return f;
}

}  // namespace qb::ggml

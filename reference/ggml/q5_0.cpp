// q5_0 golden reference (specs/ggml.md 3.3, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q5_0.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_common.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb::ggml {
namespace {

// The block's 32 codes q - 16, in [-16, 15]: qh at bytes 2-5, qs from byte 6.
void signed_codes(const uint8_t* blk, int q[32]) {
  q5_codes(blk + 2, blk + 6, q);
  for (int j = 0; j < kQK5_0; ++j) q[j] -= 16;
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_blocks<kQK5_0, sizeof(BlockQ5_0)>(w, r0, r1, out, [](const uint8_t* blk, float* y) {
    const float d = fp16_to_f32(load_u16(blk));
    int q[32];
    signed_codes(blk, q);
    for (int j = 0; j < kQK5_0; ++j) y[j] = static_cast<float>(q[j]) * d;
  });
}

// One block of quantize_row_q5_0_ref.
void encode_block(const float* x, uint8_t* out) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK5_0; ++j) {
    if (amax < std::fabs(x[j])) {  // strict: the first extreme wins ties
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -16.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;  // levels use the unrounded fp32 id
  BlockQ5_0 blk;
  blk.d = f32_to_fp16(d);
  uint8_t L[kQK5_0];
  // MIN(31, (int8_t)(v + 16.5f)): round half up; the extreme maps to level 0, the other side
  // saturates at 31 (+15 d).
  for (int j = 0; j < kQK5_0; ++j)
    L[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(trunc_low_byte(x[j] * id + 16.5f)))));
  pack_q5_codes(L, blk.qh, blk.qs);
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_q5_0_q8_0 (strict rebuild, spec 4.2 and 7.1): exact integer block sum,
// then (dx*dy)*(float)sumi.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  strict_gemv<kQK5_0, sizeof(BlockQ5_0), sizeof(BlockQ8_0)>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
    int q[32];
    signed_codes(blk, q);
    const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 2);
    int32_t sumi = 0;
    for (int j = 0; j < kQK5_0; ++j) sumi += q[j] * xq[j];
    return (fp16_to_f32(load_u16(blk)) * fp16_to_f32(load_u16(xb))) * static_cast<float>(sumi);
  });
}

}  // namespace

Format q5_0_format(Format f) {
  f.activation = &q8_0_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK5_0, sizeof(BlockQ5_0), encode_block>;
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;  // (dx*dy)*sumi: 2 roundings per 32-element term, as q4_0
  f.exact_gemv_case = q8_0_paired_exact_case;
  return f;
}

}  // namespace qb::ggml

// q4_0 golden reference (specs/ggml.md 3.1, 4.2). Compiled with -ffp-contract=off: every
// operation below rounds to fp32 exactly where upstream's does.
#include "reference/ggml/q4_0.h"

#include <cmath>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb::ggml {
namespace {

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK4_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK4_0, sizeof(BlockQ4_0));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockQ4_0), y += kQK4_0) {
      const float d = fp16_to_f32(load_u16(blk));
      const uint8_t* qs = blk + 2;
      for (int j = 0; j < kQK4_0 / 2; ++j) {
        y[j] = static_cast<float>((qs[j] & 15) - 8) * d;
        y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
      }
    }
  }
}

void encode_block(const float* x, uint8_t* out) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK4_0; ++j) {
    if (amax < std::fabs(x[j])) {  // strict: the first extreme wins ties
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;  // levels use the unrounded fp32 id
  const uint16_t dh = f32_to_fp16(d);
  std::memcpy(out, &dh, 2);
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    // Truncation of a non-negative value: round half up; the extreme maps to level 0.
    int lo = static_cast<int>(x[j] * id + 8.5f);
    int hi = static_cast<int>(x[j + 16] * id + 8.5f);
    lo = lo < 15 ? lo : 15;
    hi = hi < 15 ? hi : 15;
    out[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

// Upstream ggml_vec_dot_q4_0_q8_0: exact integer block sum, then ((float)sumi * d_w) * d_x.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_0_paired_gemv<sizeof(BlockQ4_0)>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
    const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 2);
    int32_t sumi = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      sumi += ((blk[2 + j] & 15) - 8) * xq[j];
      sumi += ((blk[2 + j] >> 4) - 8) * xq[j + 16];
    }
    return (static_cast<float>(sumi) * fp16_to_f32(load_u16(blk))) * fp16_to_f32(load_u16(xb));
  });
}

}  // namespace

Format q4_0_format(Format f) {
  f.activation = &q8_0_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK4_0, sizeof(BlockQ4_0), encode_block>;
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;
  f.exact_gemv_case = q8_0_paired_exact_case;
  return f;
}

}  // namespace qb::ggml

// mxfp4 golden reference (specs/ggml.md 3.9, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/mxfp4.h"

#include <cmath>
#include <cstring>

#include "reference/ggml/blocks.h"
#include "reference/ggml/fp4.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_exact_case.h"
#include "reference/ggml/legacy_common.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb::ggml {
namespace {

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQKMxfp4;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQKMxfp4, sizeof(BlockMxfp4));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockMxfp4), y += kQKMxfp4) {
      const float d = e8m0_half(blk[0]);
      for (int j = 0; j < kQKMxfp4 / 2; ++j) {
        y[j] = static_cast<float>(kValuesFp4[blk[1 + j] & 15]) * d;
        y[j + 16] = static_cast<float>(kValuesFp4[blk[1 + j] >> 4]) * d;
      }
    }
  }
}

// One block of quantize_row_mxfp4_ref: e = (uint8_t)(floorf(log2f(amax)) - 2 + 127) for
// amax > 0, else 0: the power of two that puts amax in [4, 8) times the half scale, so the largest
// code 12 (E2M1's 6) reaches it. log2f is the C library's, as upstream calls it (near a power of
// two its rounding decides the floor). The conversion to uint8_t is x86's (legacy_common.h):
// amax below 2^-125 gives a negative value, kept modulo 256. Codes: nearest table value.
void encode_block(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (int j = 0; j < kQKMxfp4; ++j)
    if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
  const uint8_t e = amax > 0.0f ? trunc_low_byte(std::floor(std::log2(amax)) - 2.0f + 127.0f) : 0;
  const float d = e8m0_half(e);
  BlockMxfp4 blk;
  blk.e = e;
  for (int j = 0; j < kQKMxfp4 / 2; ++j)
    blk.qs[j] = static_cast<uint8_t>(best_fp4_index(x[j], d) | best_fp4_index(x[j + 16], d) << 4);
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_mxfp4_q8_0: exact integer sum of table values times activation levels,
// then (dy*e8m0_half(e))*(float)sumi.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  strict_gemv<kQKMxfp4, sizeof(BlockMxfp4), sizeof(BlockQ8_0)>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
    const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 2);
    int32_t sumi = 0;
    for (int j = 0; j < kQKMxfp4 / 2; ++j) {
      sumi += kValuesFp4[blk[1 + j] & 15] * xq[j];
      sumi += kValuesFp4[blk[1 + j] >> 4] * xq[j + 16];
    }
    return (fp16_to_f32(load_u16(xb)) * e8m0_half(blk[0])) * static_cast<float>(sumi);
  });
}

}  // namespace

Format mxfp4_format(Format f) {
  f.activation = &q8_0_activation();
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQKMxfp4, sizeof(BlockMxfp4), encode_block>;
  f.exact_gemv_case = legacy_exact_case<ExactScales::e8m0>;
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;  // one term of 2 roundings per 32 elements, as q4_0
  return f;
}

}  // namespace qb::ggml

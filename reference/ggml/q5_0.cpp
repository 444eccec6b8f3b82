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

// The block's 32 codes q - 16, in [-16, 15]: low nibble from qs, bit 4 from qh.
void signed_codes(const uint8_t* blk, int q[32]) {
  uint32_t qh;
  std::memcpy(&qh, blk + 2, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = ((blk[6 + j] & 15) | static_cast<int>((qh >> j) & 1u) << 4) - 16;
    q[j + 16] = ((blk[6 + j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1u) << 4) - 16;
  }
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK5_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK5_0, sizeof(BlockQ5_0));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockQ5_0), y += kQK5_0) {
      const float d = fp16_to_f32(load_u16(blk));
      int q[32];
      signed_codes(blk, q);
      for (int j = 0; j < kQK5_0; ++j) y[j] = static_cast<float>(q[j]) * d;
    }
  }
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
  uint32_t qh = 0;
  for (int j = 0; j < kQK5_0 / 2; ++j) {
    // MIN(31, (int8_t)(v + 16.5f)): round half up; the extreme maps to level 0, the other side
    // saturates at 31 (+15 d).
    const auto level = [&](float v) {
      return static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(trunc_low_byte(v * id + 16.5f)))));
    };
    const uint8_t lo = level(x[j]), hi = level(x[j + 16]);
    blk.qs[j] = static_cast<uint8_t>((lo & 0x0F) | (hi & 0x0F) << 4);
    qh |= static_cast<uint32_t>((lo & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((hi & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(blk.qh, &qh, 4);
  std::memcpy(out, &blk, sizeof blk);
}

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK5_0;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb) * sizeof(BlockQ5_0)));
  for (int64_t b = 0; b < nb; ++b) encode_block(src + b * kQK5_0, tensors[0].data() + b * sizeof(BlockQ5_0));
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
  f.encode_ref = encode;
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;  // (dx*dy)*sumi: 2 roundings per 32-element term, as q4_0
  f.exact_gemv_case = q8_0_paired_exact_case;
  return f;
}

}  // namespace qb::ggml

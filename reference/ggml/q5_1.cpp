// q5_1 golden reference (specs/ggml.md 3.4, 4.2); compiled with -ffp-contract=off, so every
// operation below rounds to fp32 exactly where upstream's does.
#include "reference/ggml/q5_1.h"

#include <cfloat>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_exact_case.h"
#include "reference/ggml/legacy_common.h"
#include "reference/ggml/q8_1_activation.h"

namespace qb::ggml {
namespace {

void codes(const uint8_t* blk, int q[32]) {
  uint32_t qh;
  std::memcpy(&qh, blk + 4, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (blk[8 + j] & 15) | static_cast<int>((qh >> j) & 1u) << 4;
    q[j + 16] = (blk[8 + j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1u) << 4;
  }
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK5_1;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK5_1, sizeof(BlockQ5_1));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockQ5_1), y += kQK5_1) {
      const float d = fp16_to_f32(load_u16(blk)), m = fp16_to_f32(load_u16(blk + 2));
      int q[32];
      codes(blk, q);
      for (int j = 0; j < kQK5_1; ++j) y[j] = scaled_plus_min(static_cast<float>(q[j]), d, m);
    }
  }
}

// One block of quantize_row_q5_1_ref.
void encode_block(const float* x, uint8_t* out) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < kQK5_1; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / 31.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;  // levels use the unrounded fp32 d and min
  BlockQ5_1 blk;
  blk.d = f32_to_fp16(d);
  blk.m = f32_to_fp16(min);
  uint32_t qh = 0;
  for (int j = 0; j < kQK5_1 / 2; ++j) {
    // (uint8_t)(v + 0.5f): round half up; no cap, (x - min) * id cannot exceed 31.
    const uint8_t lo = trunc_low_byte((x[j] - min) * id + 0.5f);
    const uint8_t hi = trunc_low_byte((x[j + 16] - min) * id + 0.5f);
    blk.qs[j] = static_cast<uint8_t>((lo & 0x0F) | (hi & 0x0F) << 4);
    qh |= static_cast<uint32_t>((lo & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((hi & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(blk.qh, &qh, 4);
  std::memcpy(out, &blk, sizeof blk);
}

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK5_1;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb) * sizeof(BlockQ5_1)));
  for (int64_t b = 0; b < nb; ++b) encode_block(src + b * kQK5_1, tensors[0].data() + b * sizeof(BlockQ5_1));
}

// Upstream ggml_vec_dot_q5_1_q8_1: exact integer sum of unsigned codes times activation levels,
// then (dx*dy)*(float)sumi + mx*sy, added to sumf.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  strict_gemv<kQK5_1, sizeof(BlockQ5_1), sizeof(BlockQ8_1)>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
    int q[32];
    codes(blk, q);
    const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 4);
    int32_t sumi = 0;
    for (int j = 0; j < kQK5_1; ++j) sumi += q[j] * xq[j];
    const float dx = fp16_to_f32(load_u16(blk)), mx = fp16_to_f32(load_u16(blk + 2));
    const float dy = fp16_to_f32(load_u16(xb)), sy = fp16_to_f32(load_u16(xb + 2));
    return (dx * dy) * static_cast<float>(sumi) + mx * sy;
  });
}

std::vector<double> bounds(const QWeight& w, const uint8_t* act, int64_t m) {
  return q8_1_paired_terms<sizeof(BlockQ5_1)>(w, act, m, false, codes);
}
std::vector<double> rms_terms(const QWeight& w, const uint8_t* act, int64_t m) {
  return q8_1_paired_terms<sizeof(BlockQ5_1)>(w, act, m, true, codes);
}

}  // namespace

Format q5_1_format(Format f) {
  f.activation = &q8_1_activation();
  f.fp16_scale_offsets = {0, 2};  // d and m
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode;
  f.exact_gemv_case = legacy_exact_case<ExactScales::fp16_d_m>;
  f.gemv_rounding_depth = q8_1_paired_rounding_depth;
  f.gemv_bounds = bounds;
  f.gemv_rms_terms = rms_terms;
  return f;
}

}  // namespace qb::ggml

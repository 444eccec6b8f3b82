// q4_1 golden reference (specs/ggml.md 3.2, 4.2); compiled with -ffp-contract=off, so every
// operation below rounds to fp32 exactly where upstream's does.
#include "reference/ggml/q4_1.h"

#include <algorithm>
#include <cfloat>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_exact_case.h"
#include "reference/ggml/legacy_common.h"
#include "reference/ggml/q8_1_activation.h"

namespace qb::ggml {
namespace {

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK4_1;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK4_1, sizeof(BlockQ4_1));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockQ4_1), y += kQK4_1) {
      const float d = fp16_to_f32(load_u16(blk)), m = fp16_to_f32(load_u16(blk + 2));
      const uint8_t* qs = blk + 4;
      for (int j = 0; j < kQK4_1 / 2; ++j) {
        y[j] = scaled_plus_min(static_cast<float>(qs[j] & 15), d, m);
        y[j + 16] = scaled_plus_min(static_cast<float>(qs[j] >> 4), d, m);
      }
    }
  }
}

// One block of quantize_row_q4_1_ref.
void encode_block(const float* x, uint8_t* out) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < kQK4_1; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / 15.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;  // levels use the unrounded fp32 d and min
  BlockQ4_1 blk;
  blk.d = f32_to_fp16(d);
  blk.m = f32_to_fp16(min);
  for (int j = 0; j < kQK4_1 / 2; ++j) {
    // MIN(15, (int8_t)(v + 0.5f)): truncation of a non-negative value, round half up.
    const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_low_byte((x[j] - min) * id + 0.5f))));
    const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_low_byte((x[j + 16] - min) * id + 0.5f))));
    blk.qs[j] = static_cast<uint8_t>(static_cast<uint8_t>(lo) | static_cast<uint8_t>(hi << 4));
  }
  std::memcpy(out, &blk, sizeof blk);
}

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK4_1;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb) * sizeof(BlockQ4_1)));
  for (int64_t b = 0; b < nb; ++b) encode_block(src + b * kQK4_1, tensors[0].data() + b * sizeof(BlockQ4_1));
}

void codes(const uint8_t* blk, int q[32]) {
  for (int j = 0; j < 16; ++j) {
    q[j] = blk[4 + j] & 15;
    q[j + 16] = blk[4 + j] >> 4;
  }
}

// Upstream ggml_vec_dot_q4_1_q8_1: exact integer sum of unsigned codes times activation levels,
// then (dx*dy)*(float)sumi + mx*sy, added to sumf.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  strict_gemv<kQK4_1, sizeof(BlockQ4_1), sizeof(BlockQ8_1)>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
    int q[32];
    codes(blk, q);
    const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 4);
    int32_t sumi = 0;
    for (int j = 0; j < kQK4_1; ++j) sumi += q[j] * xq[j];
    const float dx = fp16_to_f32(load_u16(blk)), mx = fp16_to_f32(load_u16(blk + 2));
    const float dy = fp16_to_f32(load_u16(xb)), sy = fp16_to_f32(load_u16(xb + 2));
    return (dx * dy) * static_cast<float>(sumi) + mx * sy;
  });
}

std::vector<double> bounds(const QWeight& w, const uint8_t* act, int64_t m) {
  return q8_1_paired_terms<sizeof(BlockQ4_1)>(w, act, m, false, codes);
}
std::vector<double> rms_terms(const QWeight& w, const uint8_t* act, int64_t m) {
  return q8_1_paired_terms<sizeof(BlockQ4_1)>(w, act, m, true, codes);
}

}  // namespace

Format q4_1_format(Format f) {
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

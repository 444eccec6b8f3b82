// q6_K golden reference (specs/ggml.md 3.11, 3.16, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q6_K.h"

#include <cmath>
#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/nearest_int.h"

namespace qb::ggml {
namespace {

constexpr int64_t kBytes = sizeof(BlockQ6_K);

// Half h (128 elements) uses ql[64h..64h+63] and qh[32h..32h+31]; element 128h + 32s + l takes
// its low nibble from ql[64h + l + 32*(s&1)] (low nibble for s < 2, high for s >= 2) and its
// high two bits from bits 2s..2s+1 of qh[32h + l].
void unpack(const uint8_t* p, KBlock& k) {
  BlockQ6_K b;
  std::memcpy(&b, p, sizeof b);
  k.d = fp16_to_f32(b.d);
  k.dmin = 0.0f;
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) {
        const int low = (b.ql[64 * h + l + 32 * (s & 1)] >> (4 * (s >> 1))) & 15;
        const int high = (b.qh[32 * h + l] >> (2 * s)) & 3;
        k.q[128 * h + 32 * s + l] = (low | (high << 4)) - 32;
      }
  for (int j = 0; j < 16; ++j) {
    k.scale[j] = b.scales[j];
    k.min[j] = 0;
  }
}

void encode_block(const float* x, BlockQ6_K& y) {
  int8_t L[kQK_K];
  float scales[16];
  float max_scale = 0.0f, max_abs_scale = 0.0f;  // the signed scale of largest magnitude
  for (int j = 0; j < 16; ++j) {
    scales[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j);
    const float abs_scale = std::fabs(scales[j]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[j];
    }
  }
  std::memset(&y, 0, sizeof y);
  if (max_abs_scale < 1e-15f) {  // upstream GROUP_MAX_EPS: the block is all zero bytes
    y.d = f32_to_fp16(0.0f);
    return;
  }
  const float iscale = -128.0f / max_scale;
  y.d = f32_to_fp16(1.0f / iscale);
  for (int j = 0; j < 16; ++j) {
    const int s = nearest_int(iscale * scales[j]);
    // Upstream stores MIN(127, s) into an int8_t: the extreme sub-block gets -128.
    y.scales[j] = static_cast<int8_t>(s < 127 ? s : 127);
  }
  // Levels again under the stored fp16 super-scale (pitfall 7.5); a sub-block whose scale is 0
  // keeps the search's levels.
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_f32(y.d) * static_cast<float>(y.scales[j]);
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i) {
      const int l = nearest_int(x[16 * j + i] / d);
      L[16 * j + i] = static_cast<int8_t>((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
    }
  }
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int8_t* q = L + 128 * h + l;  // levels of elements 128h + 32s + l, s = 0..3
      y.ql[64 * h + l] = static_cast<uint8_t>((q[0] & 15) | ((q[64] & 15) << 4));
      y.ql[64 * h + l + 32] = static_cast<uint8_t>((q[32] & 15) | ((q[96] & 15) << 4));
      y.qh[32 * h + l] = static_cast<uint8_t>((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
    }
}

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK_K;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb * kBytes)));
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ6_K y;
    encode_block(src + b * kQK_K, y);
    std::memcpy(tensors[0].data() + b * kBytes, &y, sizeof y);
  }
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  kquant_dequant(w, r0, r1, out, unpack, kBytes, false);
}
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  lane_order_gemv(w, act, r0, r1, y, unpack, kBytes, false);
}
std::vector<double> bounds(const QWeight& w, const uint8_t* act, int64_t m) {
  return kquant_gemv_bounds(w, act, m, unpack, kBytes);
}
std::vector<double> rms_terms(const QWeight& w, const uint8_t* act, int64_t m) {
  return kquant_gemv_rms_terms(w, act, m, unpack, kBytes);
}

}  // namespace

Format q6_K_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {offsetof(BlockQ6_K, d)};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode;
  f.gemv_rounding_depth = kquant_rounding_depth;
  f.gemv_bounds = bounds;
  f.gemv_rms_terms = rms_terms;
  return f;
}

}  // namespace qb::ggml

// q2_K golden reference (specs/ggml.md 3.11, 3.12, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q2_K.h"

#include <cmath>
#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/nearest_int.h"

namespace qb::ggml {
namespace {

void unpack(const uint8_t* p, KBlock& k) {
  BlockQ2_K b;
  std::memcpy(&b, p, sizeof b);
  k.d = fp16_to_f32(b.d);
  k.dmin = fp16_to_f32(b.dmin);
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) k.q[128 * h + 32 * s + l] = (b.qs[32 * h + l] >> (2 * s)) & 3;
  for (int j = 0; j < 16; ++j) {
    k.scale[j] = b.scales[j] & 15;
    k.min[j] = b.scales[j] >> 4;
  }
}

void encode_block(const float* x, BlockQ2_K& y) {
  constexpr float q4scale = 15.0f;  // 4-bit scales and mins
  uint8_t L[kQK_K];
  float weights[16], mins[16], scales[16];
  float max_scale = 0.0f, max_min = 0.0f;  // the min is subtracted, so scales are never negative
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  std::memset(&y, 0, sizeof y);
  if (max_scale > 0.0f) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < 16; ++j) y.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    y.d = f32_to_fp16(max_scale / q4scale);
  } else {
    y.d = f32_to_fp16(0.0f);
  }
  if (max_min > 0.0f) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < 16; ++j) y.scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
    y.dmin = f32_to_fp16(max_min / q4scale);
  } else {
    y.dmin = f32_to_fp16(0.0f);
  }
  // Levels again under the stored fp16 super-scales (pitfall 7.5); a sub-block whose scale
  // rounds to 0 keeps the search's levels.
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_f32(y.d) * static_cast<float>(y.scales[j] & 15);
    if (d == 0.0f) continue;
    const float dm = fp16_to_f32(y.dmin) * static_cast<float>(y.scales[j] >> 4);
    for (int i = 0; i < 16; ++i) {
      const int l = nearest_int((x[16 * j + i] + dm) / d);
      L[16 * j + i] = static_cast<uint8_t>(l < 0 ? 0 : l > 3 ? 3 : l);
    }
  }
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* q = L + 128 * h + l;
      y.qs[32 * h + l] = static_cast<uint8_t>(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
    }
}

}  // namespace

Format q2_K_format(Format f) {
  return kquant_format<BlockQ2_K, unpack, encode_block, true, KDotOrder::q2_K>(f, {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)});
}

}  // namespace qb::ggml

// q3_K golden reference (specs/ggml.md 3.11, 3.13, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q3_K.h"

#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/nearest_int.h"

namespace qb::ggml {
namespace {

void unpack(const uint8_t* p, KBlock& k) {
  BlockQ3_K b;
  std::memcpy(&b, p, sizeof b);
  k.d = fp16_to_f32(b.d);
  k.dmin = 0.0f;
  k.level_bias = 4;
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) {
        const int e = 128 * h + 32 * s + l;
        // A clear high bit means the level is 4 lower: levels span -4..3.
        k.q[e] = ((b.qs[32 * h + l] >> (2 * s)) & 3) - ((b.hmask[l] >> (4 * h + s)) & 1 ? 0 : 4);
      }
  for (int j = 0; j < 16; ++j) {
    k.scale[j] = q3_K_scale(j, b.scales);
    k.min[j] = 0;
  }
}

void encode_block(const float* x, BlockQ3_K& y) {
  int8_t L[kQK_K];
  float scales[16];
  for (int j = 0; j < 16; ++j) scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
  const float max_scale = largest_magnitude_scale(scales);
  std::memset(&y, 0, sizeof y);
  if (max_scale != 0.0f) {
    const float iscale = -32.0f / max_scale;
    for (int j = 0; j < 16; ++j) {
      // Upstream stores nearest_int's result into an int8_t before clamping (|value| <= 32 here).
      const int8_t n = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      const int l = (n < -32 ? -32 : n > 31 ? 31 : n) + 32;
      if (j < 8)
        y.scales[j] = static_cast<uint8_t>(l & 15);
      else
        y.scales[j - 8] |= static_cast<uint8_t>((l & 15) << 4);
      y.scales[j % 4 + 8] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
    }
    y.d = f32_to_fp16(1.0f / iscale);
  } else {
    y.d = f32_to_fp16(0.0f);
  }
  float dg[16];
  for (int j = 0; j < 16; ++j) dg[j] = fp16_to_f32(y.d) * static_cast<float>(q3_K_scale(j, y.scales));
  requantize_signed_levels(x, dg, 4, L);
  for (int e = 0; e < kQK_K; ++e) {
    if (L[e] > 3) {
      y.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
      L[e] = static_cast<int8_t>(L[e] - 4);
    }
  }
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int8_t* q = L + 128 * h + l;
      y.qs[32 * h + l] = static_cast<uint8_t>(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
    }
}

}  // namespace

Format q3_K_format(Format f) {
  return kquant_format<BlockQ3_K, unpack, encode_block, false, KDotOrder::lanes>(f, {offsetof(BlockQ3_K, d)});
}

}  // namespace qb::ggml

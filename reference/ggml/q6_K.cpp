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

// Half h (128 elements) uses ql[64h..64h+63] and qh[32h..32h+31]; element 128h + 32s + l takes
// its low nibble from ql[64h + l + 32*(s&1)] (low nibble for s < 2, high for s >= 2) and its
// high two bits from bits 2s..2s+1 of qh[32h + l].
void unpack(const uint8_t* p, KBlock& k) {
  BlockQ6_K b;
  std::memcpy(&b, p, sizeof b);
  k.d = fp16_to_f32(b.d);
  k.dmin = 0.0f;
  k.level_bias = 32;
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
  for (int j = 0; j < 16; ++j) scales[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j);
  const float max_scale = largest_magnitude_scale(scales);
  std::memset(&y, 0, sizeof y);
  if (std::fabs(max_scale) < 1e-15f) {  // upstream GROUP_MAX_EPS: the block is all zero bytes
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
  float dg[16];
  for (int j = 0; j < 16; ++j) dg[j] = fp16_to_f32(y.d) * static_cast<float>(y.scales[j]);
  requantize_signed_levels(x, dg, 32, L);
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int8_t* q = L + 128 * h + l;  // levels of elements 128h + 32s + l, s = 0..3
      y.ql[64 * h + l] = static_cast<uint8_t>((q[0] & 15) | ((q[64] & 15) << 4));
      y.ql[64 * h + l + 32] = static_cast<uint8_t>((q[32] & 15) | ((q[96] & 15) << 4));
      y.qh[32 * h + l] = static_cast<uint8_t>((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
    }
}

}  // namespace

Format q6_K_format(Format f) {
  return kquant_format<BlockQ6_K, unpack, encode_block, false, KDotOrder::lanes>(f, {offsetof(BlockQ6_K, d)});
}

}  // namespace qb::ggml

// q4_K golden reference (specs/ggml.md 3.11, 3.14, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q4_K.h"

#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/kquant_common.h"

namespace qb::ggml {
namespace {

void unpack(const uint8_t* p, KBlock& k) {
  BlockQ4_K b;
  std::memcpy(&b, p, sizeof b);
  k.d = fp16_to_f32(b.d);
  k.dmin = fp16_to_f32(b.dmin);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      k.q[64 * c + l] = b.qs[32 * c + l] & 15;
      k.q[64 * c + 32 + l] = b.qs[32 * c + l] >> 4;
    }
  unpack_scale_min_k4(b.scales, k);
}

void encode_block(const float* x, BlockQ4_K& y) {
  uint8_t L[kQK_K];
  quantize_k4_sub_blocks(x, 15, -1.0f, 20, y.d, y.dmin, y.scales, L);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) y.qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

}  // namespace

Format q4_K_format(Format f) {
  return kquant_format<BlockQ4_K, unpack, encode_block, true, KDotOrder::lanes>(f, {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)});
}

}  // namespace qb::ggml

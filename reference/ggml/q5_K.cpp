// q5_K golden reference (specs/ggml.md 3.11, 3.15, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q5_K.h"

#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/kquant_common.h"

namespace qb::ggml {
namespace {

void unpack(const uint8_t* p, KBlock& k) {
  BlockQ5_K b;
  std::memcpy(&b, p, sizeof b);
  k.d = fp16_to_f32(b.d);
  k.dmin = fp16_to_f32(b.dmin);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      k.q[64 * c + l] = (b.qs[32 * c + l] & 15) + ((b.qh[l] >> (2 * c)) & 1) * 16;
      k.q[64 * c + 32 + l] = (b.qs[32 * c + l] >> 4) + ((b.qh[l] >> (2 * c + 1)) & 1) * 16;
    }
  unpack_scale_min_k4(b.scales, k);
}

void encode_block(const float* x, BlockQ5_K& y) {
  uint8_t L[kQK_K];
  quantize_k4_sub_blocks(x, 31, -0.5f, 15, y.d, y.dmin, y.scales, L);
  std::memset(y.qh, 0, sizeof y.qh);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
      y.qs[32 * c + l] = static_cast<uint8_t>((lo & 15) | ((hi & 15) << 4));
      y.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
}

}  // namespace

Format q5_K_format(Format f) {
  return kquant_format<BlockQ5_K, unpack, encode_block, true, KDotOrder::lanes>(f, {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)});
}

}  // namespace qb::ggml

// q4_1 golden reference (specs/ggml.md 3.2, 4.2); compiled with -ffp-contract=off, so every
// operation below rounds to fp32 exactly where upstream's does.
#include "reference/ggml/q4_1.h"

#include <algorithm>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_common.h"

namespace qb::ggml {
namespace {

// Element j's unsigned code: the low nibble of qs[j] for j < 16, the high nibble of qs[j - 16].
void codes(const uint8_t* blk, int q[32]) {
  for (int j = 0; j < 16; ++j) {
    q[j] = blk[4 + j] & 15;
    q[j + 16] = blk[4 + j] >> 4;
  }
}

// One block of quantize_row_q4_1_ref.
void encode_block(const float* x, uint8_t* out) {
  float min, max;
  block_min_max(x, kQK4_1, min, max);
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

}  // namespace

Format q4_1_format(Format f) { return q8_1_paired_format<sizeof(BlockQ4_1), codes, encode_block>(f); }

}  // namespace qb::ggml

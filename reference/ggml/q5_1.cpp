// q5_1 golden reference (specs/ggml.md 3.4, 4.2); compiled with -ffp-contract=off, so every
// operation below rounds to fp32 exactly where upstream's does.
#include "reference/ggml/q5_1.h"

#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/legacy_common.h"

namespace qb::ggml {
namespace {

// The unsigned 5-bit codes: qh at bytes 4-7, qs from byte 8.
void codes(const uint8_t* blk, int q[32]) { q5_codes(blk + 4, blk + 8, q); }

// One block of quantize_row_q5_1_ref.
void encode_block(const float* x, uint8_t* out) {
  float min, max;
  block_min_max(x, kQK5_1, min, max);
  const float d = (max - min) / 31.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;  // levels use the unrounded fp32 d and min
  BlockQ5_1 blk;
  blk.d = f32_to_fp16(d);
  blk.m = f32_to_fp16(min);
  uint8_t L[kQK5_1];
  // (uint8_t)(v + 0.5f): round half up; no cap, (x - min) * id cannot exceed 31.
  for (int j = 0; j < kQK5_1; ++j) L[j] = trunc_low_byte((x[j] - min) * id + 0.5f);
  pack_q5_codes(L, blk.qh, blk.qs);
  std::memcpy(out, &blk, sizeof blk);
}

}  // namespace

Format q5_1_format(Format f) { return q8_1_paired_format<sizeof(BlockQ5_1), codes, encode_block>(f); }

}  // namespace qb::ggml

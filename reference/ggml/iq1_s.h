// iq1_s (specs/ggml.md 3.28): 256 elements, fp16 d, 11-bit iq1s_grid indices (values -1, 0, 1)
// per 8 elements, and per 32-group a 3-bit scale and the sign of a +-0.125 shift. Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ1_S {
  uint16_t d;        // fp16 super-block scale
  uint8_t qs[32];    // low 8 index bits of 8-group g
  uint16_t qh[8];    // 32-group ib: bits 3l..3l+2 index bits 8-10 of 8-group l, 12-14 scale, 15 shift sign
};
static_assert(sizeof(BlockIQ1_S) == 50, "iq1_s block is 50 bytes");

// Registry entry: decoder, strict-order GEMV, and upstream's quantizer with an all-ones
// importance matrix as encoder (upstream has no reference quantizer without one).
Format iq1_s_format(Format catalog_entry);

}  // namespace qb::ggml

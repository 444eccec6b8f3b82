// iq2_xs (specs/ggml.md 3.24): 256 elements, fp16 d, 32 uint16 (9-bit iq2xs_grid index, 7-bit
// sign index) and a 4-bit scale per 16 elements. Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ2_XS {
  uint16_t d;          // fp16 super-block scale
  uint16_t qs[32];     // 8-group g: bits 0-8 grid index, bits 9-15 sign index
  uint8_t scales[8];   // 32-group ib: low nibble for 8-groups 0,1; high nibble for 2,3
};
static_assert(sizeof(BlockIQ2_XS) == 74, "iq2_xs block is 74 bytes");

// Registry entry: decoder, strict-order GEMV, and upstream's quantizer with an all-ones
// importance matrix as encoder (upstream has no reference quantizer without one).
Format iq2_xs_format(Format catalog_entry);

}  // namespace qb::ggml

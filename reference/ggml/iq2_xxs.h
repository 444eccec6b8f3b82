// iq2_xxs (specs/ggml.md 3.23): 256 elements, fp16 d, per 32-group four iq2xxs_grid indices and
// a uint32 of 4 x 7 sign indices (ksigns_iq2xs) plus a 4-bit scale. Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ2_XXS {
  uint16_t d;       // fp16 super-block scale
  uint8_t qs[64];   // group ib: bytes 8ib..8ib+3 grid indices, 8ib+4..8ib+7 the uint32 LE `a`
};
static_assert(sizeof(BlockIQ2_XXS) == 66, "iq2_xxs block is 66 bytes");

// Registry entry: decoder, strict-order GEMV, and upstream's quantizer with an all-ones
// importance matrix as encoder (upstream has no reference quantizer without one).
Format iq2_xxs_format(Format catalog_entry);

}  // namespace qb::ggml

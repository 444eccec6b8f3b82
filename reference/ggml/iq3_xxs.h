// iq3_xxs (specs/ggml.md 3.26): 256 elements, fp16 d, two iq3xxs_grid indices per 8 elements
// and per 32-group a uint32 of 4 x 7 sign indices plus a 4-bit scale. Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ3_XXS {
  uint16_t d;       // fp16 super-block scale
  uint8_t qs[96];   // 0-63: grid indices, two per 8-group; 64-95: eight uint32 LE, one per 32-group
};
static_assert(sizeof(BlockIQ3_XXS) == 98, "iq3_xxs block is 98 bytes");

// Registry entry: decoder and strict-order GEMV.
Format iq3_xxs_format(Format catalog_entry);

}  // namespace qb::ggml

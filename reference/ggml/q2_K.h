// q2_K: 256 elements in 84 bytes, 16 sub-blocks of 16 with 4-bit scales and mins (specs/ggml.md 3.12).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockQ2_K {
  uint8_t scales[16];  // sub-block s: scale in the low nibble, min in the high nibble
  uint8_t qs[64];      // 2-bit levels; element 128h + 32k + l is bits 2k..2k+1 of qs[32h + l]
  uint16_t d;          // fp16 super-scale of the scales
  uint16_t dmin;       // fp16 super-scale of the mins
};
static_assert(sizeof(BlockQ2_K) == 84, "q2_K block is 84 bytes");

// Registry entry: decoder, encoder (quantize_row_q2_K_ref), strict-order q8_K GEMV, bounds.
Format q2_K_format(Format catalog_entry);

}  // namespace qb::ggml

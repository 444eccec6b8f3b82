// q4_K: 256 elements in 144 bytes, 8 sub-blocks of 32 with 6-bit scales and mins (specs/ggml.md 3.14).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockQ4_K {
  uint16_t d;          // fp16 super-scale of the scales
  uint16_t dmin;       // fp16 super-scale of the mins
  uint8_t scales[12];  // 8 (scale, min) pairs of 6 bits (kquant_common.h get_scale_min_k4)
  uint8_t qs[128];     // element 64c + l: low nibble of qs[32c + l]; 64c + 32 + l: its high nibble
};
static_assert(sizeof(BlockQ4_K) == 144, "q4_K block is 144 bytes");

// Registry entry: decoder, encoder (quantize_row_q4_K_ref), strict-order q8_K GEMV, bounds.
Format q4_K_format(Format catalog_entry);

}  // namespace qb::ggml

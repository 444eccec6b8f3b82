// q3_K: 256 elements in 110 bytes, 16 sub-blocks of 16 with signed 6-bit scales (specs/ggml.md 3.13).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockQ3_K {
  uint8_t hmask[32];   // element e's third bit ("+4") is bit e/32 of hmask[e%32]
  uint8_t qs[64];      // low 2 bits, packed as q2_K's
  uint8_t scales[12];  // 16 scales of 6 bits, stored +32 (kquant_common.h q3_K_scale)
  uint16_t d;          // fp16 super-scale
};
static_assert(sizeof(BlockQ3_K) == 110, "q3_K block is 110 bytes");

// Registry entry: decoder, encoder (quantize_row_q3_K_ref), strict-order q8_K GEMV, bounds.
Format q3_K_format(Format catalog_entry);

}  // namespace qb::ggml

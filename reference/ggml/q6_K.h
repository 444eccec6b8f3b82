// q6_K: 256 elements in 210 bytes, 16 sub-blocks of 16 with int8 scales (specs/ggml.md 3.16).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockQ6_K {
  uint8_t ql[128];    // low 4 bits (element mapping in q6_K.cpp)
  uint8_t qh[64];     // high 2 bits
  int8_t scales[16];  // per 16-element sub-block
  uint16_t d;         // fp16 super-scale
};
static_assert(sizeof(BlockQ6_K) == 210, "q6_K block is 210 bytes");

// Registry entry: decoder, encoder (quantize_row_q6_K_ref), strict-order q8_K GEMV, bounds.
Format q6_K_format(Format catalog_entry);

}  // namespace qb::ggml

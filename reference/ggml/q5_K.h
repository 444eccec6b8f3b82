// q5_K: q4_K's layout plus a fifth bit per element, 176 bytes (specs/ggml.md 3.15).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockQ5_K {
  uint16_t d;          // fp16 super-scale of the scales
  uint16_t dmin;       // fp16 super-scale of the mins
  uint8_t scales[12];  // 8 (scale, min) pairs of 6 bits (kquant_common.h get_scale_min_k4)
  uint8_t qh[32];      // element 64c + l: bit 2c of qh[l] adds 16; 64c + 32 + l: bit 2c + 1
  uint8_t qs[128];     // low 4 bits, packed as q4_K's
};
static_assert(sizeof(BlockQ5_K) == 176, "q5_K block is 176 bytes");

// Registry entry: decoder, encoder (quantize_row_q5_K_ref), strict-order q8_K GEMV, bounds.
Format q5_K_format(Format catalog_entry);

}  // namespace qb::ggml

// iq3_s (specs/ggml.md 3.27): 256 elements, fp16 d, 9-bit iq3s_grid indices (two per 8
// elements), a full sign byte per 8 elements and a 4-bit scale per 32. Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ3_S {
  uint16_t d;          // fp16 super-block scale
  uint8_t qs[64];      // low 8 index bits, two per 8-group
  uint8_t qh[8];       // 32-group ib: bit k = index bit 8 of its k-th index (k = 2l, 2l+1)
  uint8_t signs[32];   // sign byte of 8-group g
  uint8_t scales[4];   // nibble ib%2 of byte ib/2: scale of 32-group ib
};
static_assert(sizeof(BlockIQ3_S) == 110, "iq3_s block is 110 bytes");

// Registry entry: decoder and strict-order GEMV.
Format iq3_s_format(Format catalog_entry);

}  // namespace qb::ggml

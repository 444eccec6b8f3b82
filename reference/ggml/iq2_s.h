// iq2_s (specs/ggml.md 3.25): 256 elements, fp16 d, 10-bit iq2s_grid indices (low 8 bits in qs,
// high 2 in qh), a full sign byte per 8 elements and a 4-bit scale per 16. Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ2_S {
  uint16_t d;          // fp16 super-block scale
  uint8_t qs[64];      // 0-31: low 8 index bits of 8-group g; 32-63: sign byte of 8-group g
  uint8_t qh[8];       // 32-group ib: bits 2l..2l+1 = index bits 8-9 of its 8-group l
  uint8_t scales[8];   // 32-group ib: low nibble for 8-groups 0,1; high nibble for 2,3
};
static_assert(sizeof(BlockIQ2_S) == 82, "iq2_s block is 82 bytes");

// Registry entry: decoder and strict-order GEMV.
Format iq2_s_format(Format catalog_entry);

}  // namespace qb::ggml

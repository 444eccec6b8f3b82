// iq4_xs (specs/ggml.md 3.21): 256 elements, fp16 d, eight 6-bit sub-block scales, nibbles
// indexing kvalues_iq4nl. Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ4_XS {
  uint16_t d;            // fp16 super-block scale
  uint16_t scales_h;     // bits 2ib..2ib+1: high 2 bits of sub-block ib's scale
  uint8_t scales_l[4];   // nibble ib%2 of byte ib/2: low 4 bits of sub-block ib's scale
  uint8_t qs[128];       // sub-block ib: qs[16ib + j] holds elements j (low) and j + 16 (high)
};
static_assert(sizeof(BlockIQ4_XS) == 136, "iq4_xs block is 136 bytes");

// Registry entry: decoder, encoder (quantize_iq4_xs without imatrix = from_float_ref),
// strict-order GEMV on q8_K.
Format iq4_xs_format(Format catalog_entry);

}  // namespace qb::ggml

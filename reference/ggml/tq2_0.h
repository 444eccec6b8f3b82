// tq2_0: ternary, 256 elements in 66 bytes, four 2-bit codes per byte (specs/ggml.md 3.19).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockTQ2_0 {
  uint8_t qs[64];  // byte 32c + m holds elements 128c + 32n + m at bits 2n..2n+1
  uint16_t d;      // fp16 scale
};
static_assert(sizeof(BlockTQ2_0) == 66, "tq2_0 block is 66 bytes");

// Registry entry: decoder, encoder (quantize_row_tq2_0_ref), strict-order q8_K GEMV.
Format tq2_0_format(Format catalog_entry);

}  // namespace qb::ggml

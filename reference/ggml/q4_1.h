#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK4_1 = 32;
struct BlockQ4_1 {
  uint16_t d;              // fp16 scale
  uint16_t m;              // fp16 min (the block's smallest value)
  uint8_t qs[kQK4_1 / 2];  // byte j: element j (low nibble), element j+16 (high nibble), unsigned
};
static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block is 20 bytes");

// Registry entry (specs/ggml.md 3.2): decoder, encoder (quantize_row_q4_1_ref), strict-order GEMV
// against q8_1 activations, with the q8_1-paired bounds (legacy_common.h).
Format q4_1_format(Format catalog_entry);

}  // namespace qb::ggml

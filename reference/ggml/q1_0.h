#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK1_0 = 128;
struct BlockQ1_0 {
  uint16_t d;              // fp16 scale
  uint8_t qs[kQK1_0 / 8];  // element j: bit j % 8 of byte j / 8; 1 is +d, 0 is -d
};
static_assert(sizeof(BlockQ1_0) == 18, "q1_0 block is 18 bytes");

// Registry entry (specs/ggml.md 3.7): decoder, encoder (quantize_row_q1_0_ref), strict-order GEMV
// against q8_0 activations (four activation blocks per weight block).
Format q1_0_format(Format catalog_entry);

}  // namespace qb::ggml

#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK2_0 = 64;
struct BlockQ2_0 {
  uint16_t d;              // fp16 scale
  uint8_t qs[kQK2_0 / 4];  // element j: bits 2*(j % 4) and up of byte j / 4, value (q - 1) * d
};
static_assert(sizeof(BlockQ2_0) == 18, "q2_0 block is 18 bytes");

// Registry entry (specs/ggml.md 3.8): decoder, encoder (quantize_row_q2_0_ref), strict-order GEMV
// against q8_0 activations (two activation blocks per weight block).
Format q2_0_format(Format catalog_entry);

}  // namespace qb::ggml

#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK5_0 = 32;
struct BlockQ5_0 {
  uint16_t d;              // fp16 scale
  uint8_t qh[4];           // uint32 LE: bit k = bit 4 of element k
  uint8_t qs[kQK5_0 / 2];  // low nibbles, byte j: element j (low), element j+16 (high)
};
static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block is 22 bytes");

// Registry entry (specs/ggml.md 3.3): decoder, encoder (quantize_row_q5_0_ref), strict-order GEMV
// against q8_0 activations.
Format q5_0_format(Format catalog_entry);

}  // namespace qb::ggml

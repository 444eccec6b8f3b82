#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK5_1 = 32;
struct BlockQ5_1 {
  uint16_t d;              // fp16 scale
  uint16_t m;              // fp16 min
  uint8_t qh[4];           // uint32 LE: bit k = bit 4 of element k
  uint8_t qs[kQK5_1 / 2];  // low nibbles, byte j: element j (low), element j+16 (high)
};
static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block is 24 bytes");

// Registry entry (specs/ggml.md 3.4): decoder, encoder (quantize_row_q5_1_ref), strict-order GEMV
// against q8_1 activations, with the q8_1-paired bounds (legacy_common.h).
Format q5_1_format(Format catalog_entry);

}  // namespace qb::ggml

// tq1_0: ternary, 256 elements in 54 bytes, five trits per byte in base 3 (specs/ggml.md 3.18).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockTQ1_0 {
  uint8_t qs[48];  // 5 trits per byte: qs[m] (m < 32) elements 32n + m, qs[32 + m] (m < 16) 160 + 16n + m
  uint8_t qh[4];   // 4 trits per byte: qh[j] elements 240 + 4n + j
  uint16_t d;      // fp16 scale
};
static_assert(sizeof(BlockTQ1_0) == 54, "tq1_0 block is 54 bytes");

// Trit n (0 = most significant) of a packed byte b: ((uint8_t)(b * 3^n) * 3) >> 8, in 0..2.
// The product wraps modulo 256 on purpose: the byte is a fixed-point fraction q/243 scaled by
// 256, and multiplying by 3^n shifts the wanted trit to the top (pitfall 7.8).
int tq1_0_trit(uint8_t b, int n);

// Registry entry: decoder, encoder (quantize_row_tq1_0_ref), strict-order q8_K GEMV.
Format tq1_0_format(Format catalog_entry);

}  // namespace qb::ggml

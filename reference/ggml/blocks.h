// GGML block structs: packed, little-endian, sizes asserted as upstream does (specs/ggml.md).
#pragma once
#include <cstdint>

namespace qb::ggml {

constexpr int kQK4_0 = 32;
struct BlockQ4_0 {
  uint16_t d;            // fp16 scale
  uint8_t qs[kQK4_0 / 2];  // byte j: element j (low nibble), element j+16 (high nibble)
};
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block is 18 bytes");

constexpr int kQK8_0 = 32;
struct BlockQ8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block is 34 bytes");

}  // namespace qb::ggml

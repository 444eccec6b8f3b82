// iq2_xxs block fields as the x86 kernels read them (specs/ggml.md 3.23; reference/ggml/iq2_xxs.cpp).
#pragma once
#include <cstdint>
#include <cstring>

#include "optimized/mutation.h"
#include "reference/ggml/iq2_xxs.h"
#include "reference/ggml/iq_tables.h"

namespace qb::x86::iq2_xxs {

constexpr int64_t kBlock = sizeof(ggml::BlockIQ2_XXS);

// 32-group ib's uint32 `a`: sign index of 8-group l in bits 7l..7l+6, scale s in bits 28..31.
inline uint32_t group_word(const uint8_t* blk, int ib) {
  uint32_t a;
  std::memcpy(&a, blk + 2 + 8 * ib + 4, 4);
  return a;
}

// Grid entry of 8-group l of 32-group ib: 8 magnitudes in {8, 25, 43}.
inline uint64_t grid_entry(const uint8_t* blk, int ib, int l) { return ggml::iq2xxs_grid[blk[2 + 8 * ib + l]]; }

// Sign bits of the group of word a: byte l = ksigns_iq2xs[7-bit index l] (bit e: element e negative).
inline uint32_t group_signs(uint32_t a) {
  const int width = QB_MUTANT_ON(iq2_xxs_gemv2_sign_index_stride8) ? 8 : 7;
  uint32_t s = 0;
  for (int l = 0; l < 4; ++l) s |= uint32_t{ggml::ksigns_iq2xs[(a >> (width * l)) & 127]} << (8 * l);
  return s;
}

}  // namespace qb::x86::iq2_xxs

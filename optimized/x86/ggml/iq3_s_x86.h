// iq3_s block fields as the x86 kernels read them (specs/ggml.md 3.27; reference/ggml/iq3_s.cpp).
#pragma once
#include <cstdint>
#include <cstring>

#include "optimized/mutation.h"
#include "reference/ggml/iq3_s.h"
#include "reference/ggml/iq_tables.h"

namespace qb::x86::iq3_s {

constexpr int64_t kBlock = sizeof(ggml::BlockIQ3_S);
constexpr int kQs = 2, kQh = 66, kSigns = 74, kScales = 106;  // byte offsets in the block

// Grid entry k (0..7) of 32-group ib: 4 magnitudes, elements 4k..4k+3 of the group. The 9-bit
// index is qs[8ib + k] with bit k of qh[ib] as its bit 8.
inline uint32_t grid_entry(const uint8_t* blk, int ib, int k) {
  const int high = QB_MUTANT_ON(iq3_s_dq2_index_bit8_dropped) ? 0 : (blk[kQh + ib] >> k) & 1;
  return ggml::iq3s_grid[blk[kQs + 8 * ib + k] | high << 8];
}

// Sign bits of 32-group ib: bit e set = element e negative.
inline uint32_t group_signs(const uint8_t* blk, int ib) {
  uint32_t s;
  std::memcpy(&s, blk + kSigns + 4 * ib, 4);
  return s;
}

// The odd scale 2s + 1 of 32-group ib (s: nibble ib % 2 of scales[ib / 2]).
inline int group_scale(const uint8_t* blk, int ib) {
  const int nibble = QB_MUTANT_ON(iq3_s_gemv2_scale_nibble_swap) ? 1 - ib % 2 : ib % 2;
  return 1 + 2 * ((blk[kScales + ib / 2] >> (4 * nibble)) & 15);
}

}  // namespace qb::x86::iq3_s

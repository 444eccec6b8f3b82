#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQKMxfp4 = 32;
struct BlockMxfp4 {
  uint8_t e;                 // E8M0 scale (fp4.h e8m0_half)
  uint8_t qs[kQKMxfp4 / 2];  // FP4 codes, byte j: element j (low nibble), element j+16 (high)
};
static_assert(sizeof(BlockMxfp4) == 17, "mxfp4 block is 17 bytes");

// Registry entry (specs/ggml.md 3.9): decoder, encoder (quantize_row_mxfp4_ref), strict-order
// GEMV against q8_0 activations. No fp16 field: verify plants no special scales (E8M0 has no
// NaN or Inf; e >= 253 overflows the decode to Inf, which the tests check by hand).
Format mxfp4_format(Format catalog_entry);

}  // namespace qb::ggml

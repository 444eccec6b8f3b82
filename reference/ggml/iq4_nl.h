// iq4_nl (specs/ggml.md 3.20): 32 elements, fp16 d and 16 bytes of nibbles indexing
// kvalues_iq4nl. Its scale fit is shared with iq4_xs (3.21).
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK4_NL = 32;
struct BlockIQ4_NL {
  uint16_t d;                // fp16 scale
  uint8_t qs[kQK4_NL / 2];  // byte j: element j (low nibble), element j+16 (high nibble)
};
static_assert(sizeof(BlockIQ4_NL) == 18, "iq4_nl block is 18 bytes");

// Upstream best_index_int8 over kvalues_iq4nl: the index of the level nearest to x, an exact
// midpoint going to the higher index (distances compared as fp32 differences); x at or below
// the lowest level gives 0, at or above the highest 15, NaN 15.
int iq4_nl_index(float x);

// The least-squares scale of one 32-element group with weights x^2 (quantize_row_iq4_nl_impl's
// per-group fit, specs/ggml.md 3.20): first pass from max/-127 (ntry < 0) or max/127 (ntry > 0),
// then for itry = -ntry..ntry the levels at (itry - 127)/max, keeping the largest sumqx^2/sumq2.
// Writes the first pass's level indices to L[32] and returns the fitted fp32 scale; a group with
// max |x| < 1e-15 returns 0 and leaves L as it was (upstream's behaviour).
float iq4_nl_group_scale(const float* x, int ntry, uint8_t* L);

// Registry entry: decoder, encoder (quantize_row_iq4_nl_ref), strict-order GEMV on q8_0.
Format iq4_nl_format(Format catalog_entry);

}  // namespace qb::ggml

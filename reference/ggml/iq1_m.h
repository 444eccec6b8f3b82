// iq1_m (specs/ggml.md 3.29): 256 elements, 11-bit iq1s_grid indices per 8 elements, a +-0.125
// shift sign per 8, 3-bit scales per 16, and the fp16 super-block scale spread over the top
// nibbles of the four uint16 scale words (no d field). Paired with q8_K.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

struct BlockIQ1_M {
  uint8_t qs[32];      // low 8 index bits of 8-group g
  uint8_t qh[16];      // 8-groups 2k, 2k+1: low/high nibble = index bits 8-10 and shift sign
  uint8_t scales[8];   // four uint16 LE: 3-bit scales (bits 0-11), fp16 d nibbles (bits 12-15)
};
static_assert(sizeof(BlockIQ1_M) == 56, "iq1_m block is 56 bytes");

// The block's fp16 super-block scale: nibble k of it is the top nibble of scale word k.
uint16_t iq1_m_scale_bits(const uint8_t* block);

// Registry entry: decoder, strict-order GEMV, and as encoder upstream's quantizer without an
// importance matrix (ggml_quantize_chunk's path; upstream has no reference quantizer).
Format iq1_m_format(Format catalog_entry);

}  // namespace qb::ggml

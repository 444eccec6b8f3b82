#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQKNvfp4 = 64;
constexpr int kQKNvfp4Sub = 16;
struct BlockNvfp4 {
  uint8_t d[kQKNvfp4 / kQKNvfp4Sub];  // UE4M3 scale per 16 elements (fp4.h ue4m3_half)
  uint8_t qs[kQKNvfp4 / 2];           // sub-block s: byte 8s+j holds element 16s+j (low), 16s+j+8 (high)
};
static_assert(sizeof(BlockNvfp4) == 36, "nvfp4 block is 36 bytes");

// Registry entry (specs/ggml.md 3.10): decoder, encoder (quantize_row_nvfp4_ref), strict-order
// GEMV against q8_0 activations (two activation blocks per weight block, one term per 16-element
// sub-block). No fp16 field: verify plants no special scales (UE4M3 has none).
Format nvfp4_format(Format catalog_entry);

}  // namespace qb::ggml

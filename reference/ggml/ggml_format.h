// What every GGML block format shares: one U8 tensor `blocks` [rows, cols/QK * block_bytes].
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "harness/registry.h"

namespace qb::ggml {

// A registry entry with GGML block geometry and no functions yet (the catalog of types that
// fixtures may name); implemented types fill in their functions.
Format block_format(std::string id, int64_t block_elems, int64_t block_bytes);

// All GGML weight types of specs/ggml.md section 2 with their geometry.
std::vector<Format> ggml_catalog();

inline const uint8_t* row_blocks(const QWeight& w, int64_t row) {
  const TensorView& t = w.tensor("blocks");
  return t.data + row * (w.cols / w.format->block_elems) * w.format->block_bytes;
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// GGML's q8_0-paired dot products hold at most 2 roundings per block term (d_w*d_x and its
// product with the exact integer block sum, or an FMA) plus one addition per block in a
// sequential sum; SIMD kernels split the sum over up to 64 lanes and reduce them by a tree
// (<= 6 more additions). Any such evaluation is within gamma_n of the exact sum of terms.
inline int64_t q8_0_paired_rounding_depth(int64_t cols) { return cols / 32 + 2 + 6; }

}  // namespace qb::ggml

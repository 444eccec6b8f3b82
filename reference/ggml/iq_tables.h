// The iq types' lookup tables (specs/ggml.md 3.20, 3.22), as upstream's ggml-common.h holds them:
// a grid entry's little-endian byte j is the j-th element of its 8- (iq2, iq1) or 4-element (iq3)
// group. reference/ggml/iq_tables.cpp is generated from upstream's dumped bytes
// (fixtures/import/ggml/iq_tables_gen.py); tests/ggml_iq_tables_test.cpp checks their sha256.
#pragma once
#include <cstdint>

namespace qb::ggml {

extern const uint8_t kmask_iq2xs[8];     // 1 << j: sign bit of element j of an 8-group
extern const uint8_t ksigns_iq2xs[128];  // 7 stored sign bits + an 8th making the parity even
extern const uint64_t ksigns64[128];     // ksigns_iq2xs as byte masks (0xFF where a sign is set)
extern const uint64_t iq2xxs_grid[256];  // bytes in {8, 25, 43}
extern const uint64_t iq2xs_grid[512];   // bytes in {8, 25, 43}
extern const uint64_t iq2s_grid[1024];   // bytes in {8, 25, 43}
extern const uint32_t iq3xxs_grid[256];  // bytes in {4, 12, ..., 52, 62}
extern const uint32_t iq3s_grid[512];    // bytes in {1, 3, ..., 15}
extern const uint64_t iq1s_grid[2048];   // bytes are int8 in {-1, 0, +1}
extern const int8_t kvalues_iq4nl[16];   // iq4_nl / iq4_xs levels, ascending

// Element j (0-based) of a grid entry: its little-endian byte j.
inline int grid_u8(uint64_t entry, int j) { return static_cast<int>((entry >> (8 * j)) & 0xFF); }
inline int grid_i8(uint64_t entry, int j) {
  return static_cast<int>(static_cast<int8_t>(static_cast<uint8_t>(entry >> (8 * j))));
}

}  // namespace qb::ggml

// EXL3 trellis bitstreams (specs/exl3.md section 2): tail-biting 16-bit state windows and the
// tensor-core fragment order of a tile's 256 values.
#include <cstring>

#include "reference/exl3/exl3.h"

namespace qb::exl3 {

void tile_states(const uint16_t* tile_words, int bits, uint16_t states[256]) {
  // Upstream reads the words as little-endian uint32 pairs and walks each uint32 from bit 31 down.
  const int nwords = 8 * bits;
  const int nbits = 256 * bits;
  uint32_t u[64];
  for (int m = 0; m < nwords; ++m) u[m] = tile_words[2 * m] | static_cast<uint32_t>(tile_words[2 * m + 1]) << 16;
  for (int t = 0; t < 256; ++t) {
    // The window ends with symbol t's last bit; for early t it starts at the stream's end.
    const int first = (t * bits + bits - 16 + nbits) % nbits;
    uint32_t s = 0;
    for (int q = 0; q < 16; ++q) {
      const int p = (first + q) % nbits;
      s = s << 1 | ((u[p >> 5] >> (31 - (p & 31))) & 1u);
    }
    states[t] = static_cast<uint16_t>(s);
  }
}

std::vector<uint16_t> decode_inner(const Args& w, int64_t n0, int64_t n1) {
  const int64_t k = w.k, n = w.n, width = n1 - n0;
  const int64_t tile_words = 16 * w.K;
  const uint8_t* trellis = w.trellis;
  std::vector<uint16_t> out(static_cast<std::size_t>(k * width));
  std::vector<uint16_t> words(static_cast<std::size_t>(tile_words));
  uint16_t states[256];
  for (int64_t i = 0; i < k / 16; ++i)
    for (int64_t j = n0 / 16; j < n1 / 16; ++j) {
      // Unaligned storage is allowed: copy the tile's little-endian int16 words out.
      std::memcpy(words.data(), trellis + (i * (n / 16) + j) * tile_words * 2, static_cast<std::size_t>(tile_words) * 2);
      tile_states(words.data(), w.K, states);
      for (int t = 0; t < 256; ++t)
        out[static_cast<std::size_t>((16 * i + tile_row(t)) * width + 16 * j - n0 + tile_col(t))] =
            codebook_value(w.cb, states[t]);
    }
  return out;
}

}  // namespace qb::exl3

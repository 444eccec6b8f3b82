// Where each BitNet layout keeps an element's code (specs/bitnet.md 2-5): one position function
// per layout, which both the row decoders and the packers (encoders, writers) use, so a layout is
// stated once. Positions are byte index plus bit shift of the field inside that byte.
#pragma once
#include <cstdint>
#include <vector>

#include "reference/bitnet/bitnet.h"

namespace qb::bitnet {

struct Pos {
  int64_t byte;
  int shift;
};

// HF packed (spec 2): element (r, c) of a [rows, cols] weight, P = ceil(rows/4) packed rows; byte
// (r % P, c) holds rows r % P + {0, P, 2P, 3P} in bits 1:0, 3:2, 5:4, 7:6. 2-bit code - 1.
inline Pos hf_pos(int64_t rows, int64_t cols, int64_t r, int64_t c) {
  const int64_t p = (rows + 3) / 4;
  return {(r % p) * cols + c, static_cast<int>(2 * (r / p))};
}

// I2_S (spec 3): flat element n = r*cols + c in blocks of qk (128 x86, 64 ARM) of qk/4 bytes; byte
// j of a block holds elements j, j + qk/4, j + qk/2, j + 3qk/4 in bits 7:6, 5:4, 3:2, 1:0.
inline Pos i2s_pos(int64_t n, int64_t qk) {
  const int64_t j = n % qk, quarter = qk / 4;
  return {n / qk * quarter + j % quarter, static_cast<int>(6 - 2 * (j / quarter))};
}

// GPU int2 (spec 5): element (n, k); 32-bit LE words hold 16 codes, element e at bit
// 2(e/4) + 8(e%4), words placed by the kernel's addressing. 2-bit code - 2.
inline Pos gpu_int2_pos(int64_t cols, int64_t n, int64_t k) {
  const int64_t bx = n / 16, ty = n % 16, k0 = k / 128, tx = k % 128 / 16, e = k % 16;
  const int64_t word = bx * 4 * cols + k0 * 512 + (tx >> 1) * 128 + (ty >> 3) * 64 + (tx & 1) * 32 + (ty & 7) * 4;
  const int64_t bit = 2 * (e / 4) + 8 * (e % 4);
  return {word + bit / 8, static_cast<int>(bit % 8)};
}

// TL1 pair nibbles (spec 4.1): pair p (columns 2p, 2p+1) of row m under tiles (BM, BK, bm),
// by = 256/bm; nibble 3*w0 + w1 + 4, the even pair of a byte in the high nibble. `swap`: the TL2
// two-part's [0,2,1,3] exchange of 8-row groups inside each 32-row tile.
Pos tl1_pos(int64_t cols, const TileParams& t, int64_t m, int64_t p, bool swap = false);

// TL2 three-part (spec 4.2) for triple j (columns 3j..3j+2) of row m, K3 = cols - cols % BK columns:
// the magnitude nibble and the sign bit (its byte, bit).
Pos tl2_magnitude_pos(int64_t rows, int64_t k3, const TileParams& t, int64_t m, int64_t j);
Pos tl2_sign_pos(int64_t rows, int64_t k3, const TileParams& t, int64_t m, int64_t j);
// Offset of the two-part bytes: after M*K3/6 magnitude and M*K3/24 sign bytes.
inline int64_t tl2_two_part_offset(int64_t rows, int64_t k3) { return rows * k3 / 6 + rows * k3 / 24; }

// Pair and triple digits (spec 4.1, 4.2): v = 3 w0 + w1 (+4 for a nibble), v = 9 w0 + 3 w1 + w2.
inline void pair_of(int v, int8_t* w) {
  const int w0 = v / 3 - 1;  // v = nibble in 0..8
  w[0] = static_cast<int8_t>(w0);
  w[1] = static_cast<int8_t>(v - 4 - 3 * w0);
}
inline void triple_of(int v, int8_t* w) {
  const auto nearest = [](int a, int b) { return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b); };
  const int w0 = nearest(v, 9), r = v - 9 * w0, w1 = nearest(r, 3);
  w[0] = static_cast<int8_t>(w0);
  w[1] = static_cast<int8_t>(w1);
  w[2] = static_cast<int8_t>(r - 3 * w1);
}

// Row decoders: row r of T into out[cols].
void hf_row(const uint8_t* data, int64_t rows, int64_t cols, int64_t r, int8_t* out);
void i2s_row(const uint8_t* data, int64_t cols, int64_t r, int64_t qk, int8_t* out);
void tl1_row(const uint8_t* data, int64_t rows, int64_t cols, const TileParams& t, int64_t r, int8_t* out);
void tl2_row(const uint8_t* data, int64_t rows, int64_t cols, const TileParams& t, int64_t r, int8_t* out);
void gpu_int2_row(const uint8_t* data, int64_t cols, int64_t r, int8_t* out);

// Packers: T [rows, cols] (values -1..1) into the weight bytes of each layout, sized by the
// caller as Format::layout says (zero-filled first: padding fields and bytes stay 0).
void hf_pack(const int8_t* t, int64_t rows, int64_t cols, uint8_t* out);
void i2s_pack(const int8_t* t, int64_t rows, int64_t cols, int64_t qk, uint8_t* out);
void tl1_pack(const int8_t* t, int64_t rows, int64_t cols, const TileParams& p, uint8_t* out);
void tl2_pack(const int8_t* t, int64_t rows, int64_t cols, const TileParams& p, uint8_t* out);
void gpu_int2_pack(const int8_t* t, int64_t rows, int64_t cols, uint8_t* out);

void set_references(Format& f);  // reference.cpp: dequant, inner and GEMV references

}  // namespace qb::bitnet

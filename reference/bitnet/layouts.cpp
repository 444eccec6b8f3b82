// BitNet layouts (specs/bitnet.md 2-5): the position functions' tile arithmetic, the row decoders
// and the packers, all through the same positions.
#include "reference/bitnet/layouts.h"

namespace qb::bitnet {
namespace {

// TL2's exchange of the middle two 8-row groups of a 32-row tile (spec 4.2); its own inverse.
int64_t swapped(int64_t m2) {
  static constexpr int64_t kPerm[4] = {0, 2, 1, 3};
  return kPerm[m2 / 8] * 8 + m2 % 8;
}

}  // namespace

Pos tl1_pos(int64_t cols, const TileParams& t, int64_t m, int64_t p, bool swap) {
  const int64_t Mb = m / t.BM, mb = m % t.BM / t.bm, m2 = swap ? swapped(m % t.bm) : m % t.bm;
  const int64_t g = m2 / 16, l = m2 % 16;
  const int64_t kb = p / (t.BK / 2), pp = p % (t.BK / 2), yb = pp / (t.by / 2), r2 = pp % (t.by / 2);
  const int64_t tt = r2 / 2, h = r2 % 2;
  int64_t b = Mb * (cols / t.BK) + kb;
  b = b * (t.BM / t.bm) + mb;
  b = b * (t.BK / t.by) + yb;
  b = b * (t.bm / 16) + g;
  b = b * (t.by / 4) + tt;
  b = b * 16 + l;
  return {b, h == 0 ? 4 : 0};
}

Pos tl2_magnitude_pos(int64_t, int64_t k3, const TileParams& t, int64_t m, int64_t j) {
  const int64_t Mb = m / t.BM, mb = m % t.BM / 32, m2 = m % 32;
  const int64_t kb = j / (t.BK / 3), jj = j % (t.BK / 3), yb = jj / 2;
  const int64_t row = ((Mb * (k3 / t.BK) + kb) * (t.BM / 32) + mb) * (t.BK / 6) + yb;
  return {row * 32 + swapped(m2), jj % 2 == 0 ? 4 : 0};
}

Pos tl2_sign_pos(int64_t rows, int64_t k3, const TileParams& t, int64_t m, int64_t j) {
  const int64_t Mb = m / t.BM, mb = m % t.BM / 32, m2 = m % 32;
  const int64_t kb = j / (t.BK / 3), jj = j % (t.BK / 3), yq = jj / 8, tr = jj % 8;
  const int64_t f = tr * 32 + m2, bit = 15 - f / 16, half = f % 16;
  const int64_t word = (((Mb * (k3 / t.BK) + kb) * (t.BM / 32) + mb) * (t.BK / 24) + yq) * 16 + half;
  return {rows * k3 / 6 + 2 * word + bit / 8, static_cast<int>(bit % 8)};
}

void hf_row(const uint8_t* data, int64_t rows, int64_t cols, int64_t r, int8_t* out) {
  for (int64_t c = 0; c < cols; ++c) {
    const Pos at = hf_pos(rows, cols, r, c);
    out[c] = static_cast<int8_t>(((data[at.byte] >> at.shift) & 3) - 1);
  }
}

void i2s_row(const uint8_t* data, int64_t cols, int64_t r, int64_t qk, int8_t* out) {
  for (int64_t c = 0; c < cols; ++c) {
    const Pos at = i2s_pos(r * cols + c, qk);
    out[c] = static_cast<int8_t>(((data[at.byte] >> at.shift) & 3) - 1);
  }
}

void tl1_row(const uint8_t* data, int64_t, int64_t cols, const TileParams& t, int64_t r, int8_t* out) {
  for (int64_t p = 0; p < cols / 2; ++p) {
    const Pos at = tl1_pos(cols, t, r, p);
    pair_of((data[at.byte] >> at.shift) & 15, out + 2 * p);
  }
}

void tl2_row(const uint8_t* data, int64_t rows, int64_t cols, const TileParams& t, int64_t r, int8_t* out) {
  const int64_t k3 = cols - cols % t.BK, k2 = cols % t.BK;
  for (int64_t j = 0; j < k3 / 3; ++j) {
    const Pos mag = tl2_magnitude_pos(rows, k3, t, r, j), sign = tl2_sign_pos(rows, k3, t, r, j);
    const int v = (data[mag.byte] >> mag.shift) & 15;
    triple_of((data[sign.byte] >> sign.shift) & 1 ? -v : v, out + 3 * j);
  }
  const TileParams two{t.BM, 32, 32, 4};
  const uint8_t* part = data + tl2_two_part_offset(rows, k3);
  for (int64_t p = 0; p < k2 / 2; ++p) {
    const Pos at = tl1_pos(k2, two, r, p, true);
    pair_of((part[at.byte] >> at.shift) & 15, out + k3 + 2 * p);
  }
}

void gpu_int2_row(const uint8_t* data, int64_t cols, int64_t r, int8_t* out) {
  for (int64_t k = 0; k < cols; ++k) {
    const Pos at = gpu_int2_pos(cols, r, k);
    out[k] = static_cast<int8_t>(((data[at.byte] >> at.shift) & 3) - 2);
  }
}

void hf_pack(const int8_t* t, int64_t rows, int64_t cols, uint8_t* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const Pos at = hf_pos(rows, cols, r, c);
      out[at.byte] = static_cast<uint8_t>(out[at.byte] | (t[r * cols + c] + 1) << at.shift);
    }
}

void i2s_pack(const int8_t* t, int64_t rows, int64_t cols, int64_t qk, uint8_t* out) {
  for (int64_t n = 0; n < rows * cols; ++n) {
    const Pos at = i2s_pos(n, qk);
    out[at.byte] = static_cast<uint8_t>(out[at.byte] | (t[n] + 1) << at.shift);
  }
}

void tl1_pack(const int8_t* t, int64_t rows, int64_t cols, const TileParams& p, uint8_t* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < cols / 2; ++q) {
      const Pos at = tl1_pos(cols, p, r, q);
      const int8_t* w = t + r * cols + 2 * q;
      out[at.byte] = static_cast<uint8_t>(out[at.byte] | (3 * w[0] + w[1] + 4) << at.shift);
    }
}

void tl2_pack(const int8_t* t, int64_t rows, int64_t cols, const TileParams& p, uint8_t* out) {
  const int64_t k3 = cols - cols % p.BK, k2 = cols % p.BK;
  const TileParams two{p.BM, 32, 32, 4};
  uint8_t* part = out + tl2_two_part_offset(rows, k3);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* row = t + r * cols;
    for (int64_t j = 0; j < k3 / 3; ++j) {
      const int v = 9 * row[3 * j] + 3 * row[3 * j + 1] + row[3 * j + 2];
      const Pos mag = tl2_magnitude_pos(rows, k3, p, r, j), sign = tl2_sign_pos(rows, k3, p, r, j);
      out[mag.byte] = static_cast<uint8_t>(out[mag.byte] | (v < 0 ? -v : v) << mag.shift);
      if (v < 0) out[sign.byte] = static_cast<uint8_t>(out[sign.byte] | 1 << sign.shift);
    }
    for (int64_t q = 0; q < k2 / 2; ++q) {
      const Pos at = tl1_pos(k2, two, r, q, true);
      const int8_t* w = row + k3 + 2 * q;
      part[at.byte] = static_cast<uint8_t>(part[at.byte] | (3 * w[0] + w[1] + 4) << at.shift);
    }
  }
}

void gpu_int2_pack(const int8_t* t, int64_t rows, int64_t cols, uint8_t* out) {
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      const Pos at = gpu_int2_pos(cols, n, k);
      out[at.byte] = static_cast<uint8_t>(out[at.byte] | (t[n * cols + k] + 2) << at.shift);
    }
}

}  // namespace qb::bitnet

// bitnet_i2_s GEMV (m = 1), AVX-512 VNNI (vpdpbusd: u8 x s8 products summed into int32 lanes; needs
// AVX512_VNNI, AVX512F/BW for the 512-bit integer ops and AVX512VL for the 256-bit vpdpbusd of an
// odd last block): S = sum code * q per row, then bitnet.h's epilogue_i2s with D = S - sum q
// (bitnet_x86.h says why no sum wraps and why the result is the reference's bits).
//
// Layout (spec 3): row r is cols/128 blocks of 32 bytes from byte r cols/4 (cols % 128 == 0);
// byte j of a block holds elements j, j+32, j+64, j+96 in bits 7:6, 5:4, 3:2, 1:0. One 64-byte
// load covers blocks 2p and 2p+1 (a pair); 4 ands give its 4 fields, each of which meets one
// 64-byte vector of the activation rearranged once per call to match (arrange()).
//
// Rows run one at a time, front to back: the weight is then one sequential stream, which the
// hardware prefetchers follow best (2 or 4 rows side by side, sharing the activation loads, ran
// 10-40% slower from DRAM on Zen 5), and a software prefetch kAheadBytes on keeps enough lines in
// flight for one core (without it: about 75% of the probe instead of 90%). Two pairs per loop step
// with their own accumulators keep vpdpbusd chains short.
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;

constexpr int64_t kAheadBytes = 8192;
constexpr int kUnroll = 2;

// xs, vector k of pair p: q[256p + 32k, +32) then q[256p + 128 + 32k, +32), the elements that the
// fields of byte j of blocks 2p, 2p+1 hold (lane j: block 2p, lane 32 + j: block 2p + 1). An odd
// last block keeps natural order (its 4 fields are 4 consecutive 32-byte runs). Returns sum q.
QB_TARGET_AVX512VNNI int32_t arrange(const int8_t* q, int64_t cols, uint8_t* xs) {
  const __m512i one8 = _mm512_set1_epi8(1);
  __m512i acc = _mm512_setzero_si512();
  const int64_t pairs = cols / 256;
  for (int64_t p = 0; p < pairs; ++p)
    for (int k = 0; k < 4; ++k) {
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 256 * p + 32 * k));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 256 * p + 128 + 32 * k));
      const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      _mm512_store_si512(xs + 256 * p + 64 * k, v);
      acc = _mm512_dpbusd_epi32(acc, one8, v);  // sum q: 4 terms |q| <= 128 per lane
    }
  if (cols % 256)
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_loadu_si512(q + 256 * pairs + 64 * h);
      _mm512_store_si512(xs + 256 * pairs + 64 * h, v);
      acc = _mm512_dpbusd_epi32(acc, one8, v);
    }
  return _mm512_reduce_add_epi32(acc);
}

// Field k of a byte is isolated by one and with its mask (0xC0, 0x30, 0x0C, 0x03), no shift: the
// u8 operand is then code * 4^(3-k), and field k's int32 lanes, kept apart, hold 4^(3-k) times
// their sum of code * q. Per pair a lane of field k adds 4 products |.| <= 192 * 128, so over at
// most kSpanPairs pairs |lane| <= 4 * 24576 * kSpanPairs = 2^26.6 < 2^31: exact, and each lane
// divides exactly by its 4^(3-k) (vpsrad) before the fields are added (int32, exact modulo 2^32
// as bitnet_x86.h says). Longer rows are cut in spans of kSpanPairs pairs.
constexpr int64_t kSpanPairs = 1024;

// One pair (64 weight bytes at wp, the 4 activation vectors at xp) into a[0..3].
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) void pair_dot(const uint8_t* wp, const uint8_t* xp,
                                                                        __m512i* a) {
  const __m512i k0 = _mm512_set1_epi8(static_cast<char>(0xC0)), k1 = _mm512_set1_epi8(0x30);
  const __m512i k2 = _mm512_set1_epi8(0x0C), k3 = _mm512_set1_epi8(0x03);
  _mm_prefetch(reinterpret_cast<const char*>(wp + kAheadBytes), _MM_HINT_T0);
  const __m512i v = _mm512_loadu_si512(wp);
  a[0] = _mm512_dpbusd_epi32(a[0], _mm512_and_si512(v, k0), _mm512_load_si512(xp));
  if constexpr (QB_MUTANT_ON(bitnet_i2s_vnni_planes_swapped)) {
    a[1] = _mm512_dpbusd_epi32(a[1], _mm512_and_si512(v, k1), _mm512_load_si512(xp + 128));
    a[2] = _mm512_dpbusd_epi32(a[2], _mm512_and_si512(v, k2), _mm512_load_si512(xp + 64));
  } else {
    a[1] = _mm512_dpbusd_epi32(a[1], _mm512_and_si512(v, k1), _mm512_load_si512(xp + 64));
    a[2] = _mm512_dpbusd_epi32(a[2], _mm512_and_si512(v, k2), _mm512_load_si512(xp + 128));
  }
  a[3] = _mm512_dpbusd_epi32(a[3], _mm512_and_si512(v, k3), _mm512_load_si512(xp + 192));
}

// S = sum code * q over the row at w.
QB_TARGET_AVX512VNNI int32_t row_dot(const uint8_t* w, int64_t pairs, bool odd, const uint8_t* xs) {
  __m512i total = _mm512_setzero_si512();
  for (int64_t p0 = 0; p0 < pairs; p0 += kSpanPairs) {
    const int64_t p1 = std::min(pairs, p0 + kSpanPairs);
    __m512i a[kUnroll][4];
    for (int u = 0; u < kUnroll; ++u) a[u][0] = a[u][1] = a[u][2] = a[u][3] = _mm512_setzero_si512();
    int64_t p = p0;
    for (; p + kUnroll <= p1; p += kUnroll)
      for (int u = 0; u < kUnroll; ++u) pair_dot(w + 64 * (p + u), xs + 256 * (p + u), a[u]);
    for (; p < p1; ++p) pair_dot(w + 64 * p, xs + 256 * p, a[0]);
    for (int u = 1; u < kUnroll; ++u)
      for (int k = 0; k < 4; ++k) a[0][k] = _mm512_add_epi32(a[0][k], a[u][k]);
    const __m512i hi = _mm512_add_epi32(_mm512_srai_epi32(a[0][0], 6), _mm512_srai_epi32(a[0][1], 4));
    const __m512i lo = _mm512_add_epi32(_mm512_srai_epi32(a[0][2], 2), a[0][3]);
    total = _mm512_add_epi32(total, _mm512_add_epi32(hi, lo));
  }
  if (odd) {  // the last block alone: 32 bytes against 4 natural 32-byte runs
    const uint8_t* xp = xs + 256 * pairs;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * pairs));
    __m256i t = _mm256_setzero_si256();
    for (int k = 0; k < 4; ++k) {
      // 16-bit shifts: bits the high byte of a lane shifts into the low one lie above bit 1,
      // which the and clears; |lane| <= 4 * 384.
      const __m256i c = _mm256_and_si256(_mm256_srli_epi16(v, 6 - 2 * k), m3);
      t = _mm256_dpbusd_epi32(t, c, _mm256_load_si256(reinterpret_cast<const __m256i*>(xp + 32 * k)));
    }
    total = _mm512_add_epi32(total, _mm512_zextsi256_si512(t));
  }
  return _mm512_reduce_add_epi32(total);
}

}  // namespace

QB_TARGET_AVX512VNNI void bitnet_i2_s_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                     int64_t r1, float* y) {
  const Act a = act_of(act);
  const int64_t cols = w->cols, rb = cols / 4, pairs = cols / 256;
  const bool odd = cols % 256 != 0;
  uint8_t* xs = scratch(static_cast<std::size_t>(cols));
  const int32_t sum_q = arrange(a.q, cols, xs);
  const float scale = i2s_weight_scale(w).value;
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  for (int64_t r = r0; r < r1; ++r)
    y[r] = bitnet::epilogue_i2s(dot_of(row_dot(data + r * rb, pairs, odd, xs), sum_q), a.sum_hdr, a.s, scale);
}

}  // namespace qb::x86

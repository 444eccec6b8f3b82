// tq1_0 trit decode as the x86 kernels do it (specs/ggml.md 3.18; reference/ggml/tq1_0.cpp).
//
// Layout: qs[m] (m < 32) holds elements 32n + m, qs[32 + m] (m < 16) elements 160 + 16n + m
// (n = 0..4), qh[j] (j < 4) elements 240 + 4n + j (n = 0..3); trit n of a byte b is
// t = ((uint8_t)(b * 3^n) * 3) >> 8 in 0..2, and the stored value is t - 1. Every byte 0..255
// decodes (243..255 included: the quantizer's ceiling map stores them, and any file may).
//
// Vectorized per byte lane without a byte multiply:
//  - b * 3^n mod 256 is reached by n steps v -> v + v + v of wrapping byte adds (vpaddb): the
//    uint8 wrap of the reference's product, exactly (3^n is a product of 3s, mod 256 at each step).
//    Where one register needs different powers per dword (the AVX2 decode's qh bytes: dword n
//    holds qh * 3^n), vpmullw on 16-bit lanes gives the low byte of each lane exactly; the high
//    byte takes a carry from the low one, so it comes from the product of the lane with its low
//    byte cleared.
//  - t = (x * 3) >> 8 for a byte x is [x >= 86] + [x >= 171] (85 * 3 = 255, 170 * 3 = 510,
//    171 * 3 = 513): two compares. AVX2 has only signed byte compares, so its bytes are kept
//    flipped, xs = x ^ 0x80, where x >= 86 is xs > -43 and x >= 171 is xs > 42; the flip
//    commutes with multiplying by any odd p mod 256 ((x + 128) p = x p + 128 p = x p + 128), so
//    the chains run on flipped bytes unchanged. AVX-512BW compares unsigned bytes into masks.
// Everything is integer and exact: the trits equal the reference's for every byte.
//
// Everything here is in an unnamed namespace: each kernel file's copy is its own, compiled with
// its own mutant switches (a mutant plugin compiles one kernel file).
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/tq1_0.h"

namespace qb::x86::tq1_0 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockTQ1_0);
constexpr int kQs = 0, kQh = 48, kD = 52;  // byte offsets in the block

inline uint32_t load_qh(const uint8_t* blk) {
  uint32_t v;
  std::memcpy(&v, blk + kQh, 4);
  return v;
}

// The qh bytes of the block repeated in the four dwords, dword n multiplied by 3^n mod 256 (per
// byte): byte 4n + j is the byte whose trit test gives element 240 + 4n + j. Works on flipped or
// plain bytes (every power of 3 is odd).
QB_TARGET_AVX2 inline __attribute__((always_inline)) __m128i qh_powers(__m128i q) {
  const __m128i pw = _mm_setr_epi16(1, 1, 3, 3, 9, 9, 27, 27);
  const __m128i low = _mm_and_si128(_mm_mullo_epi16(q, pw), _mm_set1_epi16(0x00FF));
  const __m128i high = _mm_mullo_epi16(_mm_and_si128(q, _mm_set1_epi16(static_cast<int16_t>(0xFF00))), pw);
  return _mm_or_si128(low, high);
}

// ---- AVX2: 32 trits per 256-bit register, flipped bytes ----

QB_TARGET_AVX2 inline __attribute__((always_inline)) __m256i times3(__m256i v) {
  // Mutant tq1_0_dq2_saturating: signed saturating adds, so b * 3^n stops wrapping.
  if constexpr (QB_MUTANT_ON(tq1_0_dq2_saturating)) return _mm256_adds_epi8(v, _mm256_adds_epi8(v, v));
  return _mm256_add_epi8(v, _mm256_add_epi8(v, v));
}
QB_TARGET_AVX2 inline __attribute__((always_inline)) __m128i times3(__m128i v) {
  if constexpr (QB_MUTANT_ON(tq1_0_dq2_saturating)) return _mm_adds_epi8(v, _mm_adds_epi8(v, v));
  return _mm_add_epi8(v, _mm_add_epi8(v, v));
}

// The trit (0..2) of each flipped byte xs: [xs > -43] + [xs > 42].
QB_TARGET_AVX2 inline __attribute__((always_inline)) __m256i trit(__m256i xs) {
  const __m256i ge86 = _mm256_cmpgt_epi8(xs, _mm256_set1_epi8(-43));
  const __m256i ge171 = _mm256_cmpgt_epi8(xs, _mm256_set1_epi8(42));
  return _mm256_sub_epi8(_mm256_and_si256(ge86, _mm256_set1_epi8(1)), ge171);
}

// Mutant tq1_0_dq512_clamp_242: stored bytes clamped to 242 (as if 243..255 never occurred, the
// spec's pitfall 7.8): those bytes decode as 242 does. Flipped, 242 is 114.
QB_TARGET_AVX2 inline __attribute__((always_inline)) __m256i clamp(__m256i xs) {
  if constexpr (QB_MUTANT_ON(tq1_0_dq512_clamp_242)) return _mm256_min_epi8(xs, _mm256_set1_epi8(114));
  return xs;
}
QB_TARGET_AVX2 inline __attribute__((always_inline)) __m128i clamp(__m128i xs) {
  if constexpr (QB_MUTANT_ON(tq1_0_dq512_clamp_242)) return _mm_min_epi8(xs, _mm_set1_epi8(114));
  return xs;
}

// The block's 256 trits (0..2) in element order, 32 per register: t[k] holds elements
// 32k..32k+31.
QB_TARGET_AVX2 inline __attribute__((always_inline)) void trits(const uint8_t* blk, __m256i t[8]) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  // qs[0..31]: trit n is elements 32n..32n+31.
  __m256i a = clamp(_mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kQs)), flip));
  for (int n = 0; n < 5; ++n) {
    t[n] = trit(a);
    if (n < 4) a = times3(a);
  }
  // qs[32..47]: trit n is elements 160 + 16n..; two trits per register: [B, 3B], [9B, 27B],
  // then 81B beside the qh elements 240..255.
  const __m128i b16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + kQs + 32));
  __m256i b = clamp(_mm256_xor_si256(_mm256_broadcastsi128_si256(b16), flip));
  b = _mm256_blend_epi32(b, times3(b), 0xF0);
  t[5] = trit(b);
  b = times3(times3(b));
  t[6] = trit(b);
  const __m128i b81 = times3(_mm256_extracti128_si256(b, 1));
  const __m128i q =
      clamp(_mm_xor_si128(_mm_set1_epi32(static_cast<int32_t>(load_qh(blk))), _mm256_castsi256_si128(flip)));
  t[7] = trit(_mm256_inserti128_si256(_mm256_castsi128_si256(b81), qh_powers(q), 1));
}

// ---- AVX-512: the block's 52 packed bytes in one 64-byte register, plain bytes ----

// The AVX-512 GEMVs load a block's qs and qh (52 bytes, not d) as one register x, masked, so
// lanes 52..63 are 0 and nothing past the block is read; x * 3^n (n steps of times3) holds in
// every lane the byte whose trit test gives trit n. The q8_K activation is regrouped to match,
// once per call, into prepared blocks of kStreamsBytes (kSeeded: kSeededBytes), 64-byte aligned:
// stream n = 0..4 at 64n holds, under lane m < 32, element 32n + m; under 32 + m (m < 16),
// 160 + 16n + m; under 48 + j (j < 4, n < 4), 240 + 4n + j; 0 elsewhere (lanes 52..63, and qh's
// lanes in stream 4: qh stores four trits). Then q8_K's 16 bsums at kBsums, its fp32 d at kDx,
// and with kSeeded 16 int32 lane seeds at kSeeds: 256 times the lane's activation sum over the
// five streams.
constexpr int64_t kBsums = 5 * 64, kDx = kBsums + 32, kSeeds = 6 * 64;
constexpr int64_t kStreamsBytes = 6 * 64, kSeededBytes = 7 * 64;
constexpr __mmask64 kPacked = (__mmask64{1} << 52) - 1;

template <bool kSeeded>
const uint8_t* prepare_streams(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
  constexpr int64_t kBytes = kSeeded ? kSeededBytes : kStreamsBytes;
  buf.assign(static_cast<std::size_t>(nb * kBytes + 64), 0);
  uint8_t* base = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* xb = act + k * int64_t(sizeof(ggml::BlockQ8_K));
    const int8_t* x8 = ggml::q8_K_qs(xb);
    uint8_t* p = base + k * kBytes;
    for (int n = 0; n < 5; ++n) {
      uint8_t* s = p + 64 * n;
      std::memcpy(s, x8 + 32 * n, 32);
      std::memcpy(s + 32, x8 + 160 + 16 * n, 16);
      // Mutant tq1_0_gemv512_qh_transposed: qh's trit n of byte j paired with element
      // 240 + 4j + n, not 240 + 4n + j.
      constexpr bool transposed = QB_MUTANT_ON(tq1_0_gemv512_qh_transposed);
      for (int j = 0; n < 4 && j < 4; ++j)
        s[48 + j] = static_cast<uint8_t>(x8[240 + (transposed ? 4 * j + n : 4 * n + j)]);
    }
    std::memcpy(p + kBsums, xb + offsetof(ggml::BlockQ8_K, bsums), 32);
    std::memcpy(p + kDx, xb, 4);
    if constexpr (kSeeded) {
      for (int l = 0; l < 16; ++l) {
        int32_t sum = 0;
        for (int n = 0; n < 5; ++n)
          for (int b = 0; b < 4; ++b) sum += static_cast<int8_t>(p[64 * n + 4 * l + b]);
        const int32_t seed = 256 * sum;
        std::memcpy(p + kSeeds + 4 * l, &seed, 4);
      }
    }
  }
  return base;
}

QB_TARGET_AVX512 inline __attribute__((always_inline)) __m512i times3(__m512i v) {
  return _mm512_add_epi8(v, _mm512_add_epi8(v, v));
}

// The trit (0..2) of each byte x: [x > 85] + [x > 170].
QB_TARGET_AVX512 inline __attribute__((always_inline)) __m512i trit(__m512i x) {
  const __mmask64 ge86 = _mm512_cmpgt_epu8_mask(x, _mm512_set1_epi8(85));
  const __mmask64 ge171 = _mm512_cmpgt_epu8_mask(x, _mm512_set1_epi8(static_cast<char>(170)));
  return _mm512_maskz_mov_epi8(ge86, _mm512_mask_blend_epi8(ge171, _mm512_set1_epi8(1), _mm512_set1_epi8(2)));
}

}  // namespace
}  // namespace qb::x86::tq1_0

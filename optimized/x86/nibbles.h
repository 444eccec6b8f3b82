// Bit and nibble movers shared by the AVX-512 kernels: 32 packed bytes split into their 64
// nibbles (low nibbles in the lower 256 bits, high nibbles in the upper: for formats whose
// element order puts a byte run's low nibbles before its high ones), by shifts and masks
// (AVX-512BW) or by one vgf2p8affineqb (GFNI), and the GFNI matrices that move chosen bits of
// every byte into place.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"

namespace qb::x86 {

// The vgf2p8affineqb matrix whose result bit i is source bit src[i] of the same byte (cleared where
// src[i] < 0): byte 7 - i of the matrix is the source-bit mask whose parity gives result bit i.
constexpr long long bit_matrix(const int (&src)[8]) {
  uint64_t m = 0;
  for (int i = 0; i < 8; ++i)
    if (src[i] >= 0) m |= (uint64_t{1} << src[i]) << (8 * (7 - i));
  return static_cast<long long>(m);
}

// Nibble n of every byte (0: bits 0-3, 1: bits 4-7) to bits 0-3, bits 4-7 cleared.
constexpr long long nibble_matrix(int n) {
  const int b = 4 * n;
  const int src[8] = {b, b + 1, b + 2, b + 3, -1, -1, -1, -1};
  return bit_matrix(src);
}

// The 32 bytes at p as 64 nibbles in bytes: low nibbles in bytes 0..31, high nibbles in 32..63.
QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512i split_nibbles_avx512(const uint8_t* p) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// split_nibbles_avx512 by one broadcast load and one vgf2p8affineqb whose matrix takes the low
// nibble in the lower four 64-bit lanes and the high nibble in the upper four.
QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512i split_nibbles_gfni(const uint8_t* p) {
  const __m512i m = _mm512_inserti64x4(_mm512_set1_epi64(nibble_matrix(0)), _mm256_set1_epi64x(nibble_matrix(1)), 1);
  const __m512i raw = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_gf2p8affine_epi64_epi8(raw, m, 0);
}

// The two as policies for kernel terms templated on how nibbles are split (static split(p)).
struct SplitNibblesAvx512 {
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512i split(const uint8_t* p) {
    return split_nibbles_avx512(p);
  }
};
struct SplitNibblesGfni {
  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512i split(const uint8_t* p) {
    // Mutant gfni_nibbles_swapped: the high nibbles below and the low ones above.
    if constexpr (QB_MUTANT_ON(gfni_nibbles_swapped))
      return _mm512_shuffle_i64x2(split_nibbles_gfni(p), split_nibbles_gfni(p), 0x4E);
    return split_nibbles_gfni(p);
  }
};

}  // namespace qb::x86

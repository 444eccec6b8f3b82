// What the x86 kernels of the sign-and-grid iq types (iq3_s, iq2_xxs; specs/ggml.md 3.23, 3.27)
// share: a 32-element group is 32 unsigned grid magnitudes (at most 62) and 32 sign bits (bit e:
// element e negative), times an odd integer scale.
//
// GEMV: the sign goes onto the magnitude (|m| <= 62 stays inside int8 either way; negating the
// activation instead would overflow on -128), magnitudes and activation codes are sign-extended
// to int16 and multiplied (vpmullw: |m*x| <= 62 * 128 = 7936), elements e and e + 16 added in
// int16 (<= 15872), and vpmaddwd by the scale (at most 31) sums pairs into int32 lanes:
// |lane| <= 2 * 15872 * 31 < 2^20 per group, < 2^23 over a 256-element block. Exact.
//
// Dequant: y = (db * m) * (+-1.0f) as the reference writes it. The sign is a flip of the sign bit
// (vxorps), which is what the reference's binary does: GCC compiles its multiply by a selected
// +-1.0f as a conditional negation, equal to the multiply except on NaN, where a multiply would
// keep the NaN's sign and the negation flips it (a NaN scale with a negative element shows it).
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/x86/target.h"

namespace qb::x86::iq_grid {

// 0xFF in byte e where bit e of `signs` is set, else 0.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i sign_mask(uint32_t signs) {
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int32_t>(signs)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// Int32 lanes of scale * sum(sign * mag * x) over one group (x: its 32 activation codes).
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i group_lanes(__m256i mags, uint32_t signs,
                                                                                const int8_t* x, int16_t scale) {
  const __m256i neg = sign_mask(signs);
  const __m256i w = _mm256_sub_epi8(_mm256_xor_si256(mags, neg), neg);  // -m where neg: (m ^ -1) + 1
  const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
  const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 16)));
  const __m256i p = _mm256_add_epi16(_mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(w)), x0),
                                     _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(w, 1)), x1));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(scale));
}

// The same at 64 bytes per register: all 32 elements in one vector of int16.
QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512i group_lanes512(__m256i mags, uint32_t signs,
                                                                                  const int8_t* x, int16_t scale) {
  const __m512i m16 = _mm512_cvtepu8_epi16(mags);
  const __m512i w16 = _mm512_mask_sub_epi16(m16, static_cast<__mmask32>(signs), _mm512_setzero_si512(), m16);
  const __m512i x16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
  return _mm512_madd_epi16(_mm512_mullo_epi16(w16, x16), _mm512_set1_epi16(scale));
}

// (db * m), negated where sign bit j of `signs` is set, for the 8 magnitudes in the low bytes of
// `mags`.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 decode8(uint64_t mags, uint32_t signs, __m256 db) {
  const __m256 m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(mags))));
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i neg = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int32_t>(signs)), bit), bit);
  const __m256 flip = _mm256_and_ps(_mm256_castsi256_ps(neg), _mm256_set1_ps(-0.0f));
  return _mm256_xor_ps(_mm256_mul_ps(db, m), flip);
}

// The same for 16 magnitudes (two 8-groups) in `mags`, sign bit j of `signs` for element j.
QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 decode16(__m128i mags, uint32_t signs, __m512 db) {
  const __m512 m = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(mags));
  const __m512 v = _mm512_mul_ps(db, m);
  return _mm512_mask_xor_ps(v, static_cast<__mmask16>(signs), v, _mm512_set1_ps(-0.0f));
}

}  // namespace qb::x86::iq_grid

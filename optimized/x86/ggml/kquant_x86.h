// Pieces the k-quant x86 kernels (kquant_dequant.h, kquant_gemv.h and their kernel files) share:
// the q8_K bsums as one register, moving one bit of every byte into place, and the sixteen q3_K
// scales decoded in SIMD.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86::kquant {

// The sixteen int16 bsums (sums of 16 levels) of the q8_K activation block at xb, for the min and
// offset terms (spec 3.17).
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i q8_K_bsums16(const uint8_t* xb) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + offsetof(ggml::BlockQ8_K, bsums)));
}

// Bit `from` of every byte of v moved to bit `to` (0..7 both) by one word shift: the bit stays in
// its byte, the other bits land anywhere in the byte or its neighbour, so the caller masks the
// result to bit `to`.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i move_bit(__m256i v, int from, int to) {
  return from >= to ? _mm256_srl_epi16(v, _mm_cvtsi32_si128(from - to))
                    : _mm256_sll_epi16(v, _mm_cvtsi32_si128(to - from));
}

// q3_K's sixteen signed 6-bit scales (spec 3.11; reference/ggml/kquant_common.h q3_K_scale) from
// scales[12] at s, as int16 words 0..15. In 64-bit integer registers, beside the vector pipes the
// kernels keep busy (shifts and masks: pdep/pext would be fewer but are microcoded on Zen 1/2):
// scale i's low four bits are nibble i/8 of s[i % 8], its high two bits pair i/4 of s[8 + i%4];
// the bytes of scales 0..7 and 8..15 are assembled in b0 and b1, widened once.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i q3_K_scales16(const uint8_t* s) {
  constexpr uint64_t m4 = 0x0F0F0F0F0F0F0F0Full;
  constexpr uint32_t m2 = 0x03030303u;
  uint64_t lo;
  uint32_t hb;
  std::memcpy(&lo, s, 8);
  std::memcpy(&hb, s + 8, 4);
  // Mutant q3_K_dq512_scale_high_order: the high bit pairs taken in reverse order (pair 3 - i/4).
  constexpr bool rev = QB_MUTANT_ON(q3_K_dq512_scale_high_order);
  const uint32_t pair[4] = {(hb >> (rev ? 6 : 0)) & m2, (hb >> (rev ? 4 : 2)) & m2, (hb >> (rev ? 2 : 4)) & m2,
                            (hb >> (rev ? 0 : 6)) & m2};
  const uint64_t b0 = (lo & m4) | ((pair[0] | static_cast<uint64_t>(pair[1]) << 32) << 4);
  const uint64_t b1 = ((lo >> 4) & m4) | ((pair[2] | static_cast<uint64_t>(pair[3]) << 32) << 4);
  const __m128i sc8 = _mm_sub_epi8(_mm_set_epi64x(static_cast<int64_t>(b1), static_cast<int64_t>(b0)),
                                   _mm_set1_epi8(32));
  return _mm256_cvtepi8_epi16(sc8);
}

}  // namespace qb::x86::kquant

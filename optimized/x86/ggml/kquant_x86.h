// Pieces the k-quant x86 kernels (kquant_dequant.h, kquant_gemv.h and their kernel files) share:
// moving one bit of every byte into place, and the sixteen q3_K scales decoded in SIMD.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"

namespace qb::x86::kquant {

// Bit `from` of every byte of v moved to bit `to` (0..7 both) by one word shift: the bit stays in
// its byte, the other bits land anywhere in the byte or its neighbour, so the caller masks the
// result to bit `to`.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i move_bit(__m256i v, int from, int to) {
  return from >= to ? _mm256_srl_epi16(v, _mm_cvtsi32_si128(from - to))
                    : _mm256_sll_epi16(v, _mm_cvtsi32_si128(to - from));
}

// q3_K's sixteen signed 6-bit scales (spec 3.11; reference/ggml/kquant_common.h q3_K_scale) from
// scales[12] at s, as int16 words in the order 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7,
// 15 (q3_K_scale_pos(i) is scale i's word). Scale i's low nibble is nibble 2(i % 8) + i / 8 of
// s[0..7] and its high pair is pair 4(i % 4) + i / 4 of s[8..11], so in this order the nibbles are
// those of s[0..3], then of s[4..7], in memory order, and the pairs the even, then the odd ones:
// two pdep of nibbles and two pext/pdep of pairs assemble the bytes (BMI2), in integer registers
// beside the vector pipes the kernels keep busy.
constexpr int q3_K_scale_pos(int i) { return 8 * (i % 8 / 4) + 2 * (i % 4) + i / 8; }
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i q3_K_scales_paired(const uint8_t* s) {
  constexpr uint64_t kNibbles = 0x0F0F0F0F0F0F0F0Full, kPairs = 0x3030303030303030ull;
  uint64_t lo;
  uint32_t hb;
  std::memcpy(&lo, s, 8);
  std::memcpy(&hb, s + 8, 4);
  // Mutant q3_K_dq512_scale_high_order: the even and odd pairs swapped (scale i takes the high
  // bits of scale i ^ 4).
  constexpr bool swap = QB_MUTANT_ON(q3_K_dq512_scale_high_order);
  const uint32_t even = swap ? 0xCCCCCCCCu : 0x33333333u;
  const uint64_t b0 = _pdep_u64(lo & 0xFFFFFFFFu, kNibbles) | _pdep_u64(_pext_u32(hb, even), kPairs);
  const uint64_t b1 = _pdep_u64(lo >> 32, kNibbles) | _pdep_u64(_pext_u32(hb, ~even), kPairs);
  const __m128i sc8 = _mm_sub_epi8(_mm_set_epi64x(static_cast<int64_t>(b1), static_cast<int64_t>(b0)),
                                   _mm_set1_epi8(32));
  return _mm256_cvtepi8_epi16(sc8);
}

}  // namespace qb::x86::kquant

// Stores of the 16-bit decodes (Op::dequant_f16, Op::dequant_bf16): fp32 vectors holding the exact
// decode, each value rounded once to nearest even exactly as reference/common/half.h's
// f32_to_fp16_rne / f32_to_bf16_rne define it.
//
// fp16: vcvtps2ph with rounding immediate 0 (to nearest even, whatever MXCSR says); it keeps a
// NaN's sign and top 10 payload bits and sets the quiet bit, which is f32_to_fp16_rne's rule.
// bf16: integer round-to-nearest-even of the top half, not AVX512-BF16's vcvtneps2bf16, which
// treats subnormal inputs as zero (decodes with E8M0 or tiny fp16 scales produce them); a NaN
// keeps its top 16 bits with the quiet bit set.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"

namespace qb::x86 {

struct F16Store {
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store(uint16_t* y, __m256 v) {
    // Mutant f16_round_toward_zero: the conversion truncates instead of rounding to nearest.
    constexpr int kRound = QB_MUTANT_ON(f16_round_toward_zero) ? _MM_FROUND_TO_ZERO : _MM_FROUND_TO_NEAREST_INT;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm256_cvtps_ph(v, kRound));
  }
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) void store(uint16_t* y, __m512 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
};

struct BF16Store {
  // bits + 0x7FFF + (bit 16 of bits), then the top half: ties go to the even result. NaN lanes
  // take their top half with the quiet bit (0x0040) set instead.
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store(uint16_t* y, __m256 v) {
    const __m256i b = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    // Mutant bf16_truncate: the low half dropped without rounding.
    const __m256i bias = QB_MUTANT_ON(bf16_truncate) ? _mm256_setzero_si256()
                                                     : _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), odd);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(b, bias), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x0040));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
    // Every lane is in [0, 0xFFFF], so the unsigned saturating pack keeps it.
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y),
                     _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
  }
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) void store(uint16_t* y, __m512 v) {
    const __m512i b = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), odd)), 16);
    const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x0040));
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet)));
  }
};

}  // namespace qb::x86

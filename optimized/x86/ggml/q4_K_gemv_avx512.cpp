// q4_K x q8_K GEMV, AVX-512: q4_K_gemv_avx2.cpp with one 64-byte register per 64-element chunk.
// The chunk's low nibbles (elements 64c..64c+31) and high nibbles (64c+32..64c+63) side by side
// are the chunk's elements in order, so one 64-byte activation load pairs with them; vpmaddubsw
// (|pair sum| <= 3840) and vpmaddwd by the two sub-blocks' 6-bit scales give exact int32 lanes,
// one FMA with d*yd per block, the min term (dmin*yd)*(float)sum_j bsums*min_j in a scalar
// beside it, subtracted after the lane sum (a 4-level tree). Each term's path stays within
// kquant_rounding_depth (reference/ggml/kquant_common.cpp). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

struct Term {
  using Acc = __m512;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ4_K);
  static constexpr bool kMin = true;
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) void block(const uint8_t* blk, const uint8_t* xb,
                                                                           __m512& acc, float& mins) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const kquant::Q4_KScalars bs = kquant::q4_K_scalars(blk, xb);
    const uint8_t* sc = bs.sc;
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
      const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      const __m512i x = _mm512_loadu_si512(x8 + 64 * c);
      const int sc_hi = QB_MUTANT_ON(q4_K_gemv512_scale_pair) ? sc[2 * c] : sc[2 * c + 1];
      const __m512i s = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(sc[2 * c])),
                                           _mm256_set1_epi16(static_cast<int16_t>(sc_hi)), 1);
      isum = _mm512_add_epi32(isum, _mm512_madd_epi16(_mm512_maddubs_epi16(q, x), s));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(bs.dall), _mm512_cvtepi32_ps(isum), acc);
    mins += bs.dmin * static_cast<float>(bs.summs);
  }
};

}  // namespace

QB_TARGET_AVX512 void q4_K_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                       float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

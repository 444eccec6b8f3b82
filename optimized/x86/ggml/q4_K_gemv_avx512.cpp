// q4_K x q8_K GEMV, AVX-512: q4_K_gemv_avx2.cpp with one 64-byte register per 64-element chunk.
// The chunk's low nibbles (elements 64c..64c+31) and high nibbles (64c+32..64c+63) side by side
// are the chunk's elements in order, so one 64-byte activation load pairs with them; vpmaddubsw
// (|pair sum| <= 3840) and vpmaddwd by the two sub-blocks' 6-bit scales give exact int32 lanes,
// one FMA with d*yd per block; the scales and mins decoded in vector registers (k4_scales), the
// min term's eight lanes min_j*(bsums_2j + bsums_2j+1) through one FMA with dmin*yd into their own
// accumulator, subtracted after the lane sums (q5_K's way). Each term's path stays within
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
  using MinAcc = __m256;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ4_K);
  static constexpr bool kMin = true;
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) void block(const uint8_t* blk, const uint8_t* xb,
                                                                           __m512& acc, __m256& mins) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const kquant::K4Scales ks = kquant::k4_scales(blk + 4, xb);
    const __m128 dd = kquant::scale_pair(blk, ggml::q8_K_d(xb));
    // Chunk c's scale words (sub-block 2c under its low nibbles, 2c + 1 under its high ones) by
    // one vpermw from the eight scale words.
    const __m512i sc_all = _mm512_castsi128_si512(ks.sc16);
    const __m512i half = _mm512_srli_epi16(
        _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7,
                         6, 5, 4, 3, 2, 1, 0),
        4);  // lane / 16
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
      const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      const __m512i x = _mm512_loadu_si512(x8 + 64 * c);
      // Mutant q4_K_gemv512_scale_pair: the high nibbles scaled by sub-block 2c's scale too.
      const __m512i pick = QB_MUTANT_ON(q4_K_gemv512_scale_pair) ? _mm512_setzero_si512() : half;
      const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(pick, _mm512_set1_epi16(static_cast<int16_t>(2 * c))), sc_all);
      isum = _mm512_add_epi32(isum, _mm512_madd_epi16(_mm512_maddubs_epi16(q, x), s));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(_mm_cvtss_f32(dd)), _mm512_cvtepi32_ps(isum), acc);
    mins = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(ks.min_lanes), mins);
  }
};

}  // namespace

QB_TARGET_AVX512 void q4_K_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                       float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

// q4_K x q8_K GEMV, AVX2. Per block and row: each 64-element chunk's 32 quant bytes split into
// low nibbles (elements 64c..64c+31, sub-block 2c) and high nibbles (64c+32.., sub-block 2c+1);
// vpmaddubsw against the int8 activation (|pair sum| <= 2*15*128 = 3840: no int16 saturation),
// vpmaddwd by the sub-block's 6-bit scale (|lane| <= 2*3840*63), summed over the block in int32
// lanes: exact sum of scale*q*x8 per lane. One FMA of the lanes with d*yd per block; the min term
// (dmin*yd)*(float)sum_j bsums*min_j (exact integer sum, the activation's 16-element sums) is
// accumulated in a scalar beside it and subtracted after the lane sum. Each term's path: d*yd,
// the FMA, the block chain, a 3-level lane tree and the final subtraction, within
// kquant_rounding_depth (reference/ggml/kquant_common.cpp). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX2
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

struct Term {
  using Acc = __m256;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ4_K);
  static constexpr bool kMin = true;
  // One weight block against one activation block: acc += (d*yd) * lanes, mins += (dmin*yd)*summs.
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) void block(const uint8_t* blk, const uint8_t* xb,
                                                                         __m256& acc, float& mins) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const kquant::Q4_KScalars bs = kquant::q4_K_scalars(blk, xb);
    const uint8_t* sc = bs.sc;
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
      const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 64 * c));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 64 * c + 32));
      const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x0), _mm256_set1_epi16(sc[2 * c]));
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x1), _mm256_set1_epi16(sc[2 * c + 1]));
      isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(bs.dall), _mm256_cvtepi32_ps(isum), acc);
    if constexpr (!QB_MUTANT_ON(q4_K_gemv2_min_term_dropped)) mins += bs.dmin * static_cast<float>(bs.summs);
  }
};

}  // namespace

QB_TARGET_AVX2 void q4_K_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

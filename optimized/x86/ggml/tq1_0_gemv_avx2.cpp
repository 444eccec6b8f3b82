// tq1_0 x q8_K GEMV, AVX2. Per block and row: the 256 trits t (0..2, the code plus one) of
// tq1_0_x86.h's 256-bit decode, 32 per register in element order, each register paired with the
// 32 activation bytes of the same elements. vpmaddubsw of t against the int8 activation gives
// pair sums with |.| <= 2*2*128; the eight registers' sums add in int16 lanes, and the +1 offset
// comes off there as the q8_K bsums (the exact sums of 16 activation bytes; |lane| <= 8*512 +
// 16*128 = 6144), so vpmaddwd by ones gives int32 lanes whose sum is the block's exact
// sum (t - 1)*x8. One FMA of the lanes with d*yd per block (the reference's product, weight scale
// first). Each term's path: d*yd, the FMA, the block chain and a 3-level lane tree, within
// tq1_0's rounding depth (reference/ggml/ternary_common.h). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX2
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/ggml/tq1_0_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

struct Term {
  using Acc = __m256;
  static constexpr int64_t kBlock = tq1_0::kBlock;
  static constexpr bool kMin = false;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block(const uint8_t* blk, const uint8_t* xb,
                                                                           __m256 acc) {
    const int8_t* x8 = ggml::q8_K_qs(xb);
    __m256i t[8];
    tq1_0::trits(blk, t);
    __m256i s16 = _mm256_maddubs_epi16(t[0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8)));
    for (int k = 1; k < 8; ++k)
      s16 = _mm256_add_epi16(
          s16, _mm256_maddubs_epi16(t[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 32 * k))));
    __m256i bsums = kquant::q8_K_bsums16(xb);
    // Mutant tq1_0_gemv2_bsums_half: only the first 8 bsums subtracted (elements 128..255 keep +1).
    if constexpr (QB_MUTANT_ON(tq1_0_gemv2_bsums_half)) bsums = _mm256_blend_epi32(bsums, _mm256_setzero_si256(), 0xF0);
    const __m256i isum = _mm256_madd_epi16(_mm256_sub_epi16(s16, bsums), _mm256_set1_epi16(1));
    const float d = _cvtsh_ss(ggml::load_u16(blk + tq1_0::kD)) * ggml::q8_K_d(xb);
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX2 void tq1_0_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

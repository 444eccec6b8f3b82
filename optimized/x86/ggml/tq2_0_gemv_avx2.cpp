// tq2_0 x q8_K GEMV, AVX2. Per block and row: each 32-element group's 2-bit codes (0..3) come
// from one shift and mask of a 32-byte half (as in tq2_0_dequant_avx2.cpp); vpmaddubsw of the
// codes against the int8 activation (|pair sum| <= 2*3*128) minus vpmaddubsw of ones against it
// gives sum (code - 1)*x8 per pair exactly, widened by vpmaddwd into int32 lanes: the exact block
// sum. One FMA of the lanes with yd*d per block. Each term's path: yd*d, the FMA, the block chain
// and a 3-level lane tree, within tq2_0's rounding depth (reference/ggml/tq2_0.cpp). Four rows
// share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX2
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/tq2_0.h"

namespace qb::x86 {
namespace {

struct Term {
  using Acc = __m256;
  static constexpr int64_t kBlock = sizeof(ggml::BlockTQ2_0);
  static constexpr bool kMin = false;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block(const uint8_t* blk, const uint8_t* xb,
                                                                           __m256 acc) {
    const __m256i m2 = _mm256_set1_epi8(0x03), ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 * c));
      for (int n = 0; n < 4; ++n) {
        const __m256i q = _mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(2 * n)), m2);
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 128 * c + 32 * n));
        __m256i p = _mm256_maddubs_epi16(q, x);
        if constexpr (!QB_MUTANT_ON(tq2_0_gemv2_offset_dropped))
          p = _mm256_sub_epi16(p, _mm256_maddubs_epi16(ones8, x));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, ones16));
      }
    }
    const float d = ggml::q8_K_d(xb) * _cvtsh_ss(ggml::load_u16(blk + 64));
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX2 void tq2_0_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

// tq2_0 x q8_K GEMV, AVX-512: tq2_0_gemv_avx2.cpp with two 32-element groups per register. The
// block's 32-byte half c, repeated in both halves of a 64-byte register and shifted per half by
// vpsrlvw (2n below, 2n + 2 above), gives elements 128c + 32n + 0..63 in order, which pair with
// one 64-byte activation load; vpmaddubsw of the codes minus vpmaddubsw of ones gives exact
// (code - 1)*x8 pair sums, vpmaddwd widens them to int32 lanes. One FMA with yd*d per block and a
// 4-level lane tree, within tq2_0's rounding depth (reference/ggml/tq2_0.cpp). Four rows share
// every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
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
  using Acc = __m512;
  static constexpr int64_t kBlock = sizeof(ggml::BlockTQ2_0);
  static constexpr bool kMin = false;
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk, const uint8_t* xb,
                                                                             __m512 acc) {
    const __m512i m2 = _mm512_set1_epi8(0x03), ones8 = _mm512_set1_epi8(1), ones16 = _mm512_set1_epi16(1);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 2; ++c) {
      const __m256i raw256 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 * c));
      const __m512i raw = _mm512_inserti64x4(_mm512_castsi256_si512(raw256), raw256, 1);
      for (int n = 0; n < 4; n += 2) {
        const int upper = QB_MUTANT_ON(tq2_0_gemv512_upper_shift) ? 2 * n : 2 * n + 2;
        const __m512i shifts =
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<int16_t>(2 * n))),
                               _mm256_set1_epi16(static_cast<int16_t>(upper)), 1);
        const __m512i q = _mm512_and_si512(_mm512_srlv_epi16(raw, shifts), m2);
        const __m512i x = _mm512_loadu_si512(x8 + 128 * c + 32 * n);
        const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(q, x), _mm512_maddubs_epi16(ones8, x));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, ones16));
      }
    }
    const float d = ggml::q8_K_d(xb) * _cvtsh_ss(ggml::load_u16(blk + 64));
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX512 void tq2_0_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                        float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

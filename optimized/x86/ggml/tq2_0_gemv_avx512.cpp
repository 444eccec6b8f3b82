// tq2_0 x q8_K GEMV, AVX-512: one register per 64 elements. All 64 bytes of qs shifted right by
// 2k and masked give the codes (0..3) of elements 32k..32k+31 (from qs[0..31]) and
// 128+32k..128+32k+31 (from qs[32..63]); the activation is regrouped in that order once per call
// (kquant_gemv.h's W16::pair_halves, as q2_K's), so one load pairs with them. vpmaddubsw of codes
// against the int8 activation (|pair sum| <= 2*3*128), four chunks added in int16 lanes (<= 3072),
// the +1 offset removed there as the 16 q8_K bsums (|lane| <= 3072 + 16*128), vpmaddwd by ones to
// int32 lanes: the block's exact sum (code - 1)*x8. One FMA with yd*d per block and a 4-level lane
// tree, within tq2_0's rounding depth (reference/ggml/tq2_0.cpp). Eight rows share every
// activation load.
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

struct Term : kquant::TwoBitActivation<kquant::W16> {
  using Acc = __m512;
  static constexpr int64_t kBlock = sizeof(ggml::BlockTQ2_0);
  static constexpr bool kMin = false;
  static constexpr int kRows = 8;
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk, const uint8_t* xb,
                                                                             __m512 acc) {
    const __m512i m2 = _mm512_set1_epi8(0x03);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const __m512i raw = _mm512_loadu_si512(blk);
    __m512i s16 = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      // Mutant tq2_0_gemv512_shift_k: the codes of chunk k taken from bits k, not 2k.
      const int shift = QB_MUTANT_ON(tq2_0_gemv512_shift_k) ? k : 2 * k;
      const __m512i q = _mm512_and_si512(_mm512_srli_epi16(raw, shift), m2);
      s16 = _mm512_add_epi16(s16, _mm512_maddubs_epi16(q, _mm512_loadu_si512(x8 + 64 * k)));
    }
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 260));
    const __m512i isum = _mm512_madd_epi16(_mm512_sub_epi16(s16, _mm512_zextsi256_si512(bsums)), _mm512_set1_epi16(1));
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

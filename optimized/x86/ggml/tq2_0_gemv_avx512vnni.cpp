// tq2_0 x q8_K GEMV, AVX-512 VNNI: tq2_0_gemv_avx512.cpp's 64 codes per register against the
// regrouped activation, each chunk accumulated by one vpdpbusd (unsigned codes 0..3 times int8,
// |lane| <= 4*4*3*128) straight into int32 lanes; the +1 offset removed by one vpdpwssd of the
// 16 q8_K bsums (words 0..15, zero above) against -1. The lanes hold the block's exact sum
// (code - 1)*x8. One FMA with yd*d per block and a 4-level lane tree, within tq2_0's rounding
// depth (reference/ggml/tq2_0.cpp). Eight rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
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
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk,
                                                                                 const uint8_t* xb, __m512 acc) {
    const __m512i m2 = _mm512_set1_epi8(0x03);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const __m512i raw = _mm512_loadu_si512(blk);
    // Mutant tq2_0_vnni_bsums_half: the +1 offset removed through the first 8 bsums only.
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 260));
    const __m512i offset = QB_MUTANT_ON(tq2_0_vnni_bsums_half)
                               ? _mm512_zextsi128_si512(_mm256_castsi256_si128(bsums))
                               : _mm512_zextsi256_si512(bsums);
    __m512i isum = _mm512_dpwssd_epi32(_mm512_setzero_si512(), offset, _mm512_set1_epi16(-1));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i q = _mm512_and_si512(_mm512_srli_epi16(raw, 2 * k), m2);
      isum = _mm512_dpbusd_epi32(isum, q, _mm512_loadu_si512(x8 + 64 * k));
    }
    const float d = ggml::q8_K_d(xb) * _cvtsh_ss(ggml::load_u16(blk + 64));
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX512VNNI void tq2_0_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

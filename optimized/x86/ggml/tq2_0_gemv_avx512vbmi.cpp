// tq2_0 x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4: VNNI and GFNI): the VNNI
// kernel (tq2_0_gemv_avx512vnni.cpp) with each chunk's codes taken out of the 64 qs bytes by one
// vgf2p8affineqb instead of a shift and a mask: the affine matrix whose rows for result bits 0
// and 1 select source bits 2k and 2k + 1 (and nothing else) leaves the code 0..3 in every byte.
// vpdpbusd straight into int32, the +1 offset removed by one vpdpwssd of the 16 q8_K bsums
// against -1: the lanes hold the block's exact sum (code - 1)*x8. One FMA with yd*d per block and
// a 4-level lane tree, within tq2_0's rounding depth (reference/ggml/tq2_0.cpp). Eight rows share
// every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
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

// The vgf2p8affineqb matrix that moves bits 2k and 2k + 1 of each byte to bits 0 and 1 and clears
// the rest: byte 7 - i of the matrix is the source-bit mask whose parity gives result bit i.
constexpr long long code_matrix(int k) {
  // Mutant tq2_0_vbmi_bits_swapped: bit 2k to result bit 1 and 2k + 1 to bit 0 (codes 1 and 2 swapped).
  const int b0 = QB_MUTANT_ON(tq2_0_vbmi_bits_swapped) ? 2 * k + 1 : 2 * k;
  const int b1 = QB_MUTANT_ON(tq2_0_vbmi_bits_swapped) ? 2 * k : 2 * k + 1;
  return static_cast<long long>((uint64_t{1} << b0) << 56 | (uint64_t{1} << b1) << 48);
}

struct Term : kquant::TwoBitActivation<kquant::W16> {
  using Acc = __m512;
  static constexpr int64_t kBlock = sizeof(ggml::BlockTQ2_0);
  static constexpr bool kMin = false;
  static constexpr int kRows = 8;
  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk,
                                                                                 const uint8_t* xb, __m512 acc) {
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const __m512i raw = _mm512_loadu_si512(blk);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 260));
    __m512i isum = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(bsums), _mm512_set1_epi16(-1));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i q = _mm512_gf2p8affine_epi64_epi8(raw, _mm512_set1_epi64(code_matrix(k)), 0);
      isum = _mm512_dpbusd_epi32(isum, q, _mm512_loadu_si512(x8 + 64 * k));
    }
    const float d = ggml::q8_K_d(xb) * _cvtsh_ss(ggml::load_u16(blk + 64));
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX512VBMI void tq2_0_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

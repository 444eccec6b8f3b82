// q6_K x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4: VNNI and GFNI): q6_K_x86.h's
// term with each register's codes made by two vgf2p8affineqb and one vpor: one moves the low
// (t = 0) or high (t = 1) nibble of ql to bits 0-3 and clears the rest; the other moves bits 2s,
// 2s + 1 of qh to bits 4-5 and clears the rest, with its matrix per 64-bit lane (s = 2t in the
// lower 256 bits, 2t + 1 in the upper); the scaled pairs summed by one vpdpwssd. Six vector ops
// per 64 weights where the avx512 kernel takes nine or ten.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/q6_K_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/nibbles.h"
#include "optimized/x86/target.h"

namespace qb::x86 {
namespace {

// Bits 2s, 2s + 1 of qh to bits 4-5.
constexpr long long high_matrix(int s) {
  // Mutant q6_K_vbmi_high_bits_swapped: bit 2s to result bit 5 and 2s + 1 to bit 4.
  const bool swap = QB_MUTANT_ON(q6_K_vbmi_high_bits_swapped);
  const int src[8] = {-1, -1, -1, -1, swap ? 2 * s + 1 : 2 * s, swap ? 2 * s : 2 * s + 1, -1, -1};
  return bit_matrix(src);
}

struct AffineCodes {
  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512i codes(__m512i ql, __m512i qh, int t) {
    const __m512i low = _mm512_gf2p8affine_epi64_epi8(ql, _mm512_set1_epi64(nibble_matrix(t)), 0);
    // Mutant q6_K_vbmi_upper_group_s: the upper 256 bits take group 2t's bits, like the lower.
    const int upper = QB_MUTANT_ON(q6_K_vbmi_upper_group_s) ? 2 * t : 2 * t + 1;
    const __m512i hm = _mm512_inserti64x4(_mm512_set1_epi64(high_matrix(2 * t)), _mm256_set1_epi64x(high_matrix(upper)), 1);
    return _mm512_or_si512(low, _mm512_gf2p8affine_epi64_epi8(qh, hm, 0));
  }
};

}  // namespace

QB_TARGET_AVX512VBMI void q6_K_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                               int64_t r1, float* y) {
  kquant::gemv<q6_K::Term512<AffineCodes, true>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

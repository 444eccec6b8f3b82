// tq2_0 x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4: VNNI and GFNI): the VNNI
// kernel's term (tq2_0_x86.h) with each chunk's codes taken out of the 64 qs bytes by one
// vgf2p8affineqb instead of a shift and a mask: the affine matrix whose rows for result bits 0
// and 1 select source bits 2k and 2k + 1 (and nothing else) leaves the code 0..3 in every byte.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/tq2_0_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/nibbles.h"
#include "optimized/x86/target.h"

namespace qb::x86 {
namespace {

// Bits 2k and 2k + 1 of each byte to bits 0 and 1, the rest cleared.
constexpr long long code_matrix(int k) {
  // Mutant tq2_0_vbmi_bits_swapped: bit 2k to result bit 1 and 2k + 1 to bit 0 (codes 1 and 2 swapped).
  constexpr bool swap = QB_MUTANT_ON(tq2_0_vbmi_bits_swapped);
  const int src[8] = {swap ? 2 * k + 1 : 2 * k, swap ? 2 * k : 2 * k + 1, -1, -1, -1, -1, -1, -1};
  return bit_matrix(src);
}

struct AffineCodes {
  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512i codes(__m512i raw, int k) {
    return _mm512_gf2p8affine_epi64_epi8(raw, _mm512_set1_epi64(code_matrix(k)), 0);
  }
};

}  // namespace

QB_TARGET_AVX512VBMI void tq2_0_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                int64_t r1, float* y) {
  kquant::gemv<tq2_0::Term512<AffineCodes, true>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

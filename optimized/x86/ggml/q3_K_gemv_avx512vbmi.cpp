// q3_K x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4: GFNI and VNNI): the block term of
// kquant_gemv.h (Q3_KTerm) over W16Vbmi, whose codes leave the stored bytes by one vgf2p8affineqb
// and whose scaled pairs reach the int32 lanes by one vpdpwssd; the same exact lanes and rounding
// path as q3_K_gemv_avx512. Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/kquant_gemv.h"

namespace qb::x86 {

QB_TARGET_AVX512VBMI void q3_K_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                           float* y) {
  kquant::gemv<kquant::Q3_KTerm<kquant::W16Vbmi>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

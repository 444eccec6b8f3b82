// iq4_xs x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4: VNNI and GFNI): iq4_xs_x86.h's
// term with each chunk's nibbles split by one broadcast load and one vgf2p8affineqb (nibbles.h)
// instead of two masks, a shift and an insert, the scaled pairs summed by one vpdpwssd (six
// vector ops per 64 weights where the avx512 kernel takes ten), and the sub-block scales
// deposited by pdep (three vector ops per block where the avx512 kernel takes ten).
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/ggml/iq4_xs_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/nibbles.h"
#include "optimized/x86/target.h"

namespace qb::x86 {

QB_TARGET_AVX512VBMI void iq4_xs_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                 int64_t r1, float* y) {
  kquant::gemv<iq4_xs::Term512<SplitNibblesGfni, true>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

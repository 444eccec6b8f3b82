// q4_K x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4: VNNI and GFNI): q4_K_x86.h's term
// with each chunk's nibbles split by one broadcast load and one vgf2p8affineqb (nibbles.h) instead
// of two masks, a shift and an insert, and the scaled pairs summed by one vpdpwssd: four vector
// ops per 64 weights where the avx512 kernel takes eight.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/x86/ggml/q4_K_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/nibbles.h"
#include "optimized/x86/target.h"

namespace qb::x86 {

QB_TARGET_AVX512VBMI void q4_K_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                               int64_t r1, float* y) {
  kquant::gemv<q4_K::Term512<SplitNibblesGfni, true>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

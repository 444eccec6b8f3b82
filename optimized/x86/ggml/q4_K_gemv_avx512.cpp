// q4_K x q8_K GEMV, AVX-512: q4_K_x86.h's term with the nibbles split by shifts and masks and the
// scaled pairs summed by vpmaddwd and vpaddd.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/x86/ggml/q4_K_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/nibbles.h"
#include "optimized/x86/target.h"

namespace qb::x86 {

QB_TARGET_AVX512 void q4_K_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                       float* y) {
  kquant::gemv<q4_K::Term512<SplitNibblesAvx512, false>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

// tq2_0 x q8_K GEMV, AVX-512: tq2_0_x86.h's term with codes by shift and mask, summed by
// vpmaddubsw in int16 lanes.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/ggml/tq2_0_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"

namespace qb::x86 {

QB_TARGET_AVX512 void tq2_0_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                        float* y) {
  kquant::gemv<tq2_0::Term512<tq2_0::ShiftCodes, false>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

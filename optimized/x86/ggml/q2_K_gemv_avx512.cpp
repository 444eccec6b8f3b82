// q2_K x q8_K GEMV, AVX-512 (one 64-byte register per 64 elements): the block term of kquant_gemv.h
// (Q2_KTerm), whose comment gives the layout, the exact integer dot and the rounding path within
// kquant_rounding_depth (reference/ggml/kquant_common.cpp). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
#include "optimized/x86/ggml/kquant_gemv.h"

namespace qb::x86 {

QB_TARGET_AVX512 void q2_K_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                       float* y) {
  kquant::gemv<kquant::Q2_KTerm<kquant::W16>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

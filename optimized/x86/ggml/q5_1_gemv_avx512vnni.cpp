// q5_1 x q8_1 GEMV, AVX-512 VNNI (256-bit vpdpbusd): the row loop of legacy_gemv.h (Q5_1 unpacking), whose comment
// gives the layout and why the integer sums are exact.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/legacy_gemv.h"

namespace qb::x86 {

QB_TARGET_AVX512VNNI void q5_1_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  legacy::gemv<legacy::Q5_1, legacy::VnniDot>(w, act, r0, r1, y);
}

}  // namespace qb::x86

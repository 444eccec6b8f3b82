// q4_1 x q8_1 GEMV, AVX2 (vpmaddubsw + vpmaddwd): the row loop of legacy_gemv.h (Q4_1 unpacking), whose comment gives
// the layout and why the integer sums are exact.
#define QB_KERNEL_TARGET QB_TARGET_AVX2
#include "optimized/x86/ggml/legacy_gemv.h"

namespace qb::x86 {

QB_TARGET_AVX2 void q4_1_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  legacy::gemv<legacy::Q4_1, legacy::MaddDot>(w, act, r0, r1, y);
}

}  // namespace qb::x86

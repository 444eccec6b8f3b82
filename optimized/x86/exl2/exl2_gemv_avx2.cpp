// EXL2 GEMV y = x.W (+ bias), AVX2 + FMA + F16C, 8 columns per vector, four vectors per column
// block: exl2_x86_common.h states the scheme and its rounding depth.
#include "optimized/x86/exl2/exl2_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace exl2k;
#define QB_EXL2_TARGET QB_TARGET_AVX2
#include "optimized/x86/exl2/exl2_x86_body.inc"
#undef QB_EXL2_TARGET
}  // namespace

QB_TARGET_AVX2 void exl2_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  for (int64_t i = 0; i < m; ++i) gemv<V8, 4>(w, act + 4 * i * w->cols, r0, r1, y + i * w->rows);
}

}  // namespace qb::x86

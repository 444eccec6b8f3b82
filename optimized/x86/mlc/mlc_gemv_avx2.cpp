// MLC GEMV y = W x of every group preset, AVX2 (+FMA, F16C), 8 lanes: 2 rows (NK) or 2 vectors of 8 rows (KN) per pass;
// mlc_x86_common.h states the scheme and its rounding depth.
#include "optimized/x86/kernels.h"
#include "optimized/x86/mlc/mlc_x86_common.h"

namespace qb::x86 {
namespace {
using namespace mlck;
#define QB_MLC_TARGET QB_TARGET_AVX2
#include "optimized/x86/mlc/mlc_x86_body.inc"
#undef QB_MLC_TARGET
}  // namespace

#define QB_MLC_GEMV(preset)                                                                                   \
  QB_TARGET_AVX2 void mlc_##preset##_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, \
                                    float* y) {                                                                 \
    gemv<V8, 2>(w, act, m, r0, r1, y);                                                                        \
  }
QB_MLC_PRESETS(QB_MLC_GEMV)
#undef QB_MLC_GEMV

}  // namespace qb::x86

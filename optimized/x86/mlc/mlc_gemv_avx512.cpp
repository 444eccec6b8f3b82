// MLC GEMV y = W x of every group preset, AVX-512 (F/BW/DQ/VL), 16 lanes: 4 rows (NK) or 4 vectors of 16 rows (KN) per pass;
// mlc_x86_common.h states the scheme and its rounding depth.
#include "optimized/x86/kernels.h"
#include "optimized/x86/mlc/mlc_x86_common.h"

namespace qb::x86 {
namespace {
using namespace mlck;
#define QB_MLC_TARGET QB_TARGET_AVX512
#include "optimized/x86/mlc/mlc_x86_body.inc"
#undef QB_MLC_TARGET
}  // namespace

#define QB_MLC_GEMV(preset)                                                                                   \
  QB_TARGET_AVX512 void mlc_##preset##_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, \
                                    float* y) {                                                                 \
    gemv<V16, 4>(w, act, m, r0, r1, y);                                                                        \
  }
QB_MLC_PRESETS(QB_MLC_GEMV)
#undef QB_MLC_GEMV

}  // namespace qb::x86

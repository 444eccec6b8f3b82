// MLC dequant of every group preset into fp32 (the model-dtype value widened), avx2:
// bit-exact with the reference (one rounding of the exact (code - max_int) * s, spec 2.3).
#include "optimized/x86/kernels.h"
#include "optimized/x86/mlc/mlc_x86_common.h"

namespace qb::x86 {
namespace {
using namespace mlck;
#define QB_MLC_TARGET QB_TARGET_AVX2
#include "optimized/x86/mlc/mlc_x86_body.inc"
#undef QB_MLC_TARGET
}  // namespace

#define QB_MLC_DEQUANT(preset) \
  QB_TARGET_AVX2 void mlc_##preset##_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) { dequant<V8>(w, r0, r1, out); }
QB_MLC_PRESETS(QB_MLC_DEQUANT)
#undef QB_MLC_DEQUANT

}  // namespace qb::x86

// EXL2 dequant to W^T in fp32 (upstream's fp16 reconstruct, widened), AVX2 + FMA + F16C: levels
// times the group scale rounded by vcvtps2ph, then gathered through q_invperm (exl2_x86_common.h).
#include "optimized/x86/exl2/exl2_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace exl2k;
#define QB_EXL2_TARGET QB_TARGET_AVX2
#include "optimized/x86/exl2/exl2_x86_body.inc"
#undef QB_EXL2_TARGET
}  // namespace

QB_TARGET_AVX2 void exl2_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) { dequant<V8, float>(w, r0, r1, out); }

}  // namespace qb::x86

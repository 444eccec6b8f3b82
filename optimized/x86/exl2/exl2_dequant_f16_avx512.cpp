// EXL2 dequant to W^T as fp16 bits (upstream's reconstruct itself, what GPU and BLAS paths take),
// AVX-512 (F/BW/DQ/VL): exl2_dequant_avx512's decode, stored by vcvtps2ph (exact: every value is an fp16).
#include "optimized/x86/exl2/exl2_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace exl2k;
#define QB_EXL2_TARGET QB_TARGET_AVX512
#include "optimized/x86/exl2/exl2_x86_body.inc"
#undef QB_EXL2_TARGET
}  // namespace

QB_TARGET_AVX512 void exl2_dequant_f16_avx512(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
  dequant<V16, uint16_t>(w, r0, r1, out);
}

}  // namespace qb::x86

// q4_1 dequantization, AVX2 (8-float vectors): the row loop of legacy_dequant.h (Q4_1 unpacking), whose
// comment says why the output is bit-identical to the reference.
#define QB_KERNEL_TARGET QB_TARGET_AVX2
#include "optimized/x86/ggml/legacy_dequant.h"

namespace qb::x86 {

QB_TARGET_AVX2 void q4_1_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  legacy::dequant<legacy::Q4_1, legacy::V8>(w, r0, r1, out);
}

}  // namespace qb::x86

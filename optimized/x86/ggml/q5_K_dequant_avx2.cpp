// q5_K dequantization, AVX2 (8 floats per store): the row loop of kquant_dequant.h, whose comment gives the
// layout and says why the output is bit-identical to the reference.
#define QB_KERNEL_TARGET QB_TARGET_AVX2
#include "optimized/x86/ggml/kquant_dequant.h"

namespace qb::x86 {

QB_TARGET_AVX2 void q5_K_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  kquant::q5_K_dequant<kquant::V8>(w, r0, r1, out);
}

}  // namespace qb::x86

// q5_K dequantization, AVX-512 (16 floats per store): the row loop of kquant_dequant.h, whose comment gives the
// layout and says why the output is bit-identical to the reference.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
#include "optimized/x86/ggml/kquant_dequant.h"

namespace qb::x86 {

QB_TARGET_AVX512 void q5_K_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  kquant::q5_K_dequant<kquant::V16>(w, r0, r1, out);
}

}  // namespace qb::x86

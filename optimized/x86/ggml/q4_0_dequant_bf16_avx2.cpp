// q4_0 decode into bf16 (Op::dequant_bf16), AVX2: the exact fp32 decode rounded once
// (optimized/x86/ggml/ggml_decode16.h, optimized/x86/store16.h).
#include "optimized/x86/ggml/ggml_decode16.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {

QB_TARGET_AVX2 void q4_0_dequant_bf16_avx2(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
  ggml_x86::q4_0_decode16_avx2<BF16Store>(w, r0, r1, out);
}

}  // namespace qb::x86

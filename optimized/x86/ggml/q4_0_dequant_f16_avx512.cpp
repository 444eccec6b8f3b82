// q4_0 decode into f16 (Op::dequant_f16), AVX-512: the exact fp32 decode rounded once
// (optimized/x86/ggml/ggml_decode16.h, optimized/x86/store16.h).
#include "optimized/x86/ggml/ggml_decode16.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {

QB_TARGET_AVX512 void q4_0_dequant_f16_avx512(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
  ggml_x86::q4_0_decode16_avx512<F16Store>(w, r0, r1, out);
}

}  // namespace qb::x86

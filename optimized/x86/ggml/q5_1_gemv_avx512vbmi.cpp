// q5_1 x q8_1 GEMV at the AVX-512 VBMI level (vpermi2b; Ice Lake / Zen 4): q4_1's raw chunks
// (q4_1_gemv_avx512vnni.cpp) for q5_1's 24-byte blocks (d, m, qh, 16 bytes of nibbles): (d, m) is
// the min lane (seed 1, scale m_w * s_x), qh a lane of zero activation, and each nibble plane takes
// its fifth bit from qh as q5_0's does (ggml_chunk_gemv_avx512vnni.h). Unsigned codes 0..31 need no
// offset: the quant lanes hold the exact sums q*x (|lane| <= 8 * 31 * 128), scaled by d_w * d_x.
// Within q5_1's bound (reference/ggml/q5_1.cpp), as the AVX2 kernel's.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/ggml_chunk_gemv_avx512vnni.h"
#include "optimized/x86/kernels.h"
#include "reference/ggml/q5_1.h"

namespace qb::x86 {

QB_TARGET_AVX512VBMI void q5_1_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  ggml_x86::chunk_gemv<ggml_x86::NibbleSums<true>, sizeof(ggml::BlockQ5_1), 2, 0, true>(w, act, r0, r1, y);
}

}  // namespace qb::x86

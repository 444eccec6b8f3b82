// q5_0 x q8_0 GEMV at the AVX-512 VBMI level (vpermi2b; Ice Lake / Zen 4): q4_0's raw 64-byte
// chunks (ggml_chunk_gemv_avx512vnni.h) for q5_0's 22-byte blocks (d, qh, 16 bytes of nibbles; 2
// mod 4 like q4_0's 18). Each nibble plane takes its fifth bit from qh by one vpermi2b over
// (previous chunk, chunk) and a bit test per plane, then goes through vpdpbusd against the prepared
// activation seeded with -16 * lane sums: the lanes hold the exact sums (q - 16)*x (|lane| <= 8 *
// 31 * 128 + 8 * 16 * 128) and are scaled by d_w * d_x. Each product's path is q4_0's, within
// q5_0's bound (reference/ggml/q5_0.cpp).
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/ggml_chunk_gemv_avx512vnni.h"
#include "optimized/x86/kernels.h"
#include "reference/ggml/q5_0.h"

namespace qb::x86 {

QB_TARGET_AVX512VBMI void q5_0_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  ggml_x86::chunk_gemv<ggml_x86::NibbleSums<true>, sizeof(ggml::BlockQ5_0), 2, 16>(w, act, r0, r1, y);
}

}  // namespace qb::x86

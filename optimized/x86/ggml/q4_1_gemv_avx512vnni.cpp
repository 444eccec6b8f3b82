// q4_1 x q8_1 GEMV, AVX-512 VNNI: q4_0's raw 64-byte chunks (ggml_chunk_gemv_avx512vnni.h) for
// q4_1's 20-byte blocks, whose 4-byte header (d, m) is a lane of its own. The two nibble planes
// go through vpdpbusd against the prepared activation: unsigned codes 0..15 need no offset, so the
// quant lanes hold the exact sums q*x (|lane| <= 8 * 15 * 128) and are scaled by d_w * d_x; the
// header lane meets zero activation and the seed 1, and its scale picks m_w and s_x: it adds the
// block's min term m_w * s_x (ggml_x86_common.h). Each product's path: one product of two fp16
// values, the FMA into its lane, the lane's later FMAs, a 4-level tree: within q4_1's bound
// (reference/ggml/q4_1.cpp), as the AVX2 kernel's.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/ggml_chunk_gemv_avx512vnni.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "reference/ggml/q4_1.h"

namespace qb::x86 {

QB_TARGET_AVX512VNNI void q4_1_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  ggml_x86::chunk_gemv<ggml_x86::NibbleSums<false>, sizeof(ggml::BlockQ4_1), 2, 0, true>(w, act, r0, r1, y);
}

}  // namespace qb::x86

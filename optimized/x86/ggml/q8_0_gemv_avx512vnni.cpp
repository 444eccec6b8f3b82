// q8_0 x q8_0 GEMV, AVX-512 VNNI: xor 0x80 makes the int8 weights of each raw 64-byte chunk
// unsigned for vpdpbusd (w + 128 in [0, 255]), and the prepared lane seeds (-128 * lane activation
// sums) cancel that offset exactly; the row driver is ggml_chunk_gemv_avx512vnni.h. Exact for every
// int8 pair: vpdpbusd adds its four u8 x s8 products (each within [-32640, 32385]) into int32
// without saturation, so a lane stays within 4 * 255 * 128 + 4 * 128 * 128 < 2^18.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/ggml_chunk_gemv_avx512vnni.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "reference/ggml/blocks.h"

namespace qb::x86 {
namespace {

struct Q8_0Sums {
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512i lane_sums(__m512i w, __m512i,
                                                                                     const ggml_x86::ChunkVecs& a) {
    return _mm512_dpbusd_epi32(a.seed, _mm512_xor_si512(w, _mm512_set1_epi8(-128)), a.x[0]);
  }
};

}  // namespace

QB_TARGET_AVX512VNNI void q8_0_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  ggml_x86::chunk_gemv<Q8_0Sums, sizeof(ggml::BlockQ8_0), 1, QB_MUTANT_ON(q8_0_vnni_offset_127) ? 127 : 128>(w, act, r0,
                                                                                                       r1, y);
}

}  // namespace qb::x86

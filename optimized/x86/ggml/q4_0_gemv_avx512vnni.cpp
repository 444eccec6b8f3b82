// q4_0 x q8_0 GEMV, AVX-512 VNNI: the two nibble planes of each raw 64-byte chunk go through
// vpdpbusd against the prepared activation, seeded with -8 * lane sums, so the int32 lanes hold
// the exact sum (q-8)*x for every int8 activation (vpdpbusd accumulates in int32 without
// saturation; a lane is at most 8 * 15 * 128 + 8 * 8 * 128 in magnitude); the row driver is
// ggml_chunk_gemv_avx512vnni.h.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/ggml_chunk_gemv_avx512vnni.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "reference/ggml/blocks.h"

namespace qb::x86 {
namespace {

struct Q4_0Sums {
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512i lane_sums(__m512i w, __m512i,
                                                                                     const ggml_x86::ChunkVecs& a) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i lo = _mm512_and_si512(w, m4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
    if constexpr (QB_MUTANT_ON(q4_0_vnni_planes_swapped))
      return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a.seed, lo, a.x[1]), hi, a.x[0]);
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a.seed, lo, a.x[0]), hi, a.x[1]);
  }
};

}  // namespace

QB_TARGET_AVX512VNNI void q4_0_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  ggml_x86::chunk_gemv<Q4_0Sums, sizeof(ggml::BlockQ4_0), 2, 8>(w, act, r0, r1, y);
}

}  // namespace qb::x86

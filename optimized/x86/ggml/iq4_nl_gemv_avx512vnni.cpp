// iq4_nl x q8_0 GEMV, AVX-512 VNNI: q4_0's raw 64-byte chunks (iq4_nl blocks are q4_0's 18 bytes
// with the same nibble order), each nibble plane mapped by vpshufb to kvalues_iq4nl + 127
// (unsigned 0..240) and put through vpdpbusd against the prepared activation, seeded with
// -127 * lane sums: the int32 lanes hold the exact sum level * x for every int8 activation (no
// saturation in vpdpbusd; |lane| <= 8 * 240 * 128 + 8 * 127 * 128). The scale bytes meet zero
// activation. The row driver is ggml_chunk_gemv_avx512vnni.h; each product's path is q4_0's,
// within q8_0_paired_rounding_depth.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/ggml_chunk_gemv_avx512vnni.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/iq4_nl.h"
#include "reference/ggml/iq_tables.h"

namespace qb::x86 {
namespace {

constexpr int kOffset = 127;  // -kvalues_iq4nl[0]: every shifted level is a valid unsigned byte

struct IQ4_NLSums {
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512i lane_sums(__m512i w, __m512i,
                                                                                     const ggml_x86::ChunkVecs& a) {
    // Mutant iq4_nl_vnni_offset_128: the table shifted by 128 against seeds of 127 (every level + 1).
    const int offset = QB_MUTANT_ON(iq4_nl_vnni_offset_128) ? 128 : kOffset;
    const __m512i table = _mm512_add_epi8(  // loop-invariant: hoisted out of the row loop
        _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kvalues_iq4nl))),
        _mm512_set1_epi8(static_cast<char>(offset)));
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i lo = _mm512_shuffle_epi8(table, _mm512_and_si512(w, m4));
    const __m512i hi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(w, 4), m4));
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a.seed, lo, a.x[0]), hi, a.x[1]);
  }
};

}  // namespace

QB_TARGET_AVX512VNNI void iq4_nl_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                 int64_t r1, float* y) {
  ggml_x86::chunk_gemv<IQ4_NLSums, sizeof(ggml::BlockIQ4_NL), 2, kOffset>(w, act, r0, r1, y);
}

}  // namespace qb::x86

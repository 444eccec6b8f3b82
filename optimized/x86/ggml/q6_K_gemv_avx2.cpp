// q6_K x q8_K GEMV, AVX2. Per block and row: each 32-element group's unsigned 6-bit codes
// (q + 32, 0..63) from ql and qh, vpmaddubsw against the int8 activation (|pair sum| <=
// 2*63*128 = 16128: no int16 saturation), vpmaddwd by the two 16-element sub-blocks' int8
// scales, summed in int32 lanes; the +32 offset comes off exactly as 32 * sum_j scale_j * bsums_j
// (one vpmaddwd of the scales with the activation's 16-element sums). The lanes then hold the
// exact sum of scale*q*x8; one FMA with d*yd per block. Each term's path: d*yd, the FMA, the
// block chain and a 3-level lane tree, within kquant_rounding_depth
// (reference/ggml/kquant_common.cpp). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX2
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q6_K.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

struct Term {
  using Acc = __m256;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ6_K);
  static constexpr bool kMin = false;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block(const uint8_t* blk, const uint8_t* xb,
                                                                           __m256 acc) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const int8_t* scales = reinterpret_cast<const int8_t*>(blk + 192);
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      for (int s = 0; s < 4; ++s) {  // elements 128h + 32s + l: ql[64h + 32(s&1) + l], nibble s>>1
        const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32 * (s & 1)));
        const __m256i low = _mm256_and_si256(s < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
        const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * s)), m2), 4);
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 128 * h + 32 * s));
        const int j = 8 * h + 2 * s;  // int16 lanes 0-7 hold elements 0..15 (sub-block j), 8-15 the next 16
        const __m256i sc = _mm256_set_m128i(_mm_set1_epi16(scales[j + 1]), _mm_set1_epi16(scales[j]));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_or_si256(low, high), x), sc));
      }
    }
    const __m256i bsums = kquant::q8_K_bsums16(xb);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
    const int offset_shift = QB_MUTANT_ON(q6_K_gemv2_offset_16) ? 4 : 5;  // 32 = 2^5
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), offset_shift));
    const float dall = _cvtsh_ss(ggml::load_u16(blk + 208)) * ggml::q8_K_d(xb);
    return _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX2 void q6_K_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

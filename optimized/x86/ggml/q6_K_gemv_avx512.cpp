// q6_K x q8_K GEMV, AVX-512: q6_K_x86.h's term with the codes taken out of ql and qh by shifts and
// masks (vpsrlvw shifts qh by 2s per half) and the scaled pairs summed by vpmaddwd and vpaddd.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include "optimized/x86/ggml/q6_K_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"

namespace qb::x86 {
namespace {

struct ShiftCodes {
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512i codes(__m512i ql, __m512i qh, int t) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x03);
    const __m512i low = _mm512_and_si512(t == 0 ? ql : _mm512_srli_epi16(ql, 4), m4);
    // Word shifts 2s for the two groups: 4t in the lower 32 bytes, 4t + 2 in the upper.
    const __m512i shifts =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<int16_t>(4 * t))),
                           _mm256_set1_epi16(static_cast<int16_t>(4 * t + 2)), 1);
    const __m512i high = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shifts), m2), 4);
    return _mm512_or_si512(low, high);
  }
};

}  // namespace

QB_TARGET_AVX512 void q6_K_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                       float* y) {
  kquant::gemv<q6_K::Term512<ShiftCodes, false>>(w, act, r0, r1, y);
}

}  // namespace qb::x86

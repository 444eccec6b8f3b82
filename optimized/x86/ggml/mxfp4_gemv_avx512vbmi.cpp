// mxfp4 x q8_0 GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4): four 17-byte blocks per step
// through block_group_gemv.h's row driver, the scales decoded in vector registers (specs/ggml.md
// 3.8; reference/ggml/mxfp4.cpp).
//
// One vpermi2b gathers the four blocks' qs bytes; vpshufb maps each nibble to the FP4 value + 12
// (unsigned 0..24, legacy_gemv.h's Mxfp4 table), so a lane sums at most 8*24*128 + 8*12*128 in
// magnitude. The four scale bytes go to their lanes' low bytes by one zero-masking vpermb;
// e8m0_half(e) is 2^(e-128) for every byte (2^-128 and 2^-127, the subnormal halves of e = 0 and
// 1, included; nothing is Inf or NaN), and vscalefps(1, e - 128) gives it exactly. The products'
// path is the AVX-512 VNNI kernel's, within mxfp4's bound.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/block_group_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/legacy_gemv.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"

namespace qb::x86 {
namespace {

using legacy::Mxfp4;

// vpermi2b index of the qs bytes (block j's byte i at 17j + 1 + i of the 68 group bytes) and
// vpermb index of the scale bytes (block j's at 17j, into the low byte of lanes 4j..4j+3).
struct alignas(64) Selectors {
  uint8_t qs[64], scale[64];
};
constexpr Selectors make_selectors() {
  Selectors s{};
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 16; ++i) {
      s.qs[16 * j + i] = static_cast<uint8_t>(Mxfp4::kBlock * j + 1 + i);
      s.scale[16 * j + i] = static_cast<uint8_t>(Mxfp4::kBlock * j);
    }
  return s;
}
constexpr Selectors kSelectors = make_selectors();

struct Mxfp4Group {
  static constexpr int64_t kBlock = Mxfp4::kBlock;
  static constexpr int32_t kOffset = Mxfp4::kOffset;
  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) void planes(__m512i v0, __m512i v1, __m512i& lo,
                                                                                __m512i& hi) {
    static constexpr Mxfp4::Table kTable = Mxfp4::shifted();
    const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kTable.v)));
    const __m512i qs = _mm512_permutex2var_epi8(v0, _mm512_load_si512(kSelectors.qs), v1);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    lo = _mm512_shuffle_epi8(table, _mm512_and_si512(qs, m4));
    hi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4));
  }
  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512 scale(__m512i v0, __m512i) {
    const __m512i e = _mm512_maskz_permutexvar_epi8(0x1111111111111111ull, _mm512_load_si512(kSelectors.scale), v0);
    // Mutant mxfp4_vbmi_scale_bias_127: 2^(e - 127), every scale doubled.
    constexpr int kBias = QB_MUTANT_ON(mxfp4_vbmi_scale_bias_127) ? 127 : 128;
    return _mm512_scalef_ps(_mm512_set1_ps(1.0f), _mm512_cvtepi32_ps(_mm512_sub_epi32(e, _mm512_set1_epi32(kBias))));
  }
};

}  // namespace

QB_TARGET_AVX512VBMI void mxfp4_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                                float* y) {
  block_group::gemv<Mxfp4Group>(w, act, r0, r1, y);
}

}  // namespace qb::x86

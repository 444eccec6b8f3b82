// tq1_0 x q8_K GEMV, AVX-512. The 52 packed bytes of a block (qs[0..47], qh[0..3]) are loaded
// once into one 64-byte register, and register n = 0..4 of the chain x -> x + x + x (wrapping byte
// adds) holds b * 3^n mod 256 in every lane, whose trit test gives trit n of each byte
// (tq1_0_x86.h): 5 registers of trits t (0..2, the code plus one) per block, no per-lane powers to
// assemble; the activation is regrouped to match once per call (tq1_0_x86.h prepare_streams).
// vpmaddubsw of t against a stream (|pair sum| <= 2*2*128), the five sums added in int16 lanes,
// the +1 offset removed there as the 16 q8_K bsums (|lane| <= 5*512 + 16*128), vpmaddwd by ones to
// int32 lanes: the block's exact sum (t - 1)*x8. One FMA with d*yd per block (the reference's
// product, weight scale first) and a 4-level lane tree, within tq1_0's rounding depth
// (reference/ggml/ternary_common.h). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/x86/ggml/tq1_0_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

struct Term {
  using Acc = __m512;
  static constexpr int64_t kBlock = tq1_0::kBlock;
  static constexpr bool kMin = false;
  static constexpr int64_t kActBlock = tq1_0::kStreamsBytes;
  static const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
    return tq1_0::prepare_streams<false>(act, nb, buf);
  }

  QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk, const uint8_t* xb,
                                                                             __m512 acc) {
    __m512i x = _mm512_maskz_loadu_epi8(tq1_0::kPacked, blk);
    __m512i s16 = _mm512_maddubs_epi16(tq1_0::trit(x), _mm512_load_si512(xb));
#pragma GCC unroll 4
    for (int n = 1; n < 5; ++n) {
      x = tq1_0::times3(x);
      s16 = _mm512_add_epi16(s16, _mm512_maddubs_epi16(tq1_0::trit(x), _mm512_load_si512(xb + 64 * n)));
    }
    const __m256i bsums = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + tq1_0::kBsums));
    const __m512i isum = _mm512_madd_epi16(_mm512_sub_epi16(s16, _mm512_zextsi256_si512(bsums)), _mm512_set1_epi16(1));
    const float d = _cvtsh_ss(ggml::load_u16(blk + tq1_0::kD)) * ggml::q8_K_d(xb + tq1_0::kDx);
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX512 void tq1_0_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                        float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

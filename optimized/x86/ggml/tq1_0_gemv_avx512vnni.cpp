// tq1_0 x q8_K GEMV, AVX-512 VNNI: tq1_0_gemv_avx512.cpp's one register of a block's 52 packed
// bytes and its regrouped activation (tq1_0_x86.h), without the trit tests. The chain of wrapping
// byte adds gives x_n = b * 3^n mod 256 (n = 0..5), and 3 x_n = 256 t_n + x_(n+1) exactly in
// integers (t_n = (3 x_n) >> 8 is trit n: the reference's formula), so for each lane
// 256 * sum_n t_n a_n = 3 * sum_n x_n a_n - sum_n x_(n+1) a_n, with a_n the activation stream of
// trit n. Both sums are vpdpbusd of the unsigned bytes x against the int8 stream (no saturation,
// |lane| <= 5*4*255*128); the second starts from the prepared seeds, 256 times the lane's
// activation sum, which removes the +1 offset; 3*acc3 - acc1 is a multiple of 256 and the
// arithmetic shift by 8 is exact: int32 lanes holding the block's exact sum (t - 1)*x8. Lanes
// 52..63 (x = 0) and qh's fifth trit (stream 4 is 0 there) add nothing. One FMA with d*yd per
// block (the reference's product, weight scale first) and a 4-level lane tree, within tq1_0's
// rounding depth (reference/ggml/ternary_common.h). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/mutation.h"
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
  static constexpr int64_t kActBlock = tq1_0::kSeededBytes;
  static const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
    return tq1_0::prepare_streams<true>(act, nb, buf);
  }

  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk,
                                                                                 const uint8_t* xb, __m512 acc) {
    __m512i x = _mm512_maskz_loadu_epi8(tq1_0::kPacked, blk);
    __m512i acc3 = _mm512_setzero_si512(), acc1 = _mm512_load_si512(xb + tq1_0::kSeeds);
#pragma GCC unroll 5
    for (int n = 0; n < 5; ++n) {
      const __m512i a = _mm512_load_si512(xb + 64 * n);
      acc3 = _mm512_dpbusd_epi32(acc3, x, a);
      // Mutant tq1_0_vnni_power_late: the second product reads x_n, not x_(n+1).
      if constexpr (QB_MUTANT_ON(tq1_0_vnni_power_late)) {
        acc1 = _mm512_dpbusd_epi32(acc1, x, a);
        x = tq1_0::times3(x);
      } else {
        x = tq1_0::times3(x);
        acc1 = _mm512_dpbusd_epi32(acc1, x, a);
      }
    }
    const __m512i t256 = _mm512_sub_epi32(_mm512_add_epi32(acc3, _mm512_add_epi32(acc3, acc3)), acc1);
    const __m512i isum = _mm512_srai_epi32(t256, 8);
    const float d = _cvtsh_ss(ggml::load_u16(blk + tq1_0::kD)) * ggml::q8_K_d(xb + tq1_0::kDx);
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace

QB_TARGET_AVX512VNNI void tq1_0_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                                float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

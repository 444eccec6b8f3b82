// q8_0 x q8_0 GEMV, AVX2. Per block and row: vpmaddubsw of |w| with x carrying w's sign (exact:
// |sum of 2| <= 2*128*127 for activations in [-127, 127], which the q8_0 quantizer guarantees),
// vpmaddwd to int32 lanes, then one FMA of the lane sums with d_w * d_x. Four rows share every
// activation load.
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockQ8_0);

QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block_term(
    const uint8_t* blk, __m256i x, __m256 dx, __m256 acc) {
  __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  if constexpr (QB_MUTANT_ON(q8_0_gemv2_w_m128_saturate)) q = _mm256_max_epi8(q, _mm256_set1_epi8(-127));
  const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(x, q));
  const __m256i s = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  const uint16_t dh = ggml::load_u16(blk);
  const bool finite = (dh & 0x7C00) != 0x7C00;
  const float dw = QB_MUTANT_ON(q8_0_gemv2_nonfinite_scale_zero) && !finite ? 0.0f : _cvtsh_ss(dh);
  const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(dw), dx);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
}

template <int R>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void rows(
    const uint8_t* w0, int64_t row_stride, const uint8_t* act, int64_t nb, float* y) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k) {
    if (QB_MUTANT_ON(q8_0_gemv2_last_block_dropped) && k == nb - 1) break;
    const uint8_t* xb = act + k * kBlock;
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2));
    const __m256 dx = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(xb)));
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      // The same block of the next row group, into L2: hardware prefetchers barely train on R
      // interleaved short streams, and one group of work ahead covers DRAM latency.
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, x, dx, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX2 void q8_0_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                   float* y) {
  const int64_t nb = w->cols / 32, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, act, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, act, nb, y + r);
}

}  // namespace qb::x86

// q5_0 x q8_0 GEMV, AVX2. Per block and row: the 5-bit codes as 32 unsigned bytes in element order
// (nibble | bit 4 from qh, 0..31), vpmaddubsw against the activation (|sum of 2| <= 2*31*128 = 7936
// for any int8 activation, -128 included: no int16 saturation), vpmaddwd to int32 lanes plus the
// prepared -16 * lane activation sums (exact sum (q-16)*x), then one FMA of the lane sums with
// d_w * d_x. Four rows share every activation load.
#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q5_0.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockQ5_0);

QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block_term(
    const uint8_t* blk, __m256i x, __m256i seed, __m256 dx, __m256 acc) {
  const __m256i q = _mm256_or_si256(legacy::nibbles(blk + 6), legacy::fifth_bits(blk + 2));
  const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(1)), seed);
  const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk))), dx);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
}

template <int R>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void rows(
    const uint8_t* w0, int64_t row_stride, const ggml_x86::BlockAct& a, int64_t nb, float* y) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k) {
    const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.x + 32 * k));
    const __m256i seed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.seed + 8 * k));
    const __m256 dx = _mm256_broadcast_ss(a.dx + k);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, x, seed, dx, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX2 void q5_0_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                   float* y) {
  thread_local std::vector<uint8_t> buf;
  const ggml_x86::BlockAct a = ggml_x86::prepare_blocks(act, w->cols, 16, buf);
  const int64_t nb = w->cols / 32, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace qb::x86

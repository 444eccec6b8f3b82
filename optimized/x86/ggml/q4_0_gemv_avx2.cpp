// q4_0 x q8_0 GEMV, AVX2. Per block and row: the 16 quant bytes become 32 unsigned nibbles in
// element order (low nibbles = elements 0..15, high = 16..31), vpmaddubsw against the activation
// (|sum of 2| <= 2*15*128 = 3840 for any int8 activation, -128 included: no int16 saturation),
// vpmaddwd to int32 lanes plus the prepared -8 * lane activation sums (exact sum (q-8)*x), then
// one FMA of the lane sums with d_w * d_x. Four rows share every activation load.
#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockQ4_0);

QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block_term(
    const uint8_t* blk, __m256i x, __m256i seed, __m256 dx, __m256 acc) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
  const __m256i q = _mm256_and_si256(
      _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1),
      _mm256_set1_epi8(0x0F));
  const __m256i s = _mm256_add_epi32(
      _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(1)), seed);
  __m256 scale = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk))), dx);
  if constexpr (QB_MUTANT_ON(q4_0_gemv2_scale_bf16))  // d_w * d_x truncated to bf16
    scale = _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(scale), _mm256_set1_epi32(int32_t(0xFFFF0000u))));
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
      // The same block of the next row group, into L2: hardware prefetchers barely train on R
      // interleaved short streams, and one group of work ahead covers DRAM latency.
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, x, seed, dx, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX2 void q4_0_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                   float* y) {
  thread_local std::vector<uint8_t> buf;
  const ggml_x86::BlockAct a = ggml_x86::prepare_blocks(act, w->cols, QB_MUTANT_ON(q4_0_gemv2_seed_offset_7) ? 7 : 8, buf);
  const int64_t nb = w->cols / 32, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  if constexpr (QB_MUTANT_ON(q4_0_gemv2_y_r0)) y -= r0;  // y taken as the call's own rows
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace qb::x86

// q8_0 x q8_0 GEMV, AVX2. Per block and row: both operands sign-extended to int16 (vpmovsxbw) and
// multiplied pairwise into int32 lanes (vpmaddwd), then one FMA of the lane sums with d_w * d_x.
// Exact over the whole int8 x int8 range: a product is at most 128 * 128 = 2^14, a vpmaddwd pair
// 2^15, which int32 holds. (The vpsignb/vpmaddubsw form is not: vpsignb cannot negate an
// activation -128 under a negative weight, and a pair of -128 x -128 products, 2^15, saturates
// int16; a stored file or upstream's activation quantizer on non-finite input yields -128 on
// either side.) Four rows share every activation load and its sign extension.
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

// One activation block: its 32 codes as loaded (used only by the sign-trick mutant), sign-extended
// to int16 (elements 0..15 and 16..31), and d_x broadcast.
struct ActBlock {
  __m256i x8, x16[2];
  __m256 dx;
};

QB_TARGET_AVX2 static inline __attribute__((always_inline)) ActBlock load_act(const uint8_t* xb) {
  ActBlock a;
  a.x8 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2));
  a.x16[0] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 2)));
  a.x16[1] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 18)));
  a.dx = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(xb)));
  return a;
}

QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block_term(const uint8_t* blk, const ActBlock& a,
                                                                              __m256 acc) {
  __m256i s;
  if constexpr (QB_MUTANT_ON(q8_0_gemv2_sign_trick_m128)) {
    // The former kernel: |w| times x carrying w's sign, wrong for x = -128 under w < 0.
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(a.x8, q)), _mm256_set1_epi16(1));
  } else {
    __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18));
    if constexpr (QB_MUTANT_ON(q8_0_gemv2_w_m128_saturate)) {
      q0 = _mm_max_epi8(q0, _mm_set1_epi8(-127));
      q1 = _mm_max_epi8(q1, _mm_set1_epi8(-127));
    }
    s = _mm256_add_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(q0), a.x16[0]),
                         _mm256_madd_epi16(_mm256_cvtepi8_epi16(q1), a.x16[1]));
  }
  const uint16_t dh = ggml::load_u16(blk);
  const bool finite = (dh & 0x7C00) != 0x7C00;
  const float dw = QB_MUTANT_ON(q8_0_gemv2_nonfinite_scale_zero) && !finite ? 0.0f : _cvtsh_ss(dh);
  const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(dw), a.dx);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
}

template <int R>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void rows(
    const uint8_t* w0, int64_t row_stride, const uint8_t* act, int64_t nb, float* y) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k) {
    if (QB_MUTANT_ON(q8_0_gemv2_last_block_dropped) && k == nb - 1) break;
    const ActBlock a = load_act(act + k * kBlock);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      // The same block of the next row group, into L2: hardware prefetchers barely train on R
      // interleaved short streams, and one group of work ahead covers DRAM latency.
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, a, acc[r]);
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

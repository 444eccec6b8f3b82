// iq4_nl x q8_0 GEMV, AVX2. Per block and row: the 32 nibbles become their kvalues_iq4nl levels
// by vpshufb (int8, in element order: low nibbles = elements 0..15, high = 16..31), both operands
// are sign-extended to int16 and multiplied pairwise into int32 lanes (vpmaddwd): exact, |lane|
// <= 2 * 127 * 128 per block. (vpmaddubsw would need an unsigned operand: levels + 128 or
// activations + 128 reach 241 or 255, and a pair of such products saturates int16.) Then one FMA
// of the lane sums with d_w * d_x per block. Each product's path: d_w * d_x, the FMA, one FMA per
// later block of its lane, a 3-level lane tree: within q8_0_paired_rounding_depth. Four rows
// share every activation load and its sign extension.
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq4_nl.h"
#include "reference/ggml/iq_tables.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockIQ4_NL), kActBlock = 34;  // q8_0: fp16 d + 32 int8

// One activation block: codes 0..15 and 16..31 sign-extended to int16, and d_x.
struct ActBlock {
  __m256i x16[2];
  float dx;
};

QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i widen(__m128i v) {
  if constexpr (QB_MUTANT_ON(iq4_nl_gemv2_levels_unsigned)) return _mm256_cvtepu8_epi16(v);
  return _mm256_cvtepi8_epi16(v);
}

QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block_term(const uint8_t* blk, const ActBlock& a,
                                                                              __m128i table, __m256 acc) {
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(raw, m4));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(raw, 4), m4));
  const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(widen(lo), a.x16[0]), _mm256_madd_epi16(widen(hi), a.x16[1]));
  const __m256 scale = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk)) * a.dx);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
}

template <int R>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                      const uint8_t* act, int64_t nb, float* y) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kvalues_iq4nl));
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* xb = act + k * kActBlock;
    ActBlock a;
    a.x16[0] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 2)));
    a.x16[1] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 18)));
    a.dx = _cvtsh_ss(ggml::load_u16(xb));
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, a, table, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX2 void iq4_nl_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                     float* y) {
  const int64_t nb = w->cols / ggml::kQK4_NL, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, act, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, act, nb, y + r);
}

}  // namespace qb::x86

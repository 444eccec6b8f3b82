// iq2_xxs x q8_K GEMV, AVX2. Per block and row, for each 32-group: its 4 grid entries (32
// magnitudes in {8, 25, 43}) and the 32 sign bits from ksigns_iq2xs, exact int32 lanes of
// (2s + 1) * sign * m * x (iq_grid_x86.h), summed over the block's 8 groups (|lane| < 2^23: the
// conversion is exact). Then one FMA of the lanes with d_w * d_x per block, and upstream's final
// 0.125f (a power of two) on the row sum as the reference applies it. Each product's path: d_w *
// d_x, the FMA, one FMA per later block of its lane, a 3-level lane tree: at most cols/256 + 2 +
// 3 roundings, within iq_q8_K_rounding_depth. Four rows share the loop over activation blocks.
#include "optimized/x86/intrinsics.h"

#include "optimized/x86/ggml/iq2_xxs_x86.h"
#include "optimized/x86/ggml/iq_grid_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

constexpr int64_t kActBlock = sizeof(ggml::BlockQ8_K);

// One weight block against one activation block: acc += (d_w*d_x) * lanes.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 block_term(const uint8_t* blk, const uint8_t* xb, __m256 acc) {
  const int8_t* x8 = ggml::q8_K_qs(xb);
  __m256i isum = _mm256_setzero_si256();
  for (int ib = 0; ib < ggml::kQK_K / 32; ++ib) {
    const uint32_t a = iq2_xxs::group_word(blk, ib);
    const __m256i mags = _mm256_setr_epi64x(
        static_cast<int64_t>(iq2_xxs::grid_entry(blk, ib, 0)), static_cast<int64_t>(iq2_xxs::grid_entry(blk, ib, 1)),
        static_cast<int64_t>(iq2_xxs::grid_entry(blk, ib, 2)), static_cast<int64_t>(iq2_xxs::grid_entry(blk, ib, 3)));
    isum = _mm256_add_epi32(isum, iq_grid::group_lanes(mags, iq2_xxs::group_signs(a), x8 + 32 * ib,
                                                 static_cast<int16_t>(2 * (a >> 28) + 1)));
  }
  const float dall = _cvtsh_ss(ggml::load_u16(blk)) * ggml::q8_K_d(xb);
  return _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(isum), acc);
}

template <int R>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                          const uint8_t* act, int64_t nb, float* y) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k)
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * iq2_xxs::kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, act + k * kActBlock, acc[r]);
    }
  for (int r = 0; r < R; ++r) y[r] = 0.125f * hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX2 void iq2_xxs_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  const int64_t nb = w->cols / ggml::kQK_K, row_bytes = nb * iq2_xxs::kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, act, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, act, nb, y + r);
}

}  // namespace qb::x86

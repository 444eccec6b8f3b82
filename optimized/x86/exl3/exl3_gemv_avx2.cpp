// EXL3 small-batch GEMV y = had(had(x∘suh)·Ŵ)∘svh, AVX2, Ŵ decoded on the fly. Same plan as
// exl3_gemv_avx512.cpp (tile rows as groups, tiles streamed in storage order into L1/L2
// accumulators). States come from the chunk-transposed tile (TileY in exl3_x86_common.h): one
// shift + one and per 8 states, no gathers; everything is specialised on K so shifts are
// immediates. For m <= 4 both 8-column halves of a row share the broadcast of x'; for m > 4 the
// halves are done one after the other so the accumulators fit the 16 ymm registers.
// Ŵ is decoded as Ŵ * 2^-13 (two-op rounding, exl3_x86_common.h) and the output scale carries 2^13.
// Cost per 16 weights (mcg, m = 1): ~3.5 extraction, 2 x (vpmulld, vpsrad, vpmaddwd, 2 vpand,
// 2 vpxor, vaddps, vmulps + vsubps rounding, 1 FMA) = 22, 1 broadcast, ~2 per-tile transpose = ~28 ops.
#include <algorithm>
#include <utility>

#include "optimized/x86/exl3/exl3_dispatch.h"
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

// One tile row R: decode the 8-column halves B0 .. B0+NB-1 and accumulate them for M vectors
// (a[b * M + mm]).
template <exl3::Codebook CB, int K, int M, int B0, int NB, int R>
QB_TARGET_AVX2 QB_EXL3_INLINE void row_step(const TileY<K>& t, const float* xr, int64_t k, __m256* a) {
  __m256 v[NB];
  v[0] = decode_st_y<CB, true>(state_y<K, R, B0>(t));
  if constexpr (NB == 2) v[1] = decode_st_y<CB, true>(state_y<K, R, 1>(t));
  for (int mm = 0; mm < M; ++mm) {
    const __m256 x = _mm256_broadcast_ss(xr + mm * k + R);
    for (int b = 0; b < NB; ++b) a[b * M + mm] = _mm256_fmadd_ps(x, v[b], a[b * M + mm]);
  }
}

template <exl3::Codebook CB, int K, int M, int B0, int NB, int... Rs>
QB_TARGET_AVX2 QB_EXL3_INLINE void tile_rows(const TileY<K>& t, const float* xr, int64_t k, float* ac,
                                             std::integer_sequence<int, Rs...>) {
  __m256 a[NB * M];
  for (int i = 0; i < NB * M; ++i) a[i] = _mm256_load_ps(ac + 8 * i);
  (row_step<CB, K, M, B0, NB, Rs>(t, xr, k, a), ...);
  for (int i = 0; i < NB * M; ++i) _mm256_store_ps(ac + 8 * i, a[i]);
}

template <exl3::Codebook CB, int K, int M>
QB_TARGET_AVX2 void gemv_rows(const Args& G, const float* xh, int64_t r0, int64_t r1, float* acc, float* y) {
  const int64_t k = G.k, tiles_k = k / 16, j0 = r0 / 16, nj = (r1 - r0) / 16;
  std::fill(acc, acc + nj * M * 16, 0.0f);  // [tile column][half][vector][8 lanes]
  constexpr auto rows = std::make_integer_sequence<int, 16>{};
  for (int64_t i = 0; i < tiles_k; ++i) {
    const uint8_t* base = G.tile(i, j0);
    const float* xr = xh + 16 * i;
    for (int64_t jj = 0; jj < nj; ++jj) {
      TileY<K> t;
      load_tile_y<K>(t, base + jj * 32 * K);
      float* ac = acc + 2 * jj * M * 8;
      if constexpr (M <= 4) {
        tile_rows<CB, K, M, 0, 2>(t, xr, k, ac, rows);
      } else {
        tile_rows<CB, K, M, 0, 1>(t, xr, k, ac, rows);
        tile_rows<CB, K, M, 1, 1>(t, xr, k, ac + (QB_MUTANT_ON(exl3_gemv2_batch_second_half) ? 4 : M) * 8, rows);
      }
    }
  }
  for (int64_t nb = r0; nb < r1; nb += 128) {
    const float* ab = acc + (nb - r0) / 8 * M * 8;
    for (int mm = 0; mm < M; ++mm) {
      __m256 v[16];
      for (int q = 0; q < 16; ++q) v[q] = _mm256_load_ps(ab + (q * M + mm) * 8);
      fwht128_y(v);
      for (int q = 0; q < 16; ++q) {
        const int64_t n0 = QB_MUTANT_ON(exl3_gemv2_svh_r0) ? nb - r0 : nb;
        const __m256 sv = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)G.svh.at(n0 + 8 * q))),
                                        _mm256_set1_ps(kScaledW / 128));
        _mm256_storeu_ps(y + mm * G.n + nb + 8 * q, _mm256_mul_ps(v[q], sv));
      }
    }
  }
}

struct Avx2 {
  // x' = WHT(x∘suh) per 128-block, unnormalized; m vectors of k back to back.
  QB_TARGET_AVX2 static void input_transform(const Args& G, const float* x, int64_t m, float* xh) {
    for (int64_t mm = 0; mm < m; ++mm)
      for (int64_t kb = 0; kb < G.k; kb += 128) {
        __m256 v[16];
        for (int q = 0; q < 16; ++q)
          v[q] = _mm256_mul_ps(_mm256_loadu_ps(x + mm * G.k + kb + 8 * q),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)G.suh.at(kb + 8 * q))));
        fwht128_y(v);
        if constexpr (QB_MUTANT_ON(exl3_gemv2_input_bf16))  // x' truncated to bf16
          for (int q = 0; q < 16; ++q)
            v[q] = _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(v[q]), _mm256_set1_epi32(int32_t(0xFFFF0000u))));
        for (int q = 0; q < 16; ++q) _mm256_storeu_ps(xh + mm * G.k + kb + 8 * q, v[q]);
      }
  }
  template <exl3::Codebook CB, int K, int M>
  struct Rows {
    static constexpr GemvRowsFn fn = gemv_rows<CB, K, M>;
  };
};

}  // namespace

void exl3_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  exl3k::gemv<Avx2>(w, act, m, r0, r1, y);
}

}  // namespace qb::x86

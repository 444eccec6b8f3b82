// EXL3 small-batch GEMV y = had(had(x∘suh)·Ŵ)∘svh, AVX2, Ŵ decoded on the fly. Same plan as
// exl3_gemv_avx512.cpp (tile rows as groups, tiles streamed in storage order into L1/L2
// accumulators); the two 8-column halves of a tile are done one after the other so the m
// accumulators of a half fit the 16 ymm registers.
#include <algorithm>
#include <vector>

#include "optimized/x86/exl3_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

template <exl3::Codebook CB, int M>
QB_TARGET_AVX2 void gemv_rows(const Geometry& G, const Tables& T, const float* xh, int64_t r0, int64_t r1,
                              float* acc, float* y) {
  const int64_t k = G.k, tiles_k = k / 16, j0 = r0 / 16, nj = (r1 - r0) / 16;
  std::fill(acc, acc + nj * M * 16, 0.0f);  // [tile column][half][vector][8 lanes]
  for (int64_t i = 0; i < tiles_k; ++i) {
    const uint8_t* base = G.tile(i, j0);
    const float* xr = xh + 16 * i;
    for (int64_t jj = 0; jj < nj; ++jj) {
      const int* words = reinterpret_cast<const int*>(base + jj * G.tile_bytes());
      for (int h = 0; h < 2; ++h) {
        float* ac = acc + (2 * jj + h) * M * 8;
        __m256 a[M];
        for (int mm = 0; mm < M; ++mm) a[mm] = _mm256_load_ps(ac + 8 * mm);
        for (int r = 0; r < 16; ++r) {
          const __m256 v = decode_y<CB>(words, T, 16 * r + 8 * h);
          for (int mm = 0; mm < M; ++mm) a[mm] = _mm256_fmadd_ps(_mm256_broadcast_ss(xr + mm * k + r), v, a[mm]);
        }
        for (int mm = 0; mm < M; ++mm) _mm256_store_ps(ac + 8 * mm, a[mm]);
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
        const __m256 sv = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(G.svh + nb + 8 * q))),
                                        _mm256_set1_ps(1.0f / 128));
        _mm256_storeu_ps(y + mm * G.n + nb + 8 * q, _mm256_mul_ps(v[q], sv));
      }
    }
  }
}

// x' = WHT(x∘suh) per 128-block, unnormalized; m vectors of k back to back.
QB_TARGET_AVX2 void input_transform(const Geometry& G, const float* x, int64_t m, float* xh) {
  for (int64_t mm = 0; mm < m; ++mm)
    for (int64_t kb = 0; kb < G.k; kb += 128) {
      __m256 v[16];
      for (int q = 0; q < 16; ++q)
        v[q] = _mm256_mul_ps(_mm256_loadu_ps(x + mm * G.k + kb + 8 * q),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(G.suh + kb + 8 * q))));
      fwht128_y(v);
      for (int q = 0; q < 16; ++q) _mm256_storeu_ps(xh + mm * G.k + kb + 8 * q, v[q]);
    }
}

using BlockFn = void (*)(const Geometry&, const Tables&, const float*, int64_t, int64_t, float*, float*);

template <exl3::Codebook CB, int... Ms>
constexpr BlockFn pick_m(int m, std::integer_sequence<int, Ms...>) {
  BlockFn f = nullptr;
  ((m == Ms + 1 ? (f = gemv_rows<CB, Ms + 1>) : f), ...);
  return f;
}

}  // namespace

void exl3_gemv_avx2(const QWeight& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  const Geometry G = geometry(w);
  Tables T;
  build_tables(G.K, Order::by_row, T);
  thread_local std::vector<float> xh;
  thread_local std::vector<float> acc;
  xh.resize(static_cast<std::size_t>(m * G.k));
  acc.resize(static_cast<std::size_t>((r1 - r0) * 8 + 16));
  float* acc64 = align64(acc.data());
  const float* x = reinterpret_cast<const float*>(act);
  for (int64_t m0 = 0; m0 < m; m0 += 8) {
    const int mc = static_cast<int>(m - m0 < 8 ? m - m0 : 8);
    input_transform(G, x + m0 * G.k, mc, xh.data());
    const auto seq = std::make_integer_sequence<int, 8>{};
    const BlockFn fn = G.cb == exl3::Codebook::mcg    ? pick_m<exl3::Codebook::mcg>(mc, seq)
                       : G.cb == exl3::Codebook::mul1 ? pick_m<exl3::Codebook::mul1>(mc, seq)
                                                      : pick_m<exl3::Codebook::inst3>(mc, seq);
    fn(G, T, xh.data(), r0, r1, acc64, y + m0 * G.n);
  }
}

}  // namespace qb::x86

// EXL3 small-batch GEMV y = had(had(x∘suh)·Ŵ)∘svh, AVX-512, Ŵ decoded on the fly. Groups are
// tile rows: one decoded vector holds Ŵ[16i+r][16j .. 16j+15], so each of the m vectors adds it
// with one FMA against a broadcast x'[16i+r] into a 16-column accumulator; one decode serves all
// m vectors. A call streams its tiles in storage order (tile row by tile row over its whole
// column range, so the trellis is read sequentially) into per-column accumulators kept in L1/L2,
// then applies the output WHT per 128-column block. Both WHTs are unnormalized and
// the exact 1/128 is folded into svh.
#include <algorithm>
#include <vector>

#include "optimized/x86/exl3_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

template <exl3::Codebook CB, bool Big, int M>
QB_TARGET_AVX512 void gemv_rows(const Geometry& G, const Tables& T, const float* xh, int64_t r0, int64_t r1,
                                float* acc, float* y) {
  const int64_t k = G.k, tiles_k = k / 16, j0 = r0 / 16, nj = (r1 - r0) / 16;
  std::fill(acc, acc + nj * M * 16, 0.0f);
  for (int64_t i = 0; i < tiles_k; ++i) {
    const uint8_t* base = G.tile(i, j0);
    const float* xr = xh + 16 * i;
    for (int64_t jj = 0; jj < nj; ++jj) {
      const TileZ t = load_tile_z<Big>(base + jj * G.tile_bytes(), G.K);
      float* ac = acc + jj * M * 16;
      __m512 a[M];
      for (int mm = 0; mm < M; ++mm) a[mm] = _mm512_load_ps(ac + 16 * mm);
      for (int r = 0; r < 16; ++r) {
        const __m512 v = decode_z<CB, Big>(t, T, r);
        for (int mm = 0; mm < M; ++mm) a[mm] = _mm512_fmadd_ps(_mm512_set1_ps(xr[mm * k + r]), v, a[mm]);
      }
      for (int mm = 0; mm < M; ++mm) _mm512_store_ps(ac + 16 * mm, a[mm]);
    }
  }
  output_transform_z(G, acc, M, r0, r1, _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), y);
}

using BlockFn = void (*)(const Geometry&, const Tables&, const float*, int64_t, int64_t, float*, float*);

template <exl3::Codebook CB, bool Big, int... Ms>
constexpr BlockFn pick_m(int m, std::integer_sequence<int, Ms...>) {
  BlockFn f = nullptr;
  ((m == Ms + 1 ? (f = gemv_rows<CB, Big, Ms + 1>) : f), ...);
  return f;
}
template <exl3::Codebook CB>
BlockFn pick(bool big, int m) {
  return big ? pick_m<CB, true>(m, std::make_integer_sequence<int, 8>{})
             : pick_m<CB, false>(m, std::make_integer_sequence<int, 8>{});
}

}  // namespace

void exl3_gemv_avx512(const QWeight& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  const Geometry G = geometry(w);
  Tables T;
  build_tables(G.K, Order::by_row, T);
  thread_local std::vector<float> xh;
  thread_local std::vector<float> acc;
  xh.resize(static_cast<std::size_t>(m * G.k));
  acc.resize(static_cast<std::size_t>((r1 - r0) * 8 + 16));
  float* acc64 = align64(acc.data());
  const float* x = reinterpret_cast<const float*>(act);
  const bool big = G.K > 4;
  for (int64_t m0 = 0; m0 < m; m0 += 8) {
    const int mc = static_cast<int>(m - m0 < 8 ? m - m0 : 8);
    input_transform_z(G, x + m0 * G.k, mc, xh.data());
    const BlockFn fn = G.cb == exl3::Codebook::mcg    ? pick<exl3::Codebook::mcg>(big, mc)
                       : G.cb == exl3::Codebook::mul1 ? pick<exl3::Codebook::mul1>(big, mc)
                                                      : pick<exl3::Codebook::inst3>(big, mc);
    fn(G, T, xh.data(), r0, r1, acc64, y + m0 * G.n);
  }
}

}  // namespace qb::x86

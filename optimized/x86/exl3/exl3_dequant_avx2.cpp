// EXL3 full decode W^T = diag(svh) H_n Ŵ^T H_k diag(suh), AVX2; same blocking and rounding
// budget as exl3_dequant_avx512.cpp (7 + 7 additions, one multiply by the exact
// svh[n]*suh[k]/128).
#include "optimized/x86/exl3/exl3_dispatch.h"
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

template <exl3::Codebook CB, int K>
QB_TARGET_AVX2 void dequant_rows(const Args& G, int64_t r0, int64_t r1, float* out) {
  const int64_t k = G.k;
  for (int64_t nb = r0; nb < r1; nb += 128)
    for (int64_t kb = 0; kb < k; kb += 128) {
      float* blk = out + nb * k + kb;
      for (int64_t j = 0; j < 8; ++j)
        for (int64_t i = 0; i < 8; ++i)
          decode_tile_t_y<CB, K>(G.tile(kb / 16 + i, nb / 16 + j), blk + 16 * j * k + 16 * i, k);
      for (int r = 0; r < 128; ++r) {
        __m256 v[16];
        for (int q = 0; q < 16; ++q) v[q] = _mm256_loadu_ps(blk + r * k + 8 * q);
        fwht128_y(v);
        for (int q = 0; q < 16; ++q) _mm256_storeu_ps(blk + r * k + 8 * q, v[q]);
      }
      alignas(32) float su[128];
      for (int q = 0; q < 16; ++q)
        _mm256_store_ps(su + 8 * q, _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)G.suh.at(kb + 8 * q))),
                                                  _mm256_set1_ps(1.0f / 128)));
      for (int h = 1; h < 128; h *= 2)
        for (int a = 0; a < 128; ++a) {
          if (a & h) continue;
          float* pa = blk + a * k;
          float* pb = blk + (a + h) * k;
          __m256 sa = _mm256_setzero_ps(), sb = sa;
          if (h == 64) {
            const uint16_t keep = QB_MUTANT_ON(exl3_dq2_svh_sign_dropped) ? 0x7FFF : 0xFFFF;
            sa = _mm256_set1_ps(_cvtsh_ss(G.svh[nb + a] & keep));
            sb = _mm256_set1_ps(_cvtsh_ss(G.svh[nb + a + h] & keep));
          }
          for (int q = 0; q < 16; ++q) {
            const __m256 x = _mm256_loadu_ps(pa + 8 * q), y = _mm256_loadu_ps(pb + 8 * q);
            __m256 s = _mm256_add_ps(x, y), d = QB_MUTANT_ON(exl3_dq2_bfly_sign) && h == 16 ? _mm256_sub_ps(y, x) : _mm256_sub_ps(x, y);
            if (h == 64) {
              const __m256 u = _mm256_load_ps(su + 8 * q);
              s = _mm256_mul_ps(s, _mm256_mul_ps(sa, u));
              d = _mm256_mul_ps(d, _mm256_mul_ps(sb, u));
            }
            _mm256_storeu_ps(pa + 8 * q, s);
            _mm256_storeu_ps(pb + 8 * q, d);
          }
        }
    }
}

struct Kernel {
  template <exl3::Codebook CB, int K, int>
  struct Rows {
    static constexpr auto fn = dequant_rows<CB, K>;
  };
};

}  // namespace

void exl3_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Args G = exl3::args_of(w);
  Dispatch<Kernel>::pick(G.cb, G.K)(G, r0, r1, out);
}

}  // namespace qb::x86

// EXL3 full decode W^T = diag(svh) H_n Ŵ^T H_k diag(suh), AVX-512, one 128x128 block at a time
// so the block stays in L2 between its three passes: exact decode into the output, the k-side
// WHT along each row in registers, then the n-side WHT down the rows in place. The two 1/sqrt(128)
// factors become one exact 1/128 folded into svh[n]*suh[k] (an exact fp32 product of two fp16),
// so every element sees 7 + 7 additions and one multiply.
#include "optimized/x86/exl3/exl3_dispatch.h"
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

template <exl3::Codebook CB, bool Big>
QB_TARGET_AVX512 void dequant_rows(const Args& G, const Tables& T, int64_t r0, int64_t r1, float* out) {
  const int64_t k = G.k;
  for (int64_t nb = r0; nb < r1; nb += 128)
    for (int64_t kb = 0; kb < k; kb += 128) {
      float* blk = out + nb * k + kb;
      for (int64_t j = 0; j < 8; ++j)
        for (int64_t i = 0; i < 8; ++i) {
          const TileZ t = load_tile_z<Big>(G.tile(kb / 16 + i, nb / 16 + j), G.K);
          float* o = blk + 16 * j * k + 16 * i;
          for (int c = 0; c < 16; ++c) _mm512_storeu_ps(o + c * k, decode_z<CB, Big>(t, T, c));
        }
      for (int r = 0; r < (QB_MUTANT_ON(exl3_dq512_kside_half_skipped) ? 64 : 128); ++r) {
        __m512 v[8];
        for (int q = 0; q < 8; ++q) v[q] = _mm512_loadu_ps(blk + r * k + 16 * q);
        fwht128_z(v);
        for (int q = 0; q < 8; ++q) _mm512_storeu_ps(blk + r * k + 16 * q, v[q]);
      }
      __m512 su[8];
      for (int q = 0; q < 8; ++q)
        su[q] = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)G.suh.at(kb + 16 * q))),
                              _mm512_set1_ps(QB_MUTANT_ON(exl3_dq512_inv128_digits) ? 0.00781f : 1.0f / 128));
      for (int h = 1; h < 128; h *= 2)
        for (int a = 0; a < 128; ++a) {
          if (a & h) continue;
          float* pa = blk + a * k;
          float* pb = blk + (a + h) * k;
          __m512 sa = _mm512_setzero_ps(), sb = sa;
          if (h == 64) {
            sa = _mm512_set1_ps(_cvtsh_ss(G.svh[nb + a]));
            sb = _mm512_set1_ps(_cvtsh_ss(G.svh[nb + a + h]));
          }
          for (int q = 0; q < 8; ++q) {
            const __m512 x = _mm512_loadu_ps(pa + 16 * q), y = _mm512_loadu_ps(pb + 16 * q);
            __m512 s = _mm512_add_ps(x, y), d = _mm512_sub_ps(x, y);
            if (h == 64) {
              s = _mm512_mul_ps(s, _mm512_mul_ps(sa, su[q]));
              d = _mm512_mul_ps(d, _mm512_mul_ps(sb, su[q]));
            }
            _mm512_storeu_ps(pa + 16 * q, s);
            _mm512_storeu_ps(pb + 16 * q, d);
          }
        }
    }
}

struct Kernel {
  // Big: the tile spans 4 zmm (K > 4).
  template <exl3::Codebook CB, int K, int>
  struct Rows {
    static constexpr auto fn = dequant_rows<CB, (K > 4)>;
  };
};

}  // namespace

void exl3_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Args G = exl3::args_of(w);
  Tables T;
  build_tables(G.K, T);
  Dispatch<Kernel>::pick(G.cb, G.K)(G, T, r0, r1, out);
}

}  // namespace qb::x86

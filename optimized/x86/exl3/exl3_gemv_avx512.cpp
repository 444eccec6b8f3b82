// EXL3 small-batch GEMV y = had(had(x∘suh)·Ŵ)∘svh, AVX-512 (F/BW/DQ/VL), Ŵ decoded on the fly.
// The AVX2 kernel's scheme (exl3_gemv_avx2.cpp, TileY in exl3_x86_common.h) at 16 lanes: two
// adjacent tiles of one tile row side by side, lanes 0-7 = chunks a of tile j, lanes 8-15 =
// chunks a of tile j+1. After a per-pair transpose (V_d: lane = word d of its chunk, W_d = the
// 32 bits straddling V_d and V_{d+1}), the 16 states of (tile row r, half b) lie in one vector
// at one immediate shift: no gathers or permutes per group.
//
// Hash (mcg/3inst): a = x >> sh holds the state in its low 16 bits with garbage above; one vpandd
// cleans it (not needed when the shift is 16), one vpmulld hashes it, vpsrad + vpmaddwd give the
// two fp16 halves at fp32 position and 2 vpternlogd their and/xor/set (exl3_x86_common.h), vaddps
// sums them, and vmulps + vsubps give Ŵ * 2^-13 (round_fp16_scaled_z; output scaled by 2^13).
// Cost per 16 weights (mcg, m = 1): <= 2 extraction (vpsrld + vpandd; 1 when the shift is 0 or
// 16), 8 hash/value, 1 FMA (m FMAs; the broadcast is shared by both halves) = ~11 zmm ops, plus
// the per-pair transpose (~1 op per 16 weights at K = 4).
// Accumulators per tile pair: [half b][vector][16 lanes]; they are put back into the per-tile
// column order of output_transform_z at the end.
#include <algorithm>
#include <utility>

#include "optimized/x86/exl3/exl3_dispatch.h"
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

// Two tiles: v[d + 1] = V_d (d = -1 .. K-1), w[d + 1] = W_d (d = -1 .. K-2).
template <int K>
struct TileP {
  __m512i v[K + 1];
  __m512i w[K];
};

// L[q] = words 8q .. 8q+7 of tile j (low half) and of tile j+1 (high half).
// Lane a of V_D (and a + 8) = word a*K + D of its tile.
template <int K, int D>
QB_TARGET_AVX512 QB_EXL3_INLINE __m512i chunk_word_p(const __m512i* L) {
  if constexpr (K == 1) {
    return L[0];
  } else {
    __m512i r = _mm512_setzero_si512();
    bool first = true;
    for (int l = 0; l < K; l += 2) {
      alignas(64) int32_t idx[16];
      __mmask16 m = 0;
      for (int h = 0; h < 2; ++h)
        for (int a = 0; a < 8; ++a) {
          const int wd = a * K + D, rel = wd - 8 * l;
          const int e = 8 * h + a;
          idx[e] = rel < 8 ? rel + 8 * h : 16 + (rel - 8) + 8 * h;
          if (rel >= 0 && rel < 16) m |= (__mmask16)(1u << e);
          if (rel < 0 || rel >= 16) idx[e] = 0;
        }
      if (!m) continue;
      const __m512i ix = _mm512_set_epi32(idx[15], idx[14], idx[13], idx[12], idx[11], idx[10], idx[9], idx[8],
                                          idx[7], idx[6], idx[5], idx[4], idx[3], idx[2], idx[1], idx[0]);
      const __m512i p = _mm512_permutex2var_epi32(L[l], ix, l + 1 < K ? L[l + 1] : L[l]);
      r = first ? p : _mm512_mask_blend_epi32(m, r, p);
      first = false;
    }
    return r;
  }
}

template <int K, int... Ds>
QB_TARGET_AVX512 QB_EXL3_INLINE void chunk_words_p(TileP<K>& t, const __m512i* L, std::integer_sequence<int, Ds...>) {
  ((t.v[Ds + 1] = chunk_word_p<K, Ds>(L)), ...);
}

template <int K>
QB_TARGET_AVX512 QB_EXL3_INLINE void load_tile_p(TileP<K>& t, const uint8_t* p) {
  __m512i L[K];
  for (int q = 0; q < K; ++q)
    L[q] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)(p + 32 * q))),
                              _mm256_loadu_si256((const __m256i*)(p + 32 * K + 32 * q)), 1);
  if constexpr (K == 8) {
    __m512i a[8], u[8];
    for (int i = 0; i < 4; ++i) {
      a[2 * i] = _mm512_unpacklo_epi32(L[2 * i], L[2 * i + 1]);
      a[2 * i + 1] = _mm512_unpackhi_epi32(L[2 * i], L[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
      u[4 * i + 0] = _mm512_unpacklo_epi64(a[4 * i + 0], a[4 * i + 2]);
      u[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i + 0], a[4 * i + 2]);
      u[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
      u[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
    }
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    for (int i = 0; i < 4; ++i) {
      t.v[i + 1] = _mm512_permutex2var_epi64(u[i], lo, u[4 + i]);
      t.v[i + 5] = _mm512_permutex2var_epi64(u[i], hi, u[4 + i]);
    }
  } else if constexpr (K == 4) {
    const __m512i t0 = _mm512_unpacklo_epi32(L[0], L[1]), t1 = _mm512_unpackhi_epi32(L[0], L[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(L[2], L[3]), t3 = _mm512_unpackhi_epi32(L[2], L[3]);
    const __m512i fix = _mm512_set_epi32(15, 11, 14, 10, 13, 9, 12, 8, 7, 3, 6, 2, 5, 1, 4, 0);
    t.v[1] = _mm512_permutexvar_epi32(fix, _mm512_unpacklo_epi64(t0, t2));
    t.v[2] = _mm512_permutexvar_epi32(fix, _mm512_unpackhi_epi64(t0, t2));
    t.v[3] = _mm512_permutexvar_epi32(fix, _mm512_unpacklo_epi64(t1, t3));
    t.v[4] = _mm512_permutexvar_epi32(fix, _mm512_unpackhi_epi64(t1, t3));
  } else if constexpr (K == 2) {
    const __m512 a = _mm512_castsi512_ps(L[0]), b = _mm512_castsi512_ps(L[1]);
    t.v[1] = _mm512_permutex_epi64(_mm512_castps_si512(_mm512_shuffle_ps(a, b, 0x88)), 0xD8);
    t.v[2] = _mm512_permutex_epi64(_mm512_castps_si512(_mm512_shuffle_ps(a, b, 0xDD)), 0xD8);
  } else {
    chunk_words_p<K>(t, L, std::make_integer_sequence<int, K>{});
  }
  t.v[0] = _mm512_permutexvar_epi32(_mm512_set_epi32(14, 13, 12, 11, 10, 9, 8, 15, 6, 5, 4, 3, 2, 1, 0, 7), t.v[K]);
  // W_d: high 16 bits = low 16 of V_d, low 16 bits = high 16 of V_{d+1}.
  __m512i rot = _mm512_rol_epi32(t.v[0], 16);
  for (int d = 0; d < K; ++d) {
    const __m512i nxt = _mm512_rol_epi32(t.v[d + 1], 16);
    t.w[d] = _mm512_mask_blend_epi16(0x55555555u, rot, nxt);
    rot = nxt;
  }
}

// Value of the 16 states of (row R, half B) of a tile pair.
template <exl3::Codebook CB, int K, int R, int B>
QB_TARGET_AVX512 QB_EXL3_INLINE __m512 decode_p(const TileP<K>& t) {
  constexpr int w0 = (4 * B + rho_of_row(R) + 1) * K - 16;
  constexpr int d = w0 < 0 ? -1 : w0 / 32, o = w0 - 32 * d;
  constexpr int sh = o <= 16 ? 16 - o : 32 - o;
  const __m512i x = o <= 16 ? t.v[d + 1] : t.w[d + 1];
  const __m512i a = sh == 0 ? x : _mm512_srli_epi32(x, sh);  // state in bits 0..15, garbage above
  const __m512i st = sh == 16 ? a : _mm512_and_si512(a, _mm512_set1_epi32(0xFFFF));  // the hash needs it clean
  if constexpr (CB == exl3::Codebook::mul1)
    return round_fp16_scaled_z(mul1_value_z(_mm512_mullo_epi32(st, _mm512_set1_epi32((int)kMulMul1))));
  constexpr uint32_t M = CB == exl3::Codebook::mcg ? kMulMcg : kMul3inst;
  __m512i h = _mm512_mullo_epi32(st, _mm512_set1_epi32((int)M));
  if constexpr (CB == exl3::Codebook::inst3) h = _mm512_add_epi32(h, _mm512_set1_epi32((int)kAdd3inst));
  return round_fp16_scaled_z(halves_sum_z(h));
}

template <exl3::Codebook CB, int K, int M, int B0, int NB, int R>
QB_TARGET_AVX512 QB_EXL3_INLINE void row_step(const TileP<K>& t, const float* xr, int64_t k, __m512* a) {
  __m512 v[NB];
  v[0] = decode_p<CB, K, R, B0>(t);
  if constexpr (NB == 2) v[1] = decode_p<CB, K, R, 1>(t);
  for (int mm = 0; mm < M; ++mm) {
    const __m512 x = _mm512_set1_ps(xr[mm * k + R]);
    for (int b = 0; b < NB; ++b) a[b * M + mm] = _mm512_fmadd_ps(x, v[b], a[b * M + mm]);
  }
}

template <exl3::Codebook CB, int K, int M, int B0, int NB, int... Rs>
QB_TARGET_AVX512 QB_EXL3_INLINE void tile_rows(const TileP<K>& t, const float* xr, int64_t k, float* ac,
                                               std::integer_sequence<int, Rs...>) {
  __m512 a[NB * M];
  for (int i = 0; i < NB * M; ++i) a[i] = _mm512_load_ps(ac + 16 * i);
  (row_step<CB, K, M, B0, NB, Rs>(t, xr, k, a), ...);
  for (int i = 0; i < NB * M; ++i) _mm512_store_ps(ac + 16 * i, a[i]);
}

template <exl3::Codebook CB, int K, int M>
QB_TARGET_AVX512 void gemv_rows(const Args& G, const float* xh, int64_t r0, int64_t r1, float* acc, float* y) {
  const int64_t k = G.k, tiles_k = k / 16, j0 = r0 / 16, nj = (r1 - r0) / 16;
  std::fill(acc, acc + nj * M * 16, 0.0f);  // [tile pair][half][vector][16 lanes]
  constexpr auto rows = std::make_integer_sequence<int, 16>{};
  for (int64_t i = 0; i < tiles_k; ++i) {
    const uint8_t* base = G.tile(i, QB_MUTANT_ON(exl3_gemv512_tile_j0_zero) ? 0 : j0);
    const float* xr = xh + 16 * i;
    for (int64_t jj = 0; jj < nj; jj += 2) {
      TileP<K> t;
      load_tile_p<K>(t, base + jj * 32 * K);
      float* ac = acc + jj * M * 16;
      if constexpr (M <= 4) {
        tile_rows<CB, K, M, 0, 2>(t, xr, k, ac, rows);
      } else {
        tile_rows<CB, K, M, 0, 1>(t, xr, k, ac, rows);
        tile_rows<CB, K, M, 1, 1>(t, xr, k, ac + M * 16, rows);
      }
    }
  }
  // Per pair: A_b[mm] = [tile j cols 8b..8b+7 | tile j+1 cols 8b..8b+7] -> per tile [mm][16 cols].
  for (int64_t jj = 0; jj < nj; jj += 2) {
    float* ac = acc + jj * M * 16;
    __m512 a0[M], a1[M];
    for (int mm = 0; mm < M; ++mm) {
      a0[mm] = _mm512_load_ps(ac + 16 * mm);
      a1[mm] = _mm512_load_ps(ac + 16 * (M + mm));
    }
    for (int mm = 0; mm < M; ++mm) {
      _mm512_store_ps(ac + 16 * mm, _mm512_shuffle_f32x4(a0[mm], a1[mm], 0x44));
      _mm512_store_ps(ac + 16 * (M + mm), _mm512_shuffle_f32x4(a0[mm], a1[mm], 0xEE));
    }
  }
  output_transform_z(G, acc, M, r0, r1, _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), y);
}

struct Avx512 {
  static constexpr auto input_transform = input_transform_z;
  template <exl3::Codebook CB, int K, int M>
  struct Rows {
    static constexpr GemvRowsFn fn = gemv_rows<CB, K, M>;
  };
};

}  // namespace

void exl3_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  exl3k::gemv<Avx512>(w, act, m, r0, r1, y);
}

}  // namespace qb::x86

// Shared pieces of the EXL3 x86 kernels (specs/exl3.md sections 2-4).
//
// The AVX-512 inner/dequant kernels decode groups of 16 values of one 16x16 tile: one tile column
// c (16 consecutive k of one output row). Per bits a table (Tables) gives, for every lane, the two
// uint32 words holding the state's bit window and the shifts that cut it out, so the vector code
// never branches on K. The AVX2 kernels and the GEMVs decode whole transposed tiles instead (TileY
// below; TileP and the VBMI windows in their GEMV files), specialised on K.
//
// Codebook arithmetic stays in 32-bit lanes. 3inst/mcg: after the hash, each fp16 half has
// exponent 011ab (bits 12-14 are forced to 011), so it is always a normal number in [0.125, 2)
// and its fp32 pattern is sign | 0 11111ab | mantissa: one arithmetic shift puts the half's sign at
// bit 31 and its low 12 bits at 24..13, and one vpternlogd does upstream's and/xor while filling
// in the constant exponent bits. The fp32 sum of the two halves is exact; upstream rounds it
// once to fp16 (RNE). Veltkamp's split c = v*(2^13+1), c - (c - v) rounds an fp32 to its 11 leading
// bits; for these values it equals that RNE (checked for all 65536 states of both codebooks and
// all 1021 mul1 byte sums; every value is an fp16 normal), and it is three plain fp32 ops where
// vcvtps2ph + vcvtph2ps are two slow cross-domain ones. The GEMVs need Ŵ only up to a power of
// two and take it in two ops: c = v*(1 + 2^-13), c - v = Ŵ*2^-13 exactly (round_fp16_scaled_z).
//
// The low half of a hashed word x needs no second multiply or shift: vpmaddwd(x, [2^13, 0]) is the
// sign-extended low 16 bits times 2^13, i.e. srai(x << 16, 3), in one op.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <utility>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"
#include "reference/exl3/exl3.h"

namespace qb::x86::exl3k {

struct Tables {
  alignas(64) int32_t hi[256];  // word index of the window's first bit
  alignas(64) int32_t lo[256];  // word index of its last bit
  alignas(64) int32_t shr[256];  // state = ((lo >> shr) | (hi << shl)) & 0xFFFF
  alignas(64) int32_t shl[256];
};

inline void build_tables(int K, Tables& T) {
  int tinv[16][16];
  for (int t = 0; t < 256; ++t) tinv[exl3::tile_row(t)][exl3::tile_col(t)] = t;
  const int nw = 8 * K;
  for (int g = 0; g < 16; ++g)
    for (int f = 0; f < 16; ++f) {
      const int t = tinv[f][g];  // lane f of group g: row f of tile column g
      const int b0 = t * K + K - 16 + 256 * K + (QB_MUTANT_ON(exl3_inner512_window_plus1) ? 1 : 0), b1 = b0 + 16;
      const int e = g * 16 + f;
      T.hi[e] = (b0 / 32) % nw;
      T.lo[e] = ((b1 - 1) / 32) % nw;
      T.shr[e] = ((b1 - 1) / 32 + 1) * 32 - b1;
      T.shl[e] = 32 - T.shr[e];  // 32 shifts the high word out entirely (vpsllvd gives 0)
    }
}

using exl3::Args;

inline float* align64(float* p) {
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

constexpr uint32_t kMul3inst = exl3::k3instMultiplier, kAdd3inst = exl3::k3instIncrement,
                   kMulMcg = exl3::kMcgMultiplier, kMulMul1 = exl3::kMul1Multiplier;
// Operands of (a & kKeep) ^ kSet on a half shifted to fp32 position (see above): keep the sign
// and the 12 low bits, flip those that upstream's xor 0x3B60 flips (0xB60), set exponent 011111.
constexpr uint32_t kKeep = 0x81FFE000u, kSet = 0x3E000000u | (0xB60u << 13);
constexpr float kSplit = 8193.0f;
constexpr float kRoundUp = 1.0f + 1.0f / 8192;  // exact in fp32
constexpr float kScaledW = 8192.0f;            // Ŵ = kScaledW * round_fp16_scaled_z(v)
constexpr int32_t kLowHalfMul = 8192;          // vpmaddwd pair [2^13, 0]
// fp16 0x1EEE and 0xC931: (1024 + s) * k_inv + k_bias is exact in fp32 (22 significant bits at
// most), so one vcvtps2ph rounds it exactly like upstream's single-rounding fp16 FMA.
constexpr float kMul1Inv = 0.00676727294921875f, kMul1Bias = -10.3828125f;


#define QB_EXL3_INLINE static inline __attribute__((always_inline))

// The codebook arithmetic after the hash, shared by every AVX-512 decoder (each forms the hashed
// words its own way). mul1: the hashed word's byte sum, then upstream's fp16 FMA, exact in fp32.
QB_TARGET_AVX512 QB_EXL3_INLINE __m512 mul1_value_z(__m512i x) {
  const __m512i sum = _mm512_madd_epi16(_mm512_maddubs_epi16(x, _mm512_set1_epi8(1)), _mm512_set1_epi16(1));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(sum, _mm512_set1_epi32(1024))), _mm512_set1_ps(kMul1Inv),
                         _mm512_set1_ps(kMul1Bias));
}

// 3inst/mcg: the exact fp32 sum of the two fp16 halves of the hashed word x (high half by vpsrad,
// low half by vpmaddwd; see above).
QB_TARGET_AVX512 QB_EXL3_INLINE __m512 halves_sum_z(__m512i x) {
  const __m512i keep = _mm512_set1_epi32((int)kKeep), set = _mm512_set1_epi32((int)kSet);
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_srai_epi32(x, 3), keep, set, 0x6A);
  const __m512i lo = _mm512_ternarylogic_epi32(_mm512_madd_epi16(x, _mm512_set1_epi32(kLowHalfMul)), keep, set, 0x6A);
  return _mm512_add_ps(_mm512_castsi512_ps(hi), _mm512_castsi512_ps(lo));
}

// Upstream's single rounding to fp16, by Veltkamp's split (see above; vcvtps2ph + vcvtph2ps measured
// slower).
QB_TARGET_AVX512 QB_EXL3_INLINE __m512 round_fp16_z(__m512 v) {
  const __m512 c = _mm512_mul_ps(v, _mm512_set1_ps(kSplit));
  return _mm512_sub_ps(c, _mm512_sub_ps(c, v));
}

// Ŵ * 2^-13 (the GEMVs fold 2^13 into the output scale, kScaledW): c = v*(1 + 2^-13), c - v.
// Why it is exact: v = Ŵ + e with |e| <= ulp11(v)/2, so v*(1 + 2^-13) = (v + Ŵ*2^-13) + e*2^-13,
// where v + Ŵ*2^-13 lies on v's fp32 grid and |e*2^-13| is at most half its spacing; ties and
// binade crossings are where the argument needs the exhaustive check (tests/exl3_rounding_test.cpp:
// every state of every codebook). Needs the mul and sub unfused (-ffp-contract=off).
QB_TARGET_AVX512 QB_EXL3_INLINE __m512 round_fp16_scaled_z(__m512 v) {
  if constexpr (QB_MUTANT_ON(exl3_gemv512_round_skipped)) return _mm512_mul_ps(v, _mm512_set1_ps(1.0f / kScaledW));
  if constexpr (QB_MUTANT_ON(exl3_vbmi_round_12bits))  // Ŵ to 12 bits, same scale
    return _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.0f + 1.0f / 4096)), v), _mm512_set1_ps(0.5f));
  const __m512 c = _mm512_mul_ps(v, _mm512_set1_ps(QB_MUTANT_ON(exl3_gemv512_round_digits) ? 1.000122f : kRoundUp));
  return _mm512_sub_ps(c, v);
}

// ---- AVX-512: 16 values per group; a tile's uint32 words sit in 2 (K <= 4) or 4 zmm.

struct TileZ {
  __m512i w[4];
};

template <bool Big>
QB_TARGET_AVX512 QB_EXL3_INLINE TileZ load_tile_z(const uint8_t* p, int K) {
  const int nw = 8 * K;
  TileZ t;
  for (int q = 0; q < (Big ? 4 : 2); ++q) {
    const int left = nw - 16 * q;
    const __mmask16 m = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    t.w[q] = _mm512_maskz_loadu_epi32(m, p + 64 * q);
  }
  return t;
}

template <bool Big>
QB_TARGET_AVX512 QB_EXL3_INLINE __m512i pick_words(const TileZ& t, __m512i idx) {
  const __m512i a = _mm512_permutex2var_epi32(t.w[0], idx, t.w[1]);
  if (!Big) return a;
  const __m512i b = _mm512_permutex2var_epi32(t.w[2], idx, t.w[3]);
  return _mm512_mask_blend_epi32(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)), a, b);
}

// Group g of a tile as 16 fp32 values (exact fp16 codebook values), lane order of the tables.
template <exl3::Codebook CB, bool Big>
QB_TARGET_AVX512 QB_EXL3_INLINE __m512 decode_z(const TileZ& t, const Tables& T, int g) {
  const __m512i hi = pick_words<Big>(t, _mm512_load_si512(T.hi + 16 * g));
  const __m512i lo = pick_words<Big>(t, _mm512_load_si512(T.lo + 16 * g));
  const __m512i st = _mm512_ternarylogic_epi32(_mm512_srlv_epi32(lo, _mm512_load_si512(T.shr + 16 * g)),
                                               _mm512_sllv_epi32(hi, _mm512_load_si512(T.shl + 16 * g)),
                                               _mm512_set1_epi32(0xFFFF), 0xA8);  // (a | b) & c
  if constexpr (CB == exl3::Codebook::mul1) {
    const __m512 v = mul1_value_z(_mm512_mullo_epi32(st, _mm512_set1_epi32((int)kMulMul1)));
    if constexpr (QB_MUTANT_ON(exl3_inner512_mul1_unrounded)) return v;
    return round_fp16_z(v);
  }
  __m512i x;
  if constexpr (CB == exl3::Codebook::mcg)
    x = _mm512_mullo_epi32(st, _mm512_set1_epi32((int)kMulMcg));
  else
    x = _mm512_add_epi32(_mm512_mullo_epi32(st, _mm512_set1_epi32((int)kMul3inst)), _mm512_set1_epi32((int)kAdd3inst));
  return round_fp16_z(halves_sum_z(x));
}

// Butterfly of stage h inside one vector: lane i gets v[i] + v[i^h] (bit h clear) or
// v[i^h] - v[i] (bit h set), the natural-order Sylvester step.
QB_TARGET_AVX512 QB_EXL3_INLINE __m512 bfly_in_z(__m512 v, __m512 p, __mmask16 upper) {
  return _mm512_mask_sub_ps(_mm512_add_ps(v, p), upper, p, v);
}

// Unnormalized 128-point Walsh-Hadamard transform of v[0..7] (element 16*q + lane).
QB_TARGET_AVX512 QB_EXL3_INLINE void fwht128_z(__m512* v) {
  for (int q = 0; q < 8; ++q) {
    v[q] = bfly_in_z(v[q], _mm512_permute_ps(v[q], 0xB1), 0xAAAA);
    v[q] = bfly_in_z(v[q], _mm512_permute_ps(v[q], 0x4E), QB_MUTANT_ON(exl3_gemv512_bfly_mask) ? 0x3333 : 0xCCCC);
    v[q] = bfly_in_z(v[q], _mm512_shuffle_f32x4(v[q], v[q], 0xB1), 0xF0F0);
    v[q] = bfly_in_z(v[q], _mm512_shuffle_f32x4(v[q], v[q], 0x4E), 0xFF00);
  }
  for (int d = 1; d < 8; d *= 2)
    for (int q = 0; q < 8; ++q)
      if (!(q & d)) {
        const __m512 a = v[q], b = v[q + d];
        v[q] = _mm512_add_ps(a, b);
        v[q + d] = _mm512_sub_ps(a, b);
      }
}

// x' = WHT(x∘suh) per 128-block, unnormalized; m vectors of k back to back.
// Not always_inline: the GEMV driver (exl3_dispatch.h, untargeted) calls it once per 8 vectors.
QB_TARGET_AVX512 static inline void input_transform_z(const Args& G, const float* x, int64_t m, float* xh) {
  for (int64_t mm = 0; mm < m; ++mm)
    for (int64_t kb = 0; kb < G.k; kb += 128) {
      __m512 v[8];
      for (int q = 0; q < 8; ++q)
        v[q] = _mm512_mul_ps(_mm512_loadu_ps(x + mm * G.k + kb + 16 * q),
                             _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)G.suh.at(kb + 16 * q))));
      fwht128_z(v);
      for (int q = 0; q < 8; ++q) _mm512_storeu_ps(xh + mm * G.k + kb + 16 * q, v[q]);
    }
}

// y[mm][nb..nb+127] = WHT(accumulators) * svh * kScaledW/128 for every 128-block of rows [r0, r1)
// (the accumulators hold sums of x' * Ŵ/kScaledW; both factors are powers of two, exact). `acc`
// holds, per 16-column tile and vector, 16 lanes whose column order `lane_to_col` undoes
// (the identity permutation for kernels that accumulate in column order).
QB_TARGET_AVX512 QB_EXL3_INLINE void output_transform_z(const Args& G, const float* acc, int m, int64_t r0,
                                                        int64_t r1, __m512i lane_to_col, float* y) {
  for (int64_t nb = r0; nb < r1; nb += 128) {
    __m512 sv[8];
    for (int q = 0; q < 8; ++q) {
      __m256i h = _mm256_loadu_si256((const __m256i*)G.svh.at(nb + 16 * q));
      if constexpr (QB_MUTANT_ON(exl3_vbmi_svh_sign_dropped)) h = _mm256_and_si256(h, _mm256_set1_epi16(0x7FFF));
      sv[q] = _mm512_mul_ps(_mm512_cvtph_ps(h),
                            _mm512_set1_ps(kScaledW * (QB_MUTANT_ON(exl3_gemv512_inv_sqrt128_digits) ? 0.0884f * 0.0884f : 1.0f / 128)));
    }
    const float* ab = acc + (nb - r0) / 16 * m * 16;
    for (int mm = 0; mm < m; ++mm) {
      __m512 v[8];
      for (int q = 0; q < 8; ++q) v[q] = _mm512_permutexvar_ps(lane_to_col, _mm512_load_ps(ab + (q * m + mm) * 16));
      fwht128_z(v);
      for (int q = 0; q < 8; ++q) _mm512_storeu_ps(y + mm * G.n + nb + 16 * q, _mm512_mul_ps(v[q], sv[q]));
    }
  }
}

// ---- AVX2.
//
// Codebook value of 8 clean 16-bit states (zero-extended dwords) as exact fp32: Ŵ (Scaled false,
// Veltkamp rounding) or Ŵ * 2^-13 (Scaled true, for the GEMV; as round_fp16_scaled_z).
template <exl3::Codebook CB, bool Scaled = false>
QB_TARGET_AVX2 QB_EXL3_INLINE __m256 decode_st_y(__m256i st) {
  __m256 v;
  if constexpr (CB == exl3::Codebook::mul1) {
    const __m256i x = _mm256_mullo_epi32(st, _mm256_set1_epi32((int)kMulMul1));
    const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(x, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
    v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sum, _mm256_set1_epi32(1024))),
                        _mm256_set1_ps(kMul1Inv), _mm256_set1_ps(kMul1Bias));
  } else {
    constexpr uint32_t M = CB == exl3::Codebook::mcg ? kMulMcg : kMul3inst;
    __m256i x = _mm256_mullo_epi32(st, _mm256_set1_epi32((int)M));
    if constexpr (CB == exl3::Codebook::inst3) x = _mm256_add_epi32(x, _mm256_set1_epi32((int)kAdd3inst));
    const __m256i keep = _mm256_set1_epi32((int)kKeep), set = _mm256_set1_epi32((int)kSet);
    const __m256i hi = _mm256_xor_si256(_mm256_and_si256(_mm256_srai_epi32(x, 3), keep), set);
    const __m256i lo = _mm256_xor_si256(_mm256_and_si256(_mm256_madd_epi16(x, _mm256_set1_epi32(kLowHalfMul)), keep), set);
    v = _mm256_add_ps(_mm256_castsi256_ps(hi), _mm256_castsi256_ps(lo));
  }
  if constexpr (Scaled) return _mm256_sub_ps(_mm256_mul_ps(v, _mm256_set1_ps(kRoundUp)), v);
  const __m256 c = _mm256_mul_ps(v, _mm256_set1_ps(QB_MUTANT_ON(exl3_inner2_veltkamp_4097) ? 4097.0f : kSplit));
  return _mm256_sub_ps(c, _mm256_sub_ps(c, v));
}

// Chunked tile ("TileY"): the stream of a tile is 8 chunks of K uint32 words (chunk a = fragment
// positions t = 32a .. 32a+31). Tile row r holds t = 32a + 4b + rho(r), column a + 8b, so the
// window of (r, b) starts at the same bit w0 = (4b + rho + 1)K - 16 of every chunk (w0 < 0 reaches
// into the previous chunk, tail-biting for chunk 0). With the tile transposed so that lane a of
// V_d is word d of chunk a (d = -1 .. K-1), and W_d = V_d << 16 | V_{d+1} >> 16 (the 32 bits
// straddling two words), every window lies inside one vector at one shift for all 8 lanes:
// 8 states (columns a + 8b in natural order) cost one shift and one and.
constexpr int rho_of_row(int r) { return (r & 1) + 2 * ((r >> 3) & 1) + 8 * ((r >> 1) & 1) + 16 * ((r >> 2) & 1); }

template <int K>
struct TileY {
  __m256i v[K + 1];  // v[d + 1] = V_d
  __m256i w[K];      // w[d + 1] = W_d, d = -1 .. K-2
};

// Lane a of V_d = word a*K + d of the tile, d = 0..K-1.
template <int K, int D>
QB_TARGET_AVX2 QB_EXL3_INLINE __m256i chunk_word_y(const __m256i* L) {
  if constexpr (K == 1) {
    return L[0];
  } else {
    const __m256i idx = _mm256_setr_epi32((0 * K + D) % 8, (1 * K + D) % 8, (2 * K + D) % 8, (3 * K + D) % 8,
                                          (4 * K + D) % 8, (5 * K + D) % 8, (6 * K + D) % 8, (7 * K + D) % 8);
    __m256i r = _mm256_permutevar8x32_epi32(L[D / 8], idx);
    for (int l = D / 8 + 1; l < K; ++l) {
      int m[8];
      bool any = false;
      for (int a = 0; a < 8; ++a) {
        m[a] = (a * K + D) / 8 == l ? -1 : 0;
        any |= m[a] != 0;
      }
      if (!any) continue;
      r = _mm256_blendv_epi8(r, _mm256_permutevar8x32_epi32(L[l], idx),
                             _mm256_setr_epi32(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]));
    }
    return r;
  }
}

template <int K, int... Ds>
QB_TARGET_AVX2 QB_EXL3_INLINE void chunk_words_y(TileY<K>& t, const __m256i* L, std::integer_sequence<int, Ds...>) {
  ((t.v[Ds + 1] = chunk_word_y<K, Ds>(L)), ...);
}

// 8x8 dword transpose (K = 8: load a is chunk a).
QB_TARGET_AVX2 QB_EXL3_INLINE void transpose8_y(__m256i* r) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
    r[i + 4] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
  }
}

template <int K>
QB_TARGET_AVX2 QB_EXL3_INLINE void load_tile_y(TileY<K>& t, const uint8_t* p) {
  __m256i L[K];
  for (int q = 0; q < K; ++q) L[q] = _mm256_loadu_si256((const __m256i*)(p + 32 * q));
  if constexpr (K == 8) {
    transpose8_y(L);
    for (int d = 0; d < 8; ++d) t.v[d + 1] = L[d];
  } else if constexpr (K == 4) {
    // In-lane 4x4 transposes give chunk order 0 2 4 6 | 1 3 5 7; vpermd restores it.
    const __m256i t0 = _mm256_unpacklo_epi32(L[0], L[1]), t1 = _mm256_unpackhi_epi32(L[0], L[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(L[2], L[3]), t3 = _mm256_unpackhi_epi32(L[2], L[3]);
    const __m256i fix = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    t.v[1] = _mm256_permutevar8x32_epi32(_mm256_unpacklo_epi64(t0, t2), fix);
    t.v[2] = _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi64(t0, t2), fix);
    t.v[3] = _mm256_permutevar8x32_epi32(_mm256_unpacklo_epi64(t1, t3), fix);
    t.v[4] = _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi64(t1, t3), fix);
  } else if constexpr (K == 2) {
    // Even / odd words give chunk order 0 1 4 5 | 2 3 6 7; vpermq restores it.
    const __m256 a = _mm256_castsi256_ps(L[0]), b = _mm256_castsi256_ps(L[1]);
    t.v[1] = _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a, b, 0x88)), 0xD8);
    t.v[2] = _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8);
  } else {
    chunk_words_y<K>(t, L, std::make_integer_sequence<int, K>{});
  }
  t.v[0] = _mm256_permutevar8x32_epi32(t.v[K], _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6));
  for (int d = 0; d < K; ++d)
    t.w[d] = _mm256_or_si256(_mm256_slli_epi32(t.v[d], 16), _mm256_srli_epi32(t.v[d + 1], 16));
}

// The 8 states of (row R, half B): columns 8B .. 8B+7.
template <int K, int R, int B>
QB_TARGET_AVX2 QB_EXL3_INLINE __m256i state_y(const TileY<K>& t) {
  constexpr int w0 = (4 * B + rho_of_row(R) + 1) * K - 16 - (QB_MUTANT_ON(exl3_inner2_window_minus1) ? 1 : 0);
  constexpr int d = w0 < 0 ? -1 : w0 / 32, o = w0 - 32 * d;
  constexpr int sh = o <= 16 ? 16 - o : 32 - o;
  __m256i x;
  if constexpr (o <= 16)
    x = t.v[d + 1];
  else
    x = t.w[d + 1];
  if constexpr (sh == 16) return _mm256_srli_epi32(x, 16);
  if constexpr (sh == 0) return _mm256_and_si256(x, _mm256_set1_epi32(0xFFFF));
  return _mm256_and_si256(_mm256_srli_epi32(x, sh), _mm256_set1_epi32(0xFFFF));
}

template <exl3::Codebook CB, int K, int B, int... Rs>
QB_TARGET_AVX2 QB_EXL3_INLINE void decode_half_t_y(const TileY<K>& t, float* o, int64_t ld,
                                                   std::integer_sequence<int, Rs...>) {
  __m256i v[16];
  ((v[Rs] = _mm256_castps_si256(decode_st_y<CB>(state_y<K, Rs, B>(t)))), ...);
  for (int h = 0; h < 2; ++h) {
    transpose8_y(v + 8 * h);
    for (int c = 0; c < 8; ++c) _mm256_storeu_si256((__m256i*)(o + (8 * B + c) * ld + 8 * h), v[8 * h + c]);
  }
}

// One tile transposed: o[c * ld + r] = Ŵ_tile[r][c] (exact fp16 values as fp32).
template <exl3::Codebook CB, int K>
QB_TARGET_AVX2 QB_EXL3_INLINE void decode_tile_t_y(const uint8_t* p, float* o, int64_t ld) {
  TileY<K> t;
  load_tile_y<K>(t, p);
  decode_half_t_y<CB, K, 0>(t, o, ld, std::make_integer_sequence<int, 16>{});
  decode_half_t_y<CB, K, 1>(t, o, ld, std::make_integer_sequence<int, 16>{});
}

template <int Imm>
QB_TARGET_AVX2 QB_EXL3_INLINE __m256 bfly_in_y(__m256 v, __m256 p) {
  return _mm256_blend_ps(_mm256_add_ps(v, p), _mm256_sub_ps(p, v), Imm);
}

// Unnormalized 128-point WHT of v[0..15] (element 8*q + lane).
QB_TARGET_AVX2 QB_EXL3_INLINE void fwht128_y(__m256* v) {
  for (int q = 0; q < 16; ++q) {
    v[q] = bfly_in_y<0xAA>(v[q], _mm256_permute_ps(v[q], 0xB1));
    v[q] = bfly_in_y<0xCC>(v[q], _mm256_permute_ps(v[q], 0x4E));
    v[q] = bfly_in_y<0xF0>(v[q], _mm256_permute2f128_ps(v[q], v[q], 1));
  }
  for (int d = 1; d < 16; d *= 2)
    for (int q = 0; q < 16; ++q)
      if (!(q & d)) {
        const __m256 a = v[q], b = v[q + d];
        v[q] = _mm256_add_ps(a, b);
        v[q + d] = _mm256_sub_ps(a, b);
      }
}

}  // namespace qb::x86::exl3k

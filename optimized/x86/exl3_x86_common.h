// Shared pieces of the EXL3 x86 kernels (specs/exl3.md sections 2-4).
//
// Decoding works on groups of 16 values of one 16x16 tile. Which 16 of the 256 fragment-order
// positions form a group is the kernel's choice: GEMV wants one tile row r (16 columns c that
// share one x' value), the inner/dequant outputs want one tile column c (16 consecutive k of one
// output row). Per (bits, order) a table gives, for every lane, the two uint32 words holding the
// state's bit window and the shifts that cut it out, so the vector code never branches on K.
//
// Codebook arithmetic stays in 32-bit lanes. 3inst/mcg: after the hash, each fp16 half has
// exponent 011ab (bits 12-14 are forced to 011), so it is always a normal number in [0.125, 2)
// and its fp32 pattern is sign | 0 11111ab | mantissa: one arithmetic shift puts the half's sign at
// bit 31 and its low 12 bits at 24..13, and one vpternlogd does upstream's and/xor while filling
// in the constant exponent bits. The fp32 sum of the two halves is exact; upstream rounds it
// once to fp16 (RNE). Veltkamp's split c = v*(2^13+1), c - (c - v) rounds an fp32 to its 11 leading
// bits; for these values it equals that RNE (checked for all 65536 states of both codebooks and
// all 1021 mul1 byte sums; every value is an fp16 normal), and it is three plain fp32 ops where
// vcvtps2ph + vcvtph2ps are two slow cross-domain ones.
#pragma once
// GCC 12's AVX-512 headers feed unmasked intrinsics a self-initialized _mm512_undefined_*() value,
// which -W(maybe-)uninitialized reports at every inlined use; set before the include.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

#include "harness/registry.h"
#include "optimized/x86/target.h"
#include "reference/exl3/exl3.h"

namespace qb::x86::exl3k {

enum class Order { by_row, by_col };

struct Tables {
  alignas(64) int32_t hi[256];  // word index of the window's first bit
  alignas(64) int32_t lo[256];  // word index of its last bit
  alignas(64) int32_t shr[256];  // state = ((lo >> shr) | (hi << shl)) & 0xFFFF
  alignas(64) int32_t shl[256];
};

inline void build_tables(int K, Order order, Tables& T) {
  int tinv[16][16];
  for (int t = 0; t < 256; ++t) tinv[exl3::tile_row(t)][exl3::tile_col(t)] = t;
  const int nw = 8 * K;
  for (int g = 0; g < 16; ++g)
    for (int f = 0; f < 16; ++f) {
      const int t = order == Order::by_row ? tinv[g][f] : tinv[f][g];
      const int b0 = t * K + K - 16 + 256 * K, b1 = b0 + 16;
      const int e = g * 16 + f;
      T.hi[e] = (b0 / 32) % nw;
      T.lo[e] = ((b1 - 1) / 32) % nw;
      T.shr[e] = ((b1 - 1) / 32 + 1) * 32 - b1;
      T.shl[e] = 32 - T.shr[e];  // 32 shifts the high word out entirely (vpsllvd gives 0)
    }
}

struct Geometry {
  int K = 0;
  exl3::Codebook cb = exl3::Codebook::inst3;
  int64_t k = 0, n = 0;  // upstream orientation: k = cols (in), n = rows (out)
  const uint8_t* trellis = nullptr;
  const uint16_t* suh = nullptr;
  const uint16_t* svh = nullptr;
  int64_t tile_bytes() const { return 32 * K; }
  const uint8_t* tile(int64_t i, int64_t j) const { return trellis + (i * (n / 16) + j) * tile_bytes(); }
};

inline Geometry geometry(const QWeight& w) {
  const exl3::Params p = exl3::params_of(w);
  Geometry g;
  g.K = p.bits;
  g.cb = p.codebook;
  g.k = w.cols;
  g.n = w.rows;
  g.trellis = w.tensor("trellis").data;
  g.suh = reinterpret_cast<const uint16_t*>(w.tensor("suh").data);
  g.svh = reinterpret_cast<const uint16_t*>(w.tensor("svh").data);
  return g;
}

inline float* align64(float* p) {
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

constexpr uint32_t kMul3inst = 89226354u, kAdd3inst = 64248484u, kMulMcg = 0xCBAC1FEDu,
                   kMulMul1 = 0x83DCD12Du;
// Operands of (a & kKeep) ^ kSet on a half shifted to fp32 position (see above): keep the sign
// and the 12 low bits, flip those that upstream's xor 0x3B60 flips (0xB60), set exponent 011111.
constexpr uint32_t kKeep = 0x81FFE000u, kSet = 0x3E000000u | (0xB60u << 13);
constexpr float kSplit = 8193.0f;
// fp16 0x1EEE and 0xC931: (1024 + s) * k_inv + k_bias is exact in fp32 (22 significant bits at
// most), so one vcvtps2ph rounds it exactly like upstream's single-rounding fp16 FMA.
constexpr float kMul1Inv = 0.00676727294921875f, kMul1Bias = -10.3828125f;


#define QB_EXL3_INLINE static inline __attribute__((always_inline))

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
  __m512 v;
  if constexpr (CB == exl3::Codebook::mul1) {
    const __m512i x = _mm512_mullo_epi32(st, _mm512_set1_epi32((int)kMulMul1));
    const __m512i sum = _mm512_madd_epi16(_mm512_maddubs_epi16(x, _mm512_set1_epi8(1)), _mm512_set1_epi16(1));
    v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(sum, _mm512_set1_epi32(1024))),
                        _mm512_set1_ps(kMul1Inv), _mm512_set1_ps(kMul1Bias));
  } else {
    __m512i x;
    if constexpr (CB == exl3::Codebook::mcg)
      x = _mm512_mullo_epi32(st, _mm512_set1_epi32((int)kMulMcg));
    else
      x = _mm512_add_epi32(_mm512_mullo_epi32(st, _mm512_set1_epi32((int)kMul3inst)),
                           _mm512_set1_epi32((int)kAdd3inst));
    const __m512i keep = _mm512_set1_epi32((int)kKeep), set = _mm512_set1_epi32((int)kSet);
    const __m512i hi = _mm512_ternarylogic_epi32(_mm512_srai_epi32(x, 3), keep, set, 0x6A);
    const __m512i lo = _mm512_ternarylogic_epi32(_mm512_srai_epi32(_mm512_slli_epi32(x, 16), 3), keep, set, 0x6A);
    v = _mm512_add_ps(_mm512_castsi512_ps(hi), _mm512_castsi512_ps(lo));
  }
  const __m512 c = _mm512_mul_ps(v, _mm512_set1_ps(kSplit));
  return _mm512_sub_ps(c, _mm512_sub_ps(c, v));
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
    v[q] = bfly_in_z(v[q], _mm512_permute_ps(v[q], 0x4E), 0xCCCC);
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

// ---- AVX2: a group is two 8-lane halves; the state words come from gathers (no two-table
// permute in AVX2, and a tile holds up to 64 words).

template <exl3::Codebook CB>
QB_TARGET_AVX2 QB_EXL3_INLINE __m256 decode_y(const int* words, const Tables& T, int e) {
  const __m256i hi = _mm256_i32gather_epi32(words, _mm256_load_si256((const __m256i*)(T.hi + e)), 4);
  const __m256i lo = _mm256_i32gather_epi32(words, _mm256_load_si256((const __m256i*)(T.lo + e)), 4);
  const __m256i st = _mm256_and_si256(
      _mm256_or_si256(_mm256_srlv_epi32(lo, _mm256_load_si256((const __m256i*)(T.shr + e))),
                      _mm256_sllv_epi32(hi, _mm256_load_si256((const __m256i*)(T.shl + e)))),
      _mm256_set1_epi32(0xFFFF));
  __m256 v;
  if constexpr (CB == exl3::Codebook::mul1) {
    const __m256i x = _mm256_mullo_epi32(st, _mm256_set1_epi32((int)kMulMul1));
    const __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(x, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
    v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sum, _mm256_set1_epi32(1024))),
                        _mm256_set1_ps(kMul1Inv), _mm256_set1_ps(kMul1Bias));
  } else {
    __m256i x;
    if constexpr (CB == exl3::Codebook::mcg)
      x = _mm256_mullo_epi32(st, _mm256_set1_epi32((int)kMulMcg));
    else
      x = _mm256_add_epi32(_mm256_mullo_epi32(st, _mm256_set1_epi32((int)kMul3inst)),
                           _mm256_set1_epi32((int)kAdd3inst));
    const __m256i keep = _mm256_set1_epi32((int)kKeep), set = _mm256_set1_epi32((int)kSet);
    const __m256i hi = _mm256_xor_si256(_mm256_and_si256(_mm256_srai_epi32(x, 3), keep), set);
    const __m256i lo = _mm256_xor_si256(_mm256_and_si256(_mm256_srai_epi32(_mm256_slli_epi32(x, 16), 3), keep), set);
    v = _mm256_add_ps(_mm256_castsi256_ps(hi), _mm256_castsi256_ps(lo));
  }
  const __m256 c = _mm256_mul_ps(v, _mm256_set1_ps(kSplit));
  return _mm256_sub_ps(c, _mm256_sub_ps(c, v));
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

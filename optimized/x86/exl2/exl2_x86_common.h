// EXL2 x86 kernels' vector types (V8: AVX2, V16: AVX-512) and what their bodies
// (exl2_x86_body.inc) share. The bodies are written once over the vector type: lanes are
// output columns, which is how q_weight lays a row of words out (specs/exl2.md section 4: each
// column's bit stream runs down its own column of words), so a vector load of words holds the
// same stored rows of L consecutive columns and no transposes are needed.
//
// GEMV: the activation is first gathered into stored-row order (xs[k] = x[q_perm[k]], spec 6:
// upstream's kernel gathers the same way). Groups are the outer loop, column blocks the inner
// one, so a group's q_weight rows stream side by side through the whole column range. Per group
// and column, acc = sum over the group's rows of (q - z) * xs (FMA, exact integer levels), then
// y += s * acc with s the group's fp16 scale (spec 5): every term is (q - z) * s * x as the
// reference defines the GEMV, with at most rows + G + 3 roundings (gemv_rounding_depth).
// Dequant: the same levels times s, rounded to fp16 (rounding 3, vcvtps2ph), decoded per column
// vector over all K stored rows into a scratch, then gathered through q_invperm into W^T rows.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"
#include "reference/exl2/exl2.h"

namespace qb::x86::exl2k {

using exl2::Args;
using exl2::Group;

#define QB_EXL2_INLINE inline __attribute__((always_inline))

struct V8 {
  using F = __m256;
  using I = __m256i;
  static constexpr int L = 8;
  static constexpr bool kPairLookup = false;  // an 8-entry permute cannot index 16 pairs
  QB_TARGET_AVX2 static QB_EXL2_INLINE I load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE I srl(I v, int s) { return _mm256_srli_epi32(v, s); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE I sll(I v, int s) { return _mm256_slli_epi32(v, s); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE I or_(I a, I b) { return _mm256_or_si256(a, b); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE I and_(I a, I b) { return _mm256_and_si256(a, b); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F zero() { return _mm256_setzero_ps(); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F set1(float v) { return _mm256_set1_ps(v); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F add(F a, F b) { return _mm256_add_ps(a, b); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F loadf(const float* p) { return _mm256_loadu_ps(p); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE void storef(float* p, F v) { _mm256_storeu_ps(p, v); }
  QB_TARGET_AVX2 static QB_EXL2_INLINE void store16(uint16_t* p, F v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // RNE to fp16 and back (vcvtps2ph keeps a NaN's sign and top payload bits, as the reference's
  // f32_to_fp16_rne does).
  QB_TARGET_AVX2 static QB_EXL2_INLINE F round16(F v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // q - z as floats from a B-bit field in the low bits of v (`clean`: nothing above it).
  template <int B, bool clean>
  QB_TARGET_AVX2 static QB_EXL2_INLINE F levels(I v) {
    if constexpr (!clean) v = _mm256_and_si256(v, _mm256_set1_epi32((1 << B) - 1));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(v, _mm256_set1_epi32(1 << (B - 1))));
  }
  // Lane j: the 4-bit field j of the L/8 words at p (8 per word, lowest first).
  QB_TARGET_AVX2 static QB_EXL2_INLINE I nibbles(const uint8_t* p) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(w)), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                            _mm256_set1_epi32(15));
  }
  QB_TARGET_AVX2 static QB_EXL2_INLINE F gather(const float* base, const int32_t* idx, int32_t scale_lane) {
    const I i = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), _mm256_set1_epi32(L)),
                                 _mm256_set1_epi32(scale_lane));
    return _mm256_i32gather_ps(base, i, 4);
  }
};

// Entry i: (i mod 2^B) - 2^(B-1), 32 entries (V16::levels' lookup tables).
template <int B>
struct LevelTable {
  alignas(64) float v[32];
  constexpr LevelTable() : v() {
    const int z = (1 << (B - 1)) - (QB_MUTANT_ON(exl2_gemv512_level_zero_off_by_one) ? 1 : 0);
    for (int i = 0; i < 32; ++i) v[i] = static_cast<float>((i & ((1 << B) - 1)) - z);
  }
};
template <int B>
inline constexpr LevelTable<B> kLevels{};

struct V16 {
  using F = __m512;
  using I = __m512i;
  static constexpr int L = 16;
  static constexpr bool kPairLookup = true;
  // Entry (idx & 15) of the 16 floats at t, per lane.
  QB_TARGET_AVX512 static QB_EXL2_INLINE F lookup16(I idx, const float* t) { return _mm512_permutexvar_ps(idx, _mm512_loadu_ps(t)); }
  // out[a + 4 b] = (a - 2) x[0] + (b - 2) x[1], a, b = 0..3: both products exact (factors -2..1),
  // one rounding for the sum (the fma).
  QB_TARGET_AVX512 static QB_EXL2_INLINE void pair_table(const float* x, float* out) {
    F la = _mm512_setr_ps(-2, -1, 0, 1, -2, -1, 0, 1, -2, -1, 0, 1, -2, -1, 0, 1);
    F lb = _mm512_setr_ps(-2, -2, -2, -2, -1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1);
    if constexpr (QB_MUTANT_ON(exl2_gemv512_pair_rows_swapped)) std::swap(la, lb);
    _mm512_storeu_ps(out, _mm512_fmadd_ps(la, _mm512_set1_ps(x[0]), _mm512_mul_ps(lb, _mm512_set1_ps(x[1]))));
  }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I srl(I v, int s) { return _mm512_srli_epi32(v, static_cast<unsigned>(s)); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I sll(I v, int s) { return _mm512_slli_epi32(v, static_cast<unsigned>(s)); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I or_(I a, I b) { return _mm512_or_si512(a, b); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I and_(I a, I b) { return _mm512_and_si512(a, b); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F zero() { return _mm512_setzero_ps(); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F set1(float v) { return _mm512_set1_ps(v); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F add(F a, F b) { return _mm512_add_ps(a, b); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F loadf(const float* p) { return _mm512_loadu_ps(p); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE void storef(float* p, F v) { _mm512_storeu_ps(p, v); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE void store16(uint16_t* p, F v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F round16(F v) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // q - z as floats from a B-bit field in the low bits of v, bits above it ignored. Up to 5
  // bits one permute looks the level up by the index's low 4 (vpermps) or 5 (vpermt2ps) bits
  // from a table of the 2^B levels repeated to fill 16 or 32 entries: no mask, subtract or
  // convert (one op instead of three). 6 and 8 bits convert.
  template <int B, bool clean>
  QB_TARGET_AVX512 static QB_EXL2_INLINE F levels(I v) {
    if constexpr (B <= 4) {
      return _mm512_permutexvar_ps(v, level_table<B>(0));
    } else if constexpr (B == 5) {
      return _mm512_permutex2var_ps(level_table<B>(0), v, level_table<B>(16));
    } else {
      if constexpr (!clean) v = _mm512_and_si512(v, _mm512_set1_epi32((1 << B) - 1));
      return _mm512_cvtepi32_ps(_mm512_sub_epi32(v, _mm512_set1_epi32(1 << (B - 1))));
    }
  }
  // Entries first .. first + 15 of the table: (i mod 2^B) - 2^(B-1).
  template <int B>
  QB_TARGET_AVX512 static QB_EXL2_INLINE F level_table(int first) { return _mm512_load_ps(kLevels<B>.v + first); }
  QB_TARGET_AVX512 static QB_EXL2_INLINE I nibbles(const uint8_t* p) {
    const __m512i words = _mm512_castsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m512i w = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), words);
    return _mm512_and_si512(_mm512_srlv_epi32(w, _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28)),
                            _mm512_set1_epi32(15));
  }
  QB_TARGET_AVX512 static QB_EXL2_INLINE F gather(const float* base, const int32_t* idx, int32_t scale_lane) {
    const I i = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_loadu_si512(idx), _mm512_set1_epi32(L)), _mm512_set1_epi32(scale_lane));
    return _mm512_i32gather_ps(i, base, 4);
  }
};

// xs[k] = x[q_perm[k]]: input feature i sits at stored row q_invperm[i].
inline std::vector<float> gather_input(const Args& a, const uint8_t* act) {
  std::vector<float> xs(static_cast<std::size_t>(a.k));
  for (int64_t i = 0; i < a.k; ++i) {
    if constexpr (QB_MUTANT_ON(exl2_gemv2_perm_direction))
      std::memcpy(&xs[static_cast<std::size_t>(i)], act + 4 * a.invperm(i), 4);
    else
      std::memcpy(&xs[static_cast<std::size_t>(a.invperm(i))], act + 4 * i, 4);
  }
  return xs;
}

// Rows and words of one B-bit chunk (spec 4's table): the smallest run of rows that fills whole words.
template <int B>
constexpr int chunk_rows() {
  return B == 3 || B == 5 ? 32 : B == 6 || B == 2 ? 16 : B == 4 ? 8 : 4;
}

}  // namespace qb::x86::exl2k

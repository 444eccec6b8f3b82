// MLC group-quantization x86 kernels: vector types (V8: AVX2, V16: AVX-512) and the scheme their
// bodies (mlc_x86_body.inc, compiled once per ISA) share. specs/mlc.md sections 2.2-2.3.
//
// GEMV, NK presets (q_weight [N][nw], 4 words per group): a row is read L words at a time (a
// chunk of L/4 groups). Lane w of the chunk holds word w, and code j of every lane is brought to
// the low bits by one shift by j*bits; the permute that turns it into code - max_int reads only
// the low 4 index bits (so the neighbour code above it, or an int3 word's unused bits 30-31,
// never matter: the int3 table repeats every 8). The activation is rearranged once per call to
// match (xs: vector j of chunk c holds x[c*L*epw + w*epw + j] in lane w, 0 past K), so one FMA
// per 16 weights accumulates lane w's terms of its group; per chunk the lanes are scaled by their
// group's s (lane w: group w/4) into the row's total. Several rows at once share each xs load.
// GEMV, KN presets (q_weight [nw][N]): lanes are output rows, words of one k-row are contiguous;
// code j of a word row multiplies the broadcast x[kw*epw + j], and each group's sum meets the
// group's scale vector (q_scale [ng][N], contiguous rows) once.
// Every term is (code - max_int) * x * s as the reference defines the GEMV, with at most
// K + 3 roundings on its path (reference/mlc/reference.cpp gemv_rounding_depth).
//
// Dequant: per group, a table of the 2^bits values round_md((c - max_int) * s) (the fp32 product
// is exact for fp16/bf16 scales, one rounding to the model dtype follows, spec 2.3), then per L
// elements a permute of the group's words into lanes, a variable shift and a table lookup.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"
#include "reference/mlc/mlc.h"

namespace qb::x86::mlck {

using mlc::Args;
using mlc::ModelDType;

#define QB_MLC_INLINE inline __attribute__((always_inline))

struct V16 {
  using F = __m512;
  using I = __m512i;
  static constexpr int L = 16;
  QB_TARGET_AVX512 static QB_MLC_INLINE __mmask16 mask(int64_t n) {
    return n >= L ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
  }
  // n (<= L) consecutive 32-bit words from p into lanes 0..n-1, zeros above.
  QB_TARGET_AVX512 static QB_MLC_INLINE I load_words(const uint8_t* p, int64_t n) {
    return n >= L ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(mask(n), p);
  }
  QB_TARGET_AVX512 static QB_MLC_INLINE I srl(I v, int s) { return _mm512_srli_epi32(v, s); }
  QB_TARGET_AVX512 static QB_MLC_INLINE I srlv(I v, I s) { return _mm512_srlv_epi32(v, s); }
  QB_TARGET_AVX512 static QB_MLC_INLINE I permw(I idx, I v) { return _mm512_permutexvar_epi32(idx, v); }
  QB_TARGET_AVX512 static QB_MLC_INLINE I seti(const int32_t* v) { return _mm512_loadu_si512(v); }
  // A 16-entry table looked up by the low 4 bits of each lane.
  QB_TARGET_AVX512 static QB_MLC_INLINE F lookup(I idx, F table) { return _mm512_permutexvar_ps(idx, table); }
  // code - max_int for a B-bit code in the low bits of idx (bits above it ignored).
  template <int B>
  QB_TARGET_AVX512 static QB_MLC_INLINE F levels(I idx, F table) {
    return lookup(idx, table);
  }
  template <int B>
  QB_TARGET_AVX512 static QB_MLC_INLINE F level_table() {
    // int3: the table repeats every 8, so bit 3 of the index (the next code's) is ignored.
    if constexpr (B == 4) return _mm512_setr_ps(-7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8);
    if constexpr (QB_MUTANT_ON(mlc_int3_table_half)) return _mm512_setr_ps(-3, -2, -1, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_setr_ps(-3, -2, -1, 0, 1, 2, 3, 4, -3, -2, -1, 0, 1, 2, 3, 4);
  }
  // The words of one group (4) into lanes 0-3, zeros above.
  QB_TARGET_AVX512 static QB_MLC_INLINE I group_words(const uint32_t* w4) {
    return _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w4)));
  }
  // Dequant of the codes in idx's low bits through a table of the 2^B decoded values.
  template <int B>
  QB_TARGET_AVX512 static QB_MLC_INLINE F decode(I idx, F table, F, ModelDType) {
    return lookup(idx, table);
  }
  QB_TARGET_AVX512 static QB_MLC_INLINE F zero() { return _mm512_setzero_ps(); }
  QB_TARGET_AVX512 static QB_MLC_INLINE F set1(float v) { return _mm512_set1_ps(v); }
  QB_TARGET_AVX512 static QB_MLC_INLINE F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  QB_TARGET_AVX512 static QB_MLC_INLINE F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  QB_TARGET_AVX512 static QB_MLC_INLINE F add(F a, F b) { return _mm512_add_ps(a, b); }
  QB_TARGET_AVX512 static QB_MLC_INLINE F loadf(const float* p) { return _mm512_load_ps(p); }
  QB_TARGET_AVX512 static QB_MLC_INLINE void storef(float* p, F v, int64_t n) {
    if (n >= L)
      _mm512_storeu_ps(p, v);
    else
      _mm512_mask_storeu_ps(p, mask(n), v);
  }
  QB_TARGET_AVX512 static QB_MLC_INLINE float hsum(F v) { return _mm512_reduce_add_ps(v); }
  // n (<= L) consecutive scales of dtype dt from p, widened exactly to fp32; zeros above.
  QB_TARGET_AVX512 static QB_MLC_INLINE F scales(const uint8_t* p, int64_t n, ModelDType dt) {
    const __mmask16 m = mask(n);
    switch (dt) {
      case ModelDType::f16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
      case ModelDType::bf16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
      case ModelDType::f32:
        break;
    }
    return _mm512_maskz_loadu_ps(m, p);
  }
  // Lane w: lane c * L/4 + w/4 of s (the group of word w in chunk c of L groups' scales).
  QB_TARGET_AVX512 static QB_MLC_INLINE F spread(F s, int c) {
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(4 * c),
                                         _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
    return _mm512_permutexvar_ps(idx, s);
  }
  // One RNE rounding to the model dtype, widened back (vcvtps2ph keeps a NaN's sign and top
  // payload bits as the reference's f32_to_fp16_rne does; bf16 by TVM's integer rule, which
  // keeps subnormals, unlike vcvtneps2bf16).
  QB_TARGET_AVX512 static QB_MLC_INLINE F round_md(F v, ModelDType dt) {
    if (dt == ModelDType::f16) return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (dt == ModelDType::bf16) {
      const __m512i u = _mm512_castps_si512(v);
      const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
      const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb);
      return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32(static_cast<int32_t>(0xFFFF0000u))));
    }
    return v;
  }
};

struct V8 {
  using F = __m256;
  using I = __m256i;
  static constexpr int L = 8;
  QB_TARGET_AVX2 static QB_MLC_INLINE I mask(int64_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(std::min<int64_t>(n, L))), lane);
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE I load_words(const uint8_t* p, int64_t n) {
    return n >= L ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                  : _mm256_maskload_epi32(reinterpret_cast<const int*>(p), mask(n));
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE I srl(I v, int s) { return _mm256_srli_epi32(v, s); }
  QB_TARGET_AVX2 static QB_MLC_INLINE I srlv(I v, I s) { return _mm256_srlv_epi32(v, s); }
  QB_TARGET_AVX2 static QB_MLC_INLINE I permw(I idx, I v) { return _mm256_permutevar8x32_epi32(v, idx); }
  QB_TARGET_AVX2 static QB_MLC_INLINE I seti(const int32_t* v) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v)); }
  // int3: an 8-entry permute reads the low 3 index bits, the code itself; int4 (16 levels, one
  // permute too few) masks, subtracts and converts.
  template <int B>
  QB_TARGET_AVX2 static QB_MLC_INLINE F levels(I idx, F table) {
    if constexpr (B == 3) return _mm256_permutevar8x32_ps(table, idx);
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(idx, _mm256_set1_epi32(15)), _mm256_set1_epi32(7)));
  }
  template <int B>
  QB_TARGET_AVX2 static QB_MLC_INLINE F level_table() {
    return _mm256_setr_ps(-3, -2, -1, 0, 1, 2, 3, 4);  // int3 only
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE I group_words(const uint32_t* w4) {
    return _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w4)));
  }
  // int3 through the 8-entry table of decoded values; int4 as the reference computes it.
  template <int B>
  QB_TARGET_AVX2 static QB_MLC_INLINE F decode(I idx, F table, F s, ModelDType dt) {
    if constexpr (B == 3) return _mm256_permutevar8x32_ps(table, idx);
    return round_md(mul(levels<B>(idx, table), s), dt);
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE F zero() { return _mm256_setzero_ps(); }
  QB_TARGET_AVX2 static QB_MLC_INLINE F set1(float v) { return _mm256_set1_ps(v); }
  QB_TARGET_AVX2 static QB_MLC_INLINE F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  QB_TARGET_AVX2 static QB_MLC_INLINE F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  QB_TARGET_AVX2 static QB_MLC_INLINE F add(F a, F b) { return _mm256_add_ps(a, b); }
  QB_TARGET_AVX2 static QB_MLC_INLINE F loadf(const float* p) { return _mm256_load_ps(p); }
  QB_TARGET_AVX2 static QB_MLC_INLINE void storef(float* p, F v, int64_t n) {
    if (n >= L)
      _mm256_storeu_ps(p, v);
    else
      _mm256_maskstore_ps(p, mask(n), v);
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE float hsum(F v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE F scales(const uint8_t* p, int64_t n, ModelDType dt) {
    const int64_t c = std::clamp<int64_t>(n, 0, L);
    if (dt == ModelDType::f32) return _mm256_maskload_ps(reinterpret_cast<const float*>(p), mask(c));
    uint16_t h[L] = {};
    std::memcpy(h, p, static_cast<std::size_t>(2 * c));
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
    if (dt == ModelDType::f16) return _mm256_cvtph_ps(v);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE F spread(F s, int c) {
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(2 * c), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
    return _mm256_permutevar8x32_ps(s, idx);
  }
  QB_TARGET_AVX2 static QB_MLC_INLINE F round_md(F v, ModelDType dt) {
    if (dt == ModelDType::f16) return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (dt == ModelDType::bf16) {
      const __m256i u = _mm256_castps_si256(v);
      const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
      const __m256i r = QB_MUTANT_ON(mlc_bf16_truncate) ? u : _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb);
      return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32(static_cast<int32_t>(0xFFFF0000u))));
    }
    return v;
  }
};

// The activation rearranged for a kernel call, in 64-byte aligned storage reused across calls of
// a thread (a GEMV call is one thread's rows).
inline float* scratch(std::size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats + 16) buf.resize(floats + 16);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
}

inline std::size_t scale_bytes(ModelDType dt) { return dt == ModelDType::f32 ? 4 : 2; }

}  // namespace qb::x86::mlck

// Every preset's kernel wrapper, one per registered format (optimized/x86/kernels.inc).
#define QB_MLC_PRESETS(X) X(q3f16_0) X(q3f16_1) X(q4f16_0) X(q4f16_1) X(q4bf16_0) X(q4bf16_1) X(q4f32_1) X(q4f16_2)

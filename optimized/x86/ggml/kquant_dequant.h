// The row loops of the k-quant (q2_K..q6_K), tq1_0 and tq2_0 fp32 dequantizations (AVX2 and
// AVX-512), templated on the vector width (V8: 8 floats per store, V16: 16 floats per store). Each
// assembles a 32-element group's codes as 32 int8 in element order in one 256-bit register at
// either width, so the widths differ only in how 16 codes and scalar scales are converted and
// stored: int8 widened and converted to float (exact), one vmulps by the broadcast scale (and for
// the formats with mins one vsubps of the broadcast min, never an FMA), the reference's roundings
// on the same operands in its order, so the output is bit-identical at either width.
//
// q2_K (spec 3.12): byte 32h + l of qs holds elements 128h + 32k + l at bits 2k..2k+1, so shifting
// the 32-byte half h right by 2k and masking gives elements 128h + 32k + 0..31 in order; per
// 16-element sub-block j the reference computes dl = d*(scales[j] & 15) and ml = dmin*(scales[j] >>
// 4) once (the same two scalar multiplies here), then y = dl*q - ml.
// q3_K (spec 3.13): the low two bits as q2_K's, the third from bit 4h + k of hmask[l], moved to bit
// 2 (kquant_x86.h move_bit): code = (low | 4*bit) - 4 in -4..3; per sub-block dl = d*scale (the
// signed 6-bit scales decoded by kquant_x86.h q3_K_scales16), then y = dl*q.
// q4_K (spec 3.14): per 32-element sub-block the reference computes d1 = d*sc and m1 = dmin*m once
// (scalar, the same two IEEE multiplies here), then y = d1*q - m1; each 64-element chunk c holds
// sub-block 2c in the low nibbles of qs[32c..32c+31] and sub-block 2c+1 in the high nibbles.
// q5_K (spec 3.15): q4_K's nibbles plus a fifth bit, bit 2c (low nibbles) or 2c + 1 (high
// nibbles) of qh[l] moved to bit 4; d1, m1 and y as q4_K.
// q6_K (spec 3.16): per 32-element group (half h, quarter s) the 6-bit levels come from 32
// low-nibble bytes of ql and 2-bit pairs of qh, minus 32; per 16-element sub-block d1 = d*scale is
// the reference's scalar multiply, then y = d1*q. tq2_0 (spec 3.19): byte 32c + m holds elements
// 128c + 32n + m at bits 2n..2n+1 (q2_K's packing), so shifting the block's 32-byte half c right by 2n and masking
// gives elements 128c + 32n + 0..31 in order; y = (code - 1)*d. tq1_0 (spec 3.18): the base-3
// trits t of tq1_0_x86.h's 256-bit decode (integer, equal to the reference's for every byte,
// 243..255 included), 32 per register in element order; y = (t - 1)*d. vcvtph2ps widens d exactly
// (quieting NaNs, keeping payloads) like fp16_to_f32. Large outputs use non-temporal stores when
// aligned (optimized/x86/stream_store.h).
//
// Every function here carries the including kernel's ISA target, so the including file defines
// QB_KERNEL_TARGET (QB_TARGET_AVX2 or QB_TARGET_AVX512) first and includes this header once.
// Everything is in an unnamed namespace: each kernel file's copy is its own, compiled for its
// target and with its own mutant switches (a mutant plugin compiles one kernel file).
#pragma once
#include "optimized/x86/intrinsics.h"

#include <utility>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/kquant_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/q2_K.h"
#include "reference/ggml/q3_K.h"
#include "reference/ggml/q4_K.h"
#include "reference/ggml/q5_K.h"
#include "reference/ggml/q6_K.h"
#include "optimized/x86/ggml/tq1_0_x86.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/tq2_0.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including kquant_dequant.h"
#endif

namespace qb::x86::kquant {
namespace {

// 16 int8 codes q to y[0..15] as d*q (store16) or d*q - m (store16_minus), in two 8-float stores.
struct V8 {
  static constexpr int kBytes = 32;
  template <bool kStream>
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store16(float* y, __m128i q, float d) {
    const __m256 vd = _mm256_set1_ps(d);
    store_ps<kStream>(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), vd));
    store_ps<kStream>(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), vd));
  }
  template <bool kStream>
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store16_minus(float* y, __m128i q, float d,
                                                                                 float m) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    store_ps<kStream>(y, _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), vd), vm));
    store_ps<kStream>(
        y + 8, _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), vd), vm));
  }
};

// The same in one 16-float store.
struct V16 {
  static constexpr int kBytes = 64;
  template <bool kStream>
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) void store16(float* y, __m128i q, float d) {
    store_ps<kStream>(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(d)));
  }
  template <bool kStream>
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) void store16_minus(float* y, __m128i q, float d,
                                                                                   float m) {
    store_ps<kStream>(y, _mm512_sub_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(d)),
                                       _mm512_set1_ps(m)));
  }
};

template <class V, bool kStream>
QB_KERNEL_TARGET void q2_K_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  constexpr int64_t kBlock = sizeof(ggml::BlockQ2_K);
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i m2 = _mm256_set1_epi8(0x03);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK_K) {
      const float d = _cvtsh_ss(ggml::load_u16(blk + 80)), dmin = _cvtsh_ss(ggml::load_u16(blk + 82));
      float dl[16], ml[16];  // per sub-block: d*(scale nibble), dmin*(min nibble)
      for (int j = 0; j < 16; ++j) {
        int sc = blk[j] & 15, mn = blk[j] >> 4;
        // Mutant q2_K_dq2_scale_min_swapped: scale from the high nibble, min from the low one.
        if constexpr (QB_MUTANT_ON(q2_K_dq2_scale_min_swapped)) std::swap(sc, mn);
        // Mutant q2_K_dq512_second_half_scale: odd sub-blocks take the preceding sub-block's scale.
        if (j % 2 == 1 && QB_MUTANT_ON(q2_K_dq512_second_half_scale)) sc = blk[j - 1] & 15;
        dl[j] = d * static_cast<float>(sc);
        ml[j] = dmin * static_cast<float>(mn);
      }
      for (int h = 0; h < 2; ++h) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * h));
        for (int k = 0; k < 4; ++k) {  // elements 128h + 32k + 0..31: sub-blocks 8h + 2k, 8h + 2k + 1
          const __m256i q = _mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(2 * k)), m2);
          const int j = 8 * h + 2 * k;
          V::template store16_minus<kStream>(y + 128 * h + 32 * k, _mm256_castsi256_si128(q), dl[j], ml[j]);
          V::template store16_minus<kStream>(y + 128 * h + 32 * k + 16, _mm256_extracti128_si256(q, 1), dl[j + 1],
                                             ml[j + 1]);
        }
      }
    }
  }
}

template <class V, bool kStream>
QB_KERNEL_TARGET void q3_K_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  constexpr int64_t kBlock = sizeof(ggml::BlockQ3_K);
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i m2 = _mm256_set1_epi8(0x03), bit2 = _mm256_set1_epi8(0x04);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK_K) {
      const float d = _cvtsh_ss(ggml::load_u16(blk + 108));
      alignas(32) int16_t sc[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(sc), q3_K_scales16(blk + 96));
      float dl[16];
      for (int j = 0; j < 16; ++j) dl[j] = d * static_cast<float>(sc[j]);
      const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk));
      for (int h = 0; h < 2; ++h) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 + 32 * h));
        for (int k = 0; k < 4; ++k) {  // elements 128h + 32k + 0..31: sub-blocks 8h + 2k, 8h + 2k + 1
          const __m256i low = _mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(2 * k)), m2);
          const __m256i high = _mm256_and_si256(move_bit(hm, 4 * h + k, 2), bit2);
          // Mutant q3_K_dq2_high_bit_inverted: the hmask bit read inverted (a set bit means 4 lower).
          const __m256i code = QB_MUTANT_ON(q3_K_dq2_high_bit_inverted) ? _mm256_xor_si256(high, bit2) : high;
          const __m256i q = _mm256_sub_epi8(_mm256_or_si256(low, code), bit2);
          const int j = 8 * h + 2 * k;
          V::template store16<kStream>(y + 128 * h + 32 * k, _mm256_castsi256_si128(q), dl[j]);
          V::template store16<kStream>(y + 128 * h + 32 * k + 16, _mm256_extracti128_si256(q, 1), dl[j + 1]);
        }
      }
    }
  }
}

template <class V, bool kStream>
QB_KERNEL_TARGET void q4_K_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  constexpr int64_t kBlock = sizeof(ggml::BlockQ4_K);
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK_K) {
      const float d = _cvtsh_ss(ggml::load_u16(blk)), dmin = _cvtsh_ss(ggml::load_u16(blk + 2));
      const uint8_t* scales = blk + 4;
      for (int c = 0; c < 4; ++c) {  // 64 elements: low nibbles of qs[32c..], then high nibbles
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
        constexpr bool swap = QB_MUTANT_ON(q4_K_dq2_nibble_halves_swapped);
        // Codes 0..15: sign extension as int8 gives the same values as zero extension.
        const __m256i q[2] = {_mm256_and_si256(swap ? _mm256_srli_epi16(raw, 4) : raw, m4),
                              _mm256_and_si256(swap ? raw : _mm256_srli_epi16(raw, 4), m4)};
        for (int half = 0; half < 2; ++half) {
          uint8_t sc, m;
          ggml::get_scale_min_k4(2 * c + half, scales, sc, m);
          const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
          // Mutant q4_K_dq512_min_plus: the high-nibble sub-block's min added instead of subtracted.
          const float m1_used = half == 1 && QB_MUTANT_ON(q4_K_dq512_min_plus) ? -m1 : m1;
          float* ys = y + 64 * c + 32 * half;
          V::template store16_minus<kStream>(ys, _mm256_castsi256_si128(q[half]), d1, m1_used);
          V::template store16_minus<kStream>(ys + 16, _mm256_extracti128_si256(q[half], 1), d1, m1_used);
        }
      }
    }
  }
}

template <class V, bool kStream>
QB_KERNEL_TARGET void q5_K_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  constexpr int64_t kBlock = sizeof(ggml::BlockQ5_K);
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK_K) {
      const float d = _cvtsh_ss(ggml::load_u16(blk)), dmin = _cvtsh_ss(ggml::load_u16(blk + 2));
      const uint8_t* scales = blk + 4;
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
      for (int c = 0; c < 4; ++c) {  // 64 elements: low nibbles of qs[32c..] + bit 2c, high nibbles + bit 2c + 1
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48 + 32 * c));
        // Mutant q5_K_dq2_high_bit_same: the high-nibble sub-block takes bit 2c too, not 2c + 1.
        const int hi_bit = QB_MUTANT_ON(q5_K_dq2_high_bit_same) ? 2 * c : 2 * c + 1;
        const __m256i q[2] = {
            _mm256_or_si256(_mm256_and_si256(raw, m4), _mm256_and_si256(move_bit(qh, 2 * c, 4), bit4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4),
                            _mm256_and_si256(move_bit(qh, hi_bit, 4), bit4))};
        for (int half = 0; half < 2; ++half) {
          uint8_t sc, m;
          ggml::get_scale_min_k4(2 * c + half, scales, sc, m);
          // Mutant q5_K_dq512_min_from_d: the min scaled by d instead of dmin.
          const float d1 = d * static_cast<float>(sc),
                      m1 = (QB_MUTANT_ON(q5_K_dq512_min_from_d) ? d : dmin) * static_cast<float>(m);
          float* ys = y + 64 * c + 32 * half;
          V::template store16_minus<kStream>(ys, _mm256_castsi256_si128(q[half]), d1, m1);
          V::template store16_minus<kStream>(ys + 16, _mm256_extracti128_si256(q[half], 1), d1, m1);
        }
      }
    }
  }
}

template <class V, bool kStream>
QB_KERNEL_TARGET void q6_K_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  constexpr int64_t kBlock = sizeof(ggml::BlockQ6_K);
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03), off = _mm256_set1_epi8(32);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK_K) {
      const float d = _cvtsh_ss(ggml::load_u16(blk + 208));
      const int8_t* scales = reinterpret_cast<const int8_t*>(blk + 192);
      for (int h = 0; h < 2; ++h) {
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
        for (int s = 0; s < 4; ++s) {  // elements 128h + 32s + l: ql[64h + 32(s&1) + l], nibble s>>1
          const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32 * (s & 1)));
          const __m256i low = _mm256_and_si256(s < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
          const int hshift = QB_MUTANT_ON(q6_K_dq2_high_pair_shift) ? 2 * (s ^ 1) : 2 * s;
          // Pairs of at most 3 shifted by 4 stay inside their byte.
          const __m256i high =
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(hshift)), m2), 4);
          const __m256i q = _mm256_sub_epi8(_mm256_or_si256(low, high), off);
          const int j = 8 * h + 2 * s;  // sub-block of the group's first 16 elements
          const int j_hi = QB_MUTANT_ON(q6_K_dq512_scale_repeat) ? j : j + 1;
          V::template store16<kStream>(y + 128 * h + 32 * s, _mm256_castsi256_si128(q),
                                       d * static_cast<float>(scales[j]));
          V::template store16<kStream>(y + 128 * h + 32 * s + 16, _mm256_extracti128_si256(q, 1),
                                       d * static_cast<float>(scales[j_hi]));
        }
      }
    }
  }
}

template <class V, bool kStream>
QB_KERNEL_TARGET void tq2_0_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  constexpr int64_t kBlock = sizeof(ggml::BlockTQ2_0);
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i m2 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK_K) {
      // Mutant tq2_0_dq512_d_unit: the scale d left out (d taken as 1; the codes times 1 are exact).
      const float d = QB_MUTANT_ON(tq2_0_dq512_d_unit) ? 1.0f : _cvtsh_ss(ggml::load_u16(blk + 64));
      for (int c = 0; c < 2; ++c) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 * c));
        for (int n = 0; n < 4; ++n) {
          const int shift = QB_MUTANT_ON(tq2_0_dq2_pairs_reversed) ? 2 * (3 - n) : 2 * n;
          const __m256i q = _mm256_sub_epi8(_mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(shift)), m2), one);
          V::template store16<kStream>(y + 128 * c + 32 * n, _mm256_castsi256_si128(q), d);
          V::template store16<kStream>(y + 128 * c + 32 * n + 16, _mm256_extracti128_si256(q, 1), d);
        }
      }
    }
  }
}

template <class V, bool kStream>
QB_KERNEL_TARGET void tq1_0_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i one = _mm256_set1_epi8(1);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, tq1_0::kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += tq1_0::kBlock, y += ggml::kQK_K) {
      const float d = _cvtsh_ss(ggml::load_u16(blk + tq1_0::kD));
      __m256i t[8];
      tq1_0::trits(blk, t);
      for (int k = 0; k < 8; ++k) {
        const __m256i q = _mm256_sub_epi8(t[k], one);
        V::template store16<kStream>(y + 32 * k, _mm256_castsi256_si128(q), d);
        V::template store16<kStream>(y + 32 * k + 16, _mm256_extracti128_si256(q, 1), d);
      }
    }
  }
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c].
template <class V>
inline void q2_K_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<V::kBytes, q2_K_rows<V, true>, q2_K_rows<V, false>>(w, r0, r1, out);
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c].
template <class V>
inline void q3_K_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<V::kBytes, q3_K_rows<V, true>, q3_K_rows<V, false>>(w, r0, r1, out);
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c].
template <class V>
inline void q4_K_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<V::kBytes, q4_K_rows<V, true>, q4_K_rows<V, false>>(w, r0, r1, out);
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c].
template <class V>
inline void q5_K_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<V::kBytes, q5_K_rows<V, true>, q5_K_rows<V, false>>(w, r0, r1, out);
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c].
template <class V>
inline void q6_K_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<V::kBytes, q6_K_rows<V, true>, q6_K_rows<V, false>>(w, r0, r1, out);
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c].
template <class V>
inline void tq1_0_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<V::kBytes, tq1_0_rows<V, true>, tq1_0_rows<V, false>>(w, r0, r1, out);
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c].
template <class V>
inline void tq2_0_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<V::kBytes, tq2_0_rows<V, true>, tq2_0_rows<V, false>>(w, r0, r1, out);
}

}  // namespace
}  // namespace qb::x86::kquant

// The row loop of the q4_1, q5_0, q5_1 and mxfp4 fp32 dequantizations (AVX2 and AVX-512),
// templated on the format's block unpacking (Q4_1, Q5_0, Q5_1, Mxfp4 below) and on the vector width
// (V8: 8 floats, V16: 16 floats).
//
// Per block: the 32 codes as int8 in element order (exact as floats), times the block's scale
// widened to fp32 (vcvtph2ps widens like fp16_to_f32, NaN payloads kept; mxfp4's E8M0 half scale
// is built as bits like the reference's e8m0_half), then for q4_1 and q5_1 + m: one vmulps (and one
// vaddps) per element, the reference's roundings on the same operands, with a NaN product the first
// operand of the addition as the reference's scaled_plus_min takes it. So the output is
// bit-identical to the reference at either width.
//
// Every function here carries the including kernel's ISA target, so the including file defines
// QB_KERNEL_TARGET (QB_TARGET_AVX2 or QB_TARGET_AVX512) first and includes this header once.
// Everything is in an unnamed namespace: each kernel file's copy is its own, compiled for its
// target and with its own mutant switches (a mutant plugin compiles one kernel file).
#pragma once
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/fp4.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/mxfp4.h"
#include "reference/ggml/q4_1.h"
#include "reference/ggml/q5_0.h"
#include "reference/ggml/q5_1.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including legacy_dequant.h"
#endif

namespace qb::x86::legacy {
namespace {

// 8-float vectors: a block's 32 codes as 4 vectors.
struct V8 {
  using Vec = __m256;
  static constexpr int kVecs = 4;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) Vec set1(float v) { return _mm256_set1_ps(v); }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) void floats(__m256i q, Vec* f) {
    f[0] = codes_ps<0>(q);
    f[1] = codes_ps<1>(q);
    f[2] = codes_ps<2>(q);
    f[3] = codes_ps<3>(q);
  }
};

// 16-float vectors: a block's 32 codes as 2 vectors.
struct V16 {
  using Vec = __m512;
  static constexpr int kVecs = 2;
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) Vec set1(float v) { return _mm512_set1_ps(v); }
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) void floats(__m256i q, Vec* f) {
    f[0] = codes_ps512<0>(q);
    f[1] = codes_ps512<1>(q);
  }
};

// A format's unpacking: kBlock (stored bytes per block), kMin (value q*d + m rather than q*d),
// codes (32 int8 codes in element order), d, and for kMin formats m.

// q4_1 (d, m, 16 bytes of nibbles): codes 0..15.
struct Q4_1 {
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ4_1);
  static constexpr bool kMin = true;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    return nibbles(blk + 4);
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) float d(const uint8_t* blk) {
    return _cvtsh_ss(ggml::load_u16(blk));
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) float m(const uint8_t* blk) {
    return _cvtsh_ss(ggml::load_u16(blk + (QB_MUTANT_ON(q4_1_dq2_min_from_d) ? 0 : 2)));
  }
};

// q5_1 (d, m, qh, 16 bytes of nibbles): codes 0..31 (nibble | bit 4 from qh).
struct Q5_1 {
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ5_1);
  static constexpr bool kMin = true;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    return _mm256_or_si256(nibbles(blk + 8), fifth_bits(blk + 4));
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) float d(const uint8_t* blk) {
    return _cvtsh_ss(ggml::load_u16(blk));
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) float m(const uint8_t* blk) {
    return _cvtsh_ss(ggml::load_u16(blk + 2));
  }
};

// q5_0 (d, qh, 16 bytes of nibbles): 5-bit codes (nibble | bit 4 from qh) minus 16, -16..15.
struct Q5_0 {
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ5_0);
  static constexpr bool kMin = false;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    const __m256i high = QB_MUTANT_ON(q5_0_dq2_fifth_bit_dropped) ? _mm256_setzero_si256() : fifth_bits(blk + 2);
    return _mm256_sub_epi8(_mm256_or_si256(nibbles(blk + 6), high), _mm256_set1_epi8(16));
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) float d(const uint8_t* blk) {
    return _cvtsh_ss(ggml::load_u16(blk));
  }
};

// mxfp4 (e, 16 bytes of nibbles): the nibbles index the FP4 values (vpshufb); d = e8m0_half(e).
struct Mxfp4 {
  static constexpr int64_t kBlock = sizeof(ggml::BlockMxfp4);
  static constexpr bool kMin = false;
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    const __m256i table =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kValuesFp4)));
    return _mm256_shuffle_epi8(table, nibbles(blk + 1));
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) float d(const uint8_t* blk) {
    return ggml::e8m0_half(blk[0]);
  }
};

template <class Format, class V, bool kStream>
QB_KERNEL_TARGET void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  constexpr int kLanes = 32 / V::kVecs;
  const int64_t nb = w->cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, 32, Format::kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += Format::kBlock, y += 32) {
      const typename V::Vec d = V::set1(Format::d(blk));
      typename V::Vec f[V::kVecs];
      V::floats(Format::codes(blk), f);
      if constexpr (Format::kMin) {
        const typename V::Vec m = V::set1(Format::m(blk));
        for (int i = 0; i < V::kVecs; ++i) store_ps<kStream>(y + kLanes * i, V::add(V::mul(f[i], d), m));
      } else {
        for (int i = 0; i < V::kVecs; ++i) store_ps<kStream>(y + kLanes * i, V::mul(f[i], d));
      }
    }
  }
}

// Op::dequant rows [r0, r1) of w to fp32, out[r * w->cols + c] (spec sections 3.2-3.4, 3.9).
template <class Format, class V>
inline void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<sizeof(typename V::Vec), dequant_rows<Format, V, true>, dequant_rows<Format, V, false>>(
      w, r0, r1, out);
}

}  // namespace
}  // namespace qb::x86::legacy

// Row loops of the q4_0 and q8_0 16-bit decodes (Op::dequant_f16, Op::dequant_bf16), one per ISA,
// templated on the store (optimized/x86/store16.h). The fp32 decode is the fp32 kernels':
// (q - 8) * d and q * d, both exact in fp32 (at most 4 + 11 and 8 + 11 significant bits, within
// fp32's exponent range for every fp16 d), so the store's one rounding is the only one.
#pragma once
#include "optimized/x86/intrinsics.h"

#include "optimized/x86/store16.h"
#include "optimized/x86/target.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86::ggml_x86 {

template <class Store>
QB_TARGET_AVX2 void q4_0_decode16_avx2(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
  const int64_t nb = w->cols / ggml::kQK4_0;
  const __m128i m4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK4_0, sizeof(ggml::BlockQ4_0));
    uint16_t* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ4_0), y += ggml::kQK4_0) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
      const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, m4), eight);
      const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), eight);
      const __m128i q[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
      for (int k = 0; k < 4; ++k) Store::store(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q[k])), d));
    }
  }
}

template <class Store>
QB_TARGET_AVX512 void q4_0_decode16_avx512(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
  const int64_t nb = w->cols / ggml::kQK4_0;
  const __m128i m4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK4_0, sizeof(ggml::BlockQ4_0));
    uint16_t* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ4_0), y += ggml::kQK4_0) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
      const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, m4), eight);
      const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), eight);
      Store::store(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), d));
      Store::store(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), d));
    }
  }
}

template <class Store>
QB_TARGET_AVX2 void q8_0_decode16_avx2(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
  const int64_t nb = w->cols / ggml::kQK8_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK8_0, sizeof(ggml::BlockQ8_0));
    uint16_t* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ8_0), y += ggml::kQK8_0) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      for (int j = 0; j < ggml::kQK8_0; j += 8) {
        const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + j));
        Store::store(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
      }
    }
  }
}

template <class Store>
QB_TARGET_AVX512 void q8_0_decode16_avx512(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
  const int64_t nb = w->cols / ggml::kQK8_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK8_0, sizeof(ggml::BlockQ8_0));
    uint16_t* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ8_0), y += ggml::kQK8_0) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      for (int j = 0; j < ggml::kQK8_0; j += 16) {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2 + j));
        Store::store(y + j, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d));
      }
    }
  }
}

}  // namespace qb::x86::ggml_x86

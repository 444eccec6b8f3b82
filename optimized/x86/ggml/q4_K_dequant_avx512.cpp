// q4_K dequantization, AVX-512: q4_K_dequant_avx2.cpp at 16 floats per vector. Per 32-element
// sub-block d1 = d*sc and m1 = dmin*m are the reference's scalar multiplies, then y = d1*q - m1
// per element (vmulps, vsubps, never an FMA), so the output is bit-identical; vcvtph2ps widens
// the fp16 scales exactly like fp16_to_f32. Large outputs use non-temporal stores when aligned.
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/q4_K.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockQ4_K);

// 32 levels (one byte each, 0..15) of one sub-block to y[0..31]: y = d1*q - m1.
template <bool kStream>
QB_TARGET_AVX512 static inline __attribute__((always_inline)) void sub_block(float* y, __m256i q, float d1, float m1) {
  const __m512 vd = _mm512_set1_ps(d1), vm = _mm512_set1_ps(m1);
  const __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
  for (int h = 0; h < 2; ++h) {
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(halves[h]));
    store_ps<kStream>(y + 16 * h, _mm512_sub_ps(_mm512_mul_ps(v, vd), vm));
  }
}

template <bool kStream>
QB_TARGET_AVX512 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
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
        const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
        uint8_t sc, m;
        ggml::get_scale_min_k4(2 * c, scales, sc, m);
        sub_block<kStream>(y + 64 * c, lo, d * static_cast<float>(sc), dmin * static_cast<float>(m));
        ggml::get_scale_min_k4(2 * c + 1, scales, sc, m);
        // Mutant q4_K_dq512_min_plus: the min added instead of subtracted.
        const float m1 = dmin * static_cast<float>(m);
        sub_block<kStream>(y + 64 * c + 32, hi, d * static_cast<float>(sc), QB_MUTANT_ON(q4_K_dq512_min_plus) ? -m1 : m1);
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX512 void q4_K_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<64, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

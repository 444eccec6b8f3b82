// q6_K dequantization, AVX2. Per 32-element group (half h, quarter s) the 6-bit levels are
// assembled from 32 low-nibble bytes of ql and 2-bit pairs of qh, minus 32, as int8; per
// 16-element sub-block d1 = d*scale is the reference's scalar multiply, then y = d1*q: one
// vmulps, the reference's second rounding (spec 3.16), so the output is bit-identical;
// vcvtph2ps widens d exactly (quieting NaNs, keeping payloads) like fp16_to_f32. Large outputs
// use non-temporal stores when aligned (optimized/x86/stream_store.h).
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q6_K.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockQ6_K);

// 16 signed levels to y[0..15]: y = d1*q.
template <bool kStream>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store16(float* y, __m128i q, float d1) {
  const __m256 vd = _mm256_set1_ps(d1);
  store_ps<kStream>(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), vd));
  store_ps<kStream>(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), vd));
}

template <bool kStream>
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
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
          const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(hshift)), m2), 4);
          const __m256i q = _mm256_sub_epi8(_mm256_or_si256(low, high), off);
          const int j = 8 * h + 2 * s;  // sub-block of the group's first 16 elements
          store16<kStream>(y + 128 * h + 32 * s, _mm256_castsi256_si128(q), d * static_cast<float>(scales[j]));
          store16<kStream>(y + 128 * h + 32 * s + 16, _mm256_extracti128_si256(q, 1), d * static_cast<float>(scales[j + 1]));
        }
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void q6_K_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

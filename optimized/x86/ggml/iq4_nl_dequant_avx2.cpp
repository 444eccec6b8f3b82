// iq4_nl dequantization, AVX2: each nibble looked up in kvalues_iq4nl by vpshufb (16 int8 levels,
// exact), widened to int32 and converted (exact), then one vmulps by the vcvtph2ps-widened scale
// per element: the reference's single IEEE multiply d * level with the same operand values, and
// vcvtph2ps widens exactly (quieting NaNs, keeping payloads) like fp16_to_f32, so the output is
// bit-identical, NaNs included. Large outputs use non-temporal stores when aligned
// (optimized/x86/stream_store.h).
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq4_nl.h"
#include "reference/ggml/iq_tables.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockIQ4_NL);

// Low 8 int8 levels of v times d, to y[0..7].
template <bool kStream>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store8(float* y, __m128i v, __m256 d) {
  store_ps<kStream>(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)), d));
}

template <bool kStream>
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK4_NL;
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kvalues_iq4nl));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK4_NL, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK4_NL) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
      constexpr bool swap = QB_MUTANT_ON(iq4_nl_dq2_nibble_swap);
      const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(swap ? _mm_srli_epi16(raw, 4) : raw, m4));
      const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(swap ? raw : _mm_srli_epi16(raw, 4), m4));
      store8<kStream>(y, lo, d);
      store8<kStream>(y + 8, _mm_srli_si128(lo, 8), d);
      store8<kStream>(y + 16, hi, d);
      store8<kStream>(y + 24, _mm_srli_si128(hi, 8), d);
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void iq4_nl_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

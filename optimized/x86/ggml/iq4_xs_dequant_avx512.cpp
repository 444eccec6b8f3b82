// iq4_xs dequantization, AVX-512. Per 32-element sub-block the reference computes dl = d*(ls - 32)
// once (scalar, the same IEEE multiply here), then y = dl * level per element: levels looked up
// in kvalues_iq4nl by vpshufb (exact), widened and converted (exact), one vmulps each. Same
// operations on the same values, and vcvtph2ps widens the fp16 d exactly (quieting NaNs, keeping
// payloads) like fp16_to_f32, so the output is bit-identical. Large outputs use non-temporal
// stores when aligned (optimized/x86/stream_store.h).
#include "optimized/x86/intrinsics.h"

#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq4_xs.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockIQ4_XS);

// Sub-block ib's signed scale ls - 32 (4 low bits in scales_l, 2 high bits in scales_h).
inline int signed_scale(const uint8_t* blk, int ib) {
  const int low = (blk[4 + ib / 2] >> (4 * (ib % 2))) & 15;
  const int high = (ggml::load_u16(blk + 2) >> (2 * ib)) & 3;
  return (low | high << 4) - 32;
}

template <bool kStream>
QB_TARGET_AVX512 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kvalues_iq4nl));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock) {
      const float d = _cvtsh_ss(ggml::load_u16(blk));
      for (int ib = 0; ib < ggml::kQK_K / 32; ++ib, y += 32) {
        const __m512 dl = _mm512_set1_ps(d * static_cast<float>(signed_scale(blk, ib)));
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 8 + 16 * ib));
        const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(raw, m4));
        const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(raw, 4), m4));
        store_ps<kStream>(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), dl));
        store_ps<kStream>(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), dl));
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX512 void iq4_xs_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<64, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

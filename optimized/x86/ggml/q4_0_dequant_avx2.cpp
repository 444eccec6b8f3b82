// q4_0 dequantization, AVX2: nibbles minus 8 as int8, widened to int32 and converted (exact), then
// one vmulps by the vcvtph2ps-widened scale per element. Same single IEEE multiply as the reference
// with the same operand values, and vcvtph2ps widens exactly (quieting NaNs, keeping payloads)
// like fp16_to_f32, so the output is bit-identical, NaNs included.
// Large outputs are written with non-temporal stores when aligned (optimized/x86/stream_store.h).
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

// Low 8 int8 of q times d, to y[0..7].
template <bool kStream>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store8(float* y, __m128i q,
                                                                        __m256 d) {
  store_ps<kStream>(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
}

// Mutant q4_0_dq2_subnormal_flush: a subnormal fp16 scale becomes a zero of its sign.
inline uint16_t flush_subnormal(uint16_t h) { return (h & 0x7C00) == 0 ? h & 0x8000 : h; }

template <bool kStream>
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK4_0;
  const __m128i m4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(QB_MUTANT_ON(q4_0_dq2_zero_point_7) ? 7 : 8);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK4_0, sizeof(ggml::BlockQ4_0));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ4_0), y += ggml::kQK4_0) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(QB_MUTANT_ON(q4_0_dq2_subnormal_flush)
                                                    ? flush_subnormal(ggml::load_u16(blk))
                                                    : ggml::load_u16(blk)));
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
      constexpr bool swap = QB_MUTANT_ON(q4_0_dq2_nibble_swap);
      const __m128i lo = _mm_sub_epi8(_mm_and_si128(swap ? _mm_srli_epi16(raw, 4) : raw, m4), eight);
      const __m128i hi = _mm_sub_epi8(_mm_and_si128(swap ? raw : _mm_srli_epi16(raw, 4), m4), eight);
      store8<kStream>(y, lo, d);
      store8<kStream>(y + 8, _mm_srli_si128(lo, 8), d);
      store8<kStream>(y + 16, hi, d);
      store8<kStream>(y + 24, _mm_srli_si128(hi, 8), d);
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void q4_0_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

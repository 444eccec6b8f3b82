// q4_0 dequantization, AVX-512: nibbles minus 8 as int8, widened to int32 and converted (exact),
// then one vmulps by the vcvtph2ps-widened scale per element. Same single IEEE multiply as the
// reference with the same operand values, and vcvtph2ps widens exactly (quieting NaNs, keeping
// payloads) like fp16_to_f32, so the output is bit-identical, NaNs included.
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

template <bool kStream>
QB_TARGET_AVX512 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK4_0;
  const __m128i m4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK4_0, sizeof(ggml::BlockQ4_0));
    float* y = out + (QB_MUTANT_ON(q4_0_dq512_out_row_r0) ? r - r0 : r) * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ4_0), y += ggml::kQK4_0) {
      const uint16_t dh = ggml::load_u16(blk);
      const bool finite = (dh & 0x7C00) != 0x7C00;
      const __m512 d = _mm512_set1_ps(QB_MUTANT_ON(q4_0_dq512_nonfinite_scale_zero) && !finite ? 0.0f : _cvtsh_ss(dh));
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
      const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, m4), eight);
      const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), eight);
      store_ps<kStream>(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), d));
      store_ps<kStream>(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), d));
    }
  }
}

}  // namespace

QB_TARGET_AVX512 void q4_0_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<64, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

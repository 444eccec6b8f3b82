// q8_0 dequantization, AVX-512: int8 widened to int32 and converted (exact), then one vmulps by
// the vcvtph2ps-widened scale per element. Same single IEEE multiply as the reference with the
// same operand values, and vcvtph2ps widens exactly (quieting NaNs, keeping payloads) like
// fp16_to_f32, so the output is bit-identical, NaNs included.
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
  const int64_t nb = w->cols / ggml::kQK8_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk =
        ggml::row_blocks(w, QB_MUTANT_ON(q8_0_dq512_src_row_r0) ? r - r0 : r, ggml::kQK8_0, sizeof(ggml::BlockQ8_0));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ8_0), y += ggml::kQK8_0) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      for (int j = 0; j < ggml::kQK8_0; j += 16) {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2 + j));
        const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d);
        store_ps<kStream>(y + j, v);
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX512 void q8_0_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<64, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

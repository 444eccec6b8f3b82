// q8_0 dequantization, AVX2: int8 widened to int32 and converted (exact), then one vmulps by the
// vcvtph2ps-widened scale per element. Same single IEEE multiply as the reference with the same
// operand values, and vcvtph2ps widens exactly (quieting NaNs, keeping payloads) like
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
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK8_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK8_0, sizeof(ggml::BlockQ8_0));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ8_0), y += ggml::kQK8_0) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      for (int j = 0; j < ggml::kQK8_0; j += 8) {
        __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + j));
        if constexpr (QB_MUTANT_ON(q8_0_dq2_m128_saturate)) q = _mm_max_epi8(q, _mm_set1_epi8(-127));
        const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d);
        store_ps<kStream>(y + j, v);
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void q8_0_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

// mxfp4 dequantization, AVX2: the nibbles index the FP4 table with vpshufb (int8 values, exact as
// floats), times the E8M0 half scale built as bits like the reference's e8m0_half: one vmulps per
// element on the same operands, so the output is bit-identical.
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/fp4.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/mxfp4.h"

namespace qb::x86 {
namespace {

template <bool kStream>
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQKMxfp4;
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kValuesFp4)));
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQKMxfp4, sizeof(ggml::BlockMxfp4));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockMxfp4), y += ggml::kQKMxfp4) {
      const __m256 d = _mm256_set1_ps(ggml::e8m0_half(blk[0]));
      const __m256i q = _mm256_shuffle_epi8(table, legacy::nibbles(blk + 1));
      store_ps<kStream>(y, _mm256_mul_ps(legacy::codes_ps<0>(q), d));
      store_ps<kStream>(y + 8, _mm256_mul_ps(legacy::codes_ps<1>(q), d));
      store_ps<kStream>(y + 16, _mm256_mul_ps(legacy::codes_ps<2>(q), d));
      store_ps<kStream>(y + 24, _mm256_mul_ps(legacy::codes_ps<3>(q), d));
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void mxfp4_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

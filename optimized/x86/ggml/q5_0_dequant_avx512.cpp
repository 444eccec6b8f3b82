// q5_0 dequantization, AVX-512: the AVX2 kernel (q5_0_dequant_avx2.cpp, whose comment says why the
// output is bit-identical to the reference) with 16-float vectors: the same operations per element.
#include "optimized/x86/intrinsics.h"

#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q5_0.h"

namespace qb::x86 {
namespace {

template <bool kStream>
QB_TARGET_AVX512 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK5_0;
  const __m256i sixteen = _mm256_set1_epi8(16);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK5_0, sizeof(ggml::BlockQ5_0));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ5_0), y += ggml::kQK5_0) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      const __m256i high = legacy::fifth_bits(blk + 2);
      const __m256i q = _mm256_sub_epi8(_mm256_or_si256(legacy::nibbles(blk + 6), high), sixteen);
      store_ps<kStream>(y, _mm512_mul_ps(legacy::codes_ps512<0>(q), d));
      store_ps<kStream>(y + 16, _mm512_mul_ps(legacy::codes_ps512<1>(q), d));
    }
  }
}

}  // namespace

QB_TARGET_AVX512 void q5_0_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<64, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

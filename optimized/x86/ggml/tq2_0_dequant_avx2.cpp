// tq2_0 dequantization, AVX2. Byte 32c + m holds elements 128c + 32n + m at bits 2n..2n+1, so
// shifting the block's 32-byte half c right by 2n and masking gives elements 128c + 32n + 0..31 in
// order; code - 1 as int8, widened and converted (exact), times d: the reference's single
// multiply (spec 3.19), bit-identical; vcvtph2ps widens d exactly like fp16_to_f32. Large outputs
// use non-temporal stores when aligned (optimized/x86/stream_store.h).
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/tq2_0.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockTQ2_0);

template <bool kStream>
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK_K;
  const __m256i m2 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += kBlock, y += ggml::kQK_K) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk + 64)));
      for (int c = 0; c < 2; ++c) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32 * c));
        for (int n = 0; n < 4; ++n) {
          const int shift = QB_MUTANT_ON(tq2_0_dq2_pairs_reversed) ? 2 * (3 - n) : 2 * n;
          const __m256i q = _mm256_sub_epi8(_mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(shift)), m2), one);
          const __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
          for (int g = 0; g < 4; ++g) {
            const __m128i bytes = g % 2 == 0 ? halves[g / 2] : _mm_srli_si128(halves[g / 2], 8);
            store_ps<kStream>(y + 128 * c + 32 * n + 8 * g,
                              _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), d));
          }
        }
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void tq2_0_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

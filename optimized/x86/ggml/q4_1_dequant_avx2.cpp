// q4_1 dequantization, AVX2: nibbles (exact floats) times the vcvtph2ps-widened d, then + m, one
// vmulps and one vaddps per element: the reference's two roundings on the same operands. A NaN
// product stays first operand of the addition, as the reference's scaled_plus_min takes it, and
// vcvtph2ps widens like fp16_to_f32 (NaN payloads kept), so the output is bit-identical.
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q4_1.h"

namespace qb::x86 {
namespace {

template <bool kStream>
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK4_1;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK4_1, sizeof(ggml::BlockQ4_1));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(ggml::BlockQ4_1), y += ggml::kQK4_1) {
      const __m256 d = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk)));
      const __m256 m = _mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk + (QB_MUTANT_ON(q4_1_dq2_min_from_d) ? 0 : 2))));
      const __m256i q = legacy::nibbles(blk + 4);
      store_ps<kStream>(y, _mm256_add_ps(_mm256_mul_ps(legacy::codes_ps<0>(q), d), m));
      store_ps<kStream>(y + 8, _mm256_add_ps(_mm256_mul_ps(legacy::codes_ps<1>(q), d), m));
      store_ps<kStream>(y + 16, _mm256_add_ps(_mm256_mul_ps(legacy::codes_ps<2>(q), d), m));
      store_ps<kStream>(y + 24, _mm256_add_ps(_mm256_mul_ps(legacy::codes_ps<3>(q), d), m));
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void q4_1_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

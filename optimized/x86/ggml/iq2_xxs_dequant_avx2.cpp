// iq2_xxs dequantization, AVX2. Per 32-group the reference computes db = (d * (0.5f + s)) * 0.25f
// once (scalar, the same IEEE operations in the same order here), then y = (db * m) * (+-1.0f) per
// element, m the grid magnitude (exact in fp32): here one vmulps by db and a sign-bit flip where
// the sign bit is set, what the reference's binary does (iq_grid_x86.h), so the output is
// bit-identical (vcvtph2ps widens d exactly, quieting NaNs and keeping payloads, like
// fp16_to_f32). Large outputs use non-temporal stores when aligned (optimized/x86/stream_store.h).
#include "optimized/x86/intrinsics.h"

#include "optimized/mutation.h"
#include "optimized/x86/ggml/iq2_xxs_x86.h"
#include "optimized/x86/ggml/iq_grid_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

template <bool kStream>
QB_TARGET_AVX2 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK_K;
  const float half = QB_MUTANT_ON(iq2_xxs_dq2_scale_half_dropped) ? 0.0f : 0.5f;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, iq2_xxs::kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += iq2_xxs::kBlock) {
      const float d = _cvtsh_ss(ggml::load_u16(blk));
      for (int ib = 0; ib < ggml::kQK_K / 32; ++ib) {
        const uint32_t a = iq2_xxs::group_word(blk, ib);
        const __m256 db = _mm256_set1_ps((d * (half + static_cast<float>(a >> 28))) * 0.25f);
        const uint32_t signs = iq2_xxs::group_signs(a);
        for (int l = 0; l < 4; ++l, y += 8)
          store_ps<kStream>(y, iq_grid::decode8(iq2_xxs::grid_entry(blk, ib, l), signs >> (8 * l), db));
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX2 void iq2_xxs_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<32, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

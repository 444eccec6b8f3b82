// iq2_xxs dequantization, AVX-512: the AVX2 kernel at 16 elements (two 8-groups) per vector. Per
// 32-group db = (d * (0.5f + s)) * 0.25f once (scalar, the reference's operations in its order),
// then y = (db * m) * (+-1.0f): the reference's multiply, then a sign-bit flip as the
// reference's binary does (iq_grid_x86.h), so the output is bit-identical (vcvtph2ps widens d exactly, quieting NaNs and keeping payloads, like
// fp16_to_f32). Large outputs use non-temporal stores when aligned (optimized/x86/stream_store.h).
#include "optimized/x86/intrinsics.h"

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
QB_TARGET_AVX512 void dequant_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / ggml::kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = ggml::row_blocks(w, r, ggml::kQK_K, iq2_xxs::kBlock);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += iq2_xxs::kBlock) {
      const float d = _cvtsh_ss(ggml::load_u16(blk));
      for (int ib = 0; ib < ggml::kQK_K / 32; ++ib) {
        const uint32_t a = iq2_xxs::group_word(blk, ib);
        const __m512 db = _mm512_set1_ps((d * (0.5f + static_cast<float>(a >> 28))) * 0.25f);
        const uint32_t signs = iq2_xxs::group_signs(a);
        for (int h = 0; h < 2; ++h, y += 16) {
          const __m128i mags = _mm_set_epi64x(static_cast<int64_t>(iq2_xxs::grid_entry(blk, ib, 2 * h + 1)),
                                              static_cast<int64_t>(iq2_xxs::grid_entry(blk, ib, 2 * h)));
          store_ps<kStream>(y, iq_grid::decode16(mags, signs >> (16 * h), db));
        }
      }
    }
  }
}

}  // namespace

QB_TARGET_AVX512 void iq2_xxs_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_with_stream_stores<64, dequant_rows<true>, dequant_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

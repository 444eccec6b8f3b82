// bitnet_hf dequant, AVX-512 (16 floats per store): out = (code - 1) * weight_scale, or
// (code - 1) / weight_scale under scale_rule divide (params[0] == 1), bit-identical with the
// reference (bitnet_x86.h: one IEEE multiply or divide per element by the widened bf16 scale).
// Layout (spec 2): byte (i, c) of the [P = ceil(rows/4), cols] weight holds rows i + kP in bits
// 2k+1:2k. The call's rows are walked by packed row (bitnet_x86.h hf_segments), so each weight
// byte is read once and widened once for the up to 4 output rows it holds; padding fields (rows
// >= rows) are never written.
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;

template <bool kStream, bool kDivide>
QB_TARGET_AVX512 void hf_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Scale ws = hf_weight_scale(w);
  const __m512 table = t_table16(), sc = _mm512_set1_ps(ws.value);
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  const int64_t cols = w->cols, p = (w->rows + 3) / 4;
  HfSegment seg[8];
  const int n = hf_segments(w->rows, r0, r1, seg);
  for (int s = 0; s < n; ++s)
    for (int64_t i = seg[s].i0; i < seg[s].i1; ++i) {
      const uint8_t* src = data + i * cols;
      float* o[4];
      int shift[4];
      for (int f = 0; f < seg[s].nf; ++f) {
        const int k = QB_MUTANT_ON(bitnet_hf_dq512_fields_reversed) ? 3 - (seg[s].k0 + f) : seg[s].k0 + f;
        o[f] = out + (i + (seg[s].k0 + f) * p) * cols;
        shift[f] = 2 * k;
      }
      int64_t c = 0;
      for (; c + 16 <= cols; c += 16) {
        const __m512i v = bytes16(src + c);
        for (int f = 0; f < seg[s].nf; ++f) store_ps<kStream>(o[f] + c, decode16<kDivide>(v, shift[f], table, sc));
      }
      if (c < cols) {  // never with streaming stores (cols % 16 == 0 there)
        const __m512i v = bytes16(src + c, cols - c);
        for (int f = 0; f < seg[s].nf; ++f)
          _mm512_mask_storeu_ps(o[f] + c, mask16(cols - c), decode16<kDivide>(v, shift[f], table, sc));
      }
    }
}

}  // namespace

QB_TARGET_AVX512 void bitnet_hf_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const bool divide = hf_weight_scale(w).divide;
  // Streaming stores need every row aligned: an aligned first row and rows of whole vectors.
  if (w->cols % 16 == 0 && use_stream_stores(out + r0 * w->cols, (r1 - r0) * w->cols, 64)) {
    divide ? hf_rows<true, true>(w, r0, r1, out) : hf_rows<true, false>(w, r0, r1, out);
    _mm_sfence();
  } else {
    divide ? hf_rows<false, true>(w, r0, r1, out) : hf_rows<false, false>(w, r0, r1, out);
  }
}

}  // namespace qb::x86

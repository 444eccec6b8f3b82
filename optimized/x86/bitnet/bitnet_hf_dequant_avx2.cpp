// bitnet_hf dequant, AVX2 (8 floats per store): out = (code - 1) * weight_scale, or
// (code - 1) / weight_scale under scale_rule divide (params[0] == 1), bit-identical with the
// reference (bitnet_x86.h: one IEEE multiply or divide per element by the widened bf16 scale).
// Layout (spec 2): byte (i, c) of the [P = ceil(rows/4), cols] weight holds rows i + kP in bits
// 2k+1:2k. The call's rows are walked by packed row (bitnet_x86.h hf_segments), so each weight
// byte is read once and widened once for the up to 4 output rows it holds; padding fields (rows
// >= rows) are never written. The last cols % 8 columns of a row are decoded one by one, as the
// reference does.
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;

template <bool kStream, bool kDivide>
QB_TARGET_AVX2 void hf_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Scale ws = hf_weight_scale(w);
  const __m256 table = t_table8(), sc = _mm256_set1_ps(ws.value);
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
        o[f] = out + (i + (seg[s].k0 + f) * p) * cols;
        shift[f] = 2 * (seg[s].k0 + f);
      }
      int64_t c = 0;
      for (; c + 8 <= cols; c += 8) {
        const __m256i v = bytes8(src + c);
        for (int f = 0; f < seg[s].nf; ++f) store_ps<kStream>(o[f] + c, decode8<kDivide>(v, shift[f], table, sc));
      }
      for (; c < cols; ++c)  // never with streaming stores (cols % 8 == 0 there)
        for (int f = 0; f < seg[s].nf; ++f) {
          const auto t = static_cast<float>(((src[c] >> shift[f]) & 3) - 1);
          o[f][c] = kDivide ? t / ws.value : t * ws.value;
        }
    }
}

}  // namespace

QB_TARGET_AVX2 void bitnet_hf_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const bool divide = hf_weight_scale(w).divide;
  // Streaming stores need every row aligned: an aligned first row and rows of whole vectors.
  if (w->cols % 8 == 0 && use_stream_stores(out + r0 * w->cols, (r1 - r0) * w->cols, 32)) {
    divide ? hf_rows<true, true>(w, r0, r1, out) : hf_rows<true, false>(w, r0, r1, out);
    _mm_sfence();
  } else {
    divide ? hf_rows<false, true>(w, r0, r1, out) : hf_rows<false, false>(w, r0, r1, out);
  }
}

}  // namespace qb::x86

// bitnet_i2_s dequant, AVX-512 (16 floats per store): out = (code - 1) * scale, bit-identical with the
// reference (bitnet_x86.h: one IEEE multiply by the tail's f32 scale per element). Layout (spec 3):
// rows are whole 128-element blocks of 32 bytes (cols % 128 == 0), so rows [r0, r1) are blocks
// [r0 cols/128, r1 cols/128) of the flat tensor; element 32k + j of a block sits in bits
// 7-2k:6-2k of its byte j. Each 16 bytes are widened once and give 4 x 16 outputs.
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;

template <bool kStream>
QB_TARGET_AVX512 void i2s_rows(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Scale ws = i2s_weight_scale(w);
  const __m512 table = t_table16(), sc = _mm512_set1_ps(ws.value);
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  const int64_t b1 = r1 * (w->cols / 128);
  for (int64_t b = r0 * (w->cols / 128); b < b1; ++b) {
    const uint8_t* blk = data + 32 * b;
    float* o = out + 128 * b;
    for (int j = 0; j < 32; j += 16) {
      const __m512i v = bytes16(blk + j);
      for (int k = 0; k < 4; ++k) store_ps<kStream>(o + 32 * k + j, decode16<false>(v, 6 - 2 * k, table, sc));
    }
  }
}

}  // namespace

QB_TARGET_AVX512 void bitnet_i2_s_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  // Rows are 512-byte multiples: an aligned first row keeps every store aligned.
  dequant_with_stream_stores<64, i2s_rows<true>, i2s_rows<false>>(w, r0, r1, out);
}

}  // namespace qb::x86

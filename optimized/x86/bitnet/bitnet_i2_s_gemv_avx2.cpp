// bitnet_i2_s GEMV (m = 1), AVX2 (vpmaddubsw, vpmaddwd): S = sum code * q per row, then bitnet.h's
// epilogue_i2s with D = S - sum q (bitnet_x86.h says why the result is the reference's bits).
//
// Layout (spec 3): row r is cols/128 blocks of 32 bytes from byte r cols/4 (cols % 128 == 0);
// byte j of a block holds elements j, j+32, j+64, j+96 in bits 7:6, 5:4, 3:2, 1:0. One 32-byte
// load is one block; one 16-bit shift by 4 and 4 ands give its fields, field k meeting the 32
// activation bytes q[128b + 32k, +32) as they lie (no rearrangement): from v >> 4, code0 * 4
// (and 0x0C) and code1 (and 0x03); from v, code2 * 4 (and 0x0C) and code3 (and 0x03). (Bits the
// high byte of a 16-bit lane shifts into the low one lie above bit 3, which the ands clear.)
// Rows run one at a time, front to back (one sequential stream for the hardware prefetchers; 2
// rows side by side sharing the activation loads streamed slower from DRAM), with a software
// prefetch kAheadBytes on. The kernel is bound by its vector ops, about 24 GB/s on Zen 5.
//
// Integer ranges: vpmaddubsw(u8, q) is u q + u' q' in an int16 lane, |.| <= 2 * 12 * 128 = 3072
// for the fields scaled by 4 (u <= 12) and <= 768 for the others: no saturation. Per block the
// unscaled pair adds |.| <= 1536 to int16 sums ha, the scaled pair |.| <= 6144 to hb; over
// kGroup = 4 blocks |hb| <= 24576 <= 32767, exact in int16. Then vpmaddwd by 1 adds lane pairs
// into int32, where hb's sum (4 times its code * q sum) divides exactly by 4 (vpsrad).
// Upstream keeps 32 blocks in int16 (bound 65536 with codes up to 2) and wraps on all +1 codes
// against q = 127 from cols 4096 on (spec 3.1).
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;

constexpr int64_t kGroup = QB_MUTANT_ON(bitnet_i2s_avx2_int16_wrap) ? 32 : 4;
static_assert(QB_MUTANT_ON(bitnet_i2s_avx2_int16_wrap) || kGroup * 6144 <= 32767, "int16 block sums would wrap");
// Software prefetch this many bytes on in the weight (once per 64 bytes of a row).
constexpr int64_t kAheadBytes = 8192;

// S = sum code * q over the row at w.
QB_TARGET_AVX2 int32_t row_dot(const uint8_t* w, int64_t blocks, const int8_t* q) {
  const __m256i lo2 = _mm256_set1_epi8(0x03), hi2 = _mm256_set1_epi8(0x0C), one16 = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  for (int64_t g = 0; g < blocks; g += kGroup) {
    const int64_t g1 = std::min(blocks, g + kGroup);
    __m256i ha = _mm256_setzero_si256(), hb = _mm256_setzero_si256();
    for (int64_t b = g; b < g1; ++b) {
      const int8_t* xb = q + 128 * b;
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 32));
      const __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 64));
      const __m256i x3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 96));
      if ((b & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(w + 32 * b + kAheadBytes), _MM_HINT_T0);
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * b));
      const __m256i v4 = _mm256_srli_epi16(v, 4);
      ha = _mm256_add_epi16(ha, _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(v4, lo2), x1),
                                                 _mm256_maddubs_epi16(_mm256_and_si256(v, lo2), x3)));
      hb = _mm256_add_epi16(hb, _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(v4, hi2), x0),
                                                 _mm256_maddubs_epi16(_mm256_and_si256(v, hi2), x2)));
    }
    acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(ha, one16),
                                                 _mm256_srai_epi32(_mm256_madd_epi16(hb, one16), 2)));
  }
  return hsum_epi32(acc);
}

}  // namespace

QB_TARGET_AVX2 void bitnet_i2_s_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                         float* y) {
  const Act a = act_of(act);
  const int64_t cols = w->cols, rb = cols / 4, blocks = cols / 128;
  const int32_t sum_q = sum_q_avx2(a.q, cols);
  const float scale = i2s_weight_scale(w).value;
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  for (int64_t r = r0; r < r1; ++r)
    y[r] = bitnet::epilogue_i2s(dot_of(row_dot(data + r * rb, blocks, a.q), sum_q), a.sum_hdr, a.s, scale);
}

}  // namespace qb::x86

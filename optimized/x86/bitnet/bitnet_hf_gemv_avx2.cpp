// bitnet_hf GEMV (m = 1), AVX2 (vpmaddubsw, vpmaddwd): S = sum code * q per output row, then
// bitnet.h's epilogue_multiply or epilogue_divide (params[0]) with D = S - sum q (bitnet_x86.h
// says why the result is the reference's bits).
//
// Layout (spec 2): byte (i, c) of the [P = ceil(rows/4), cols] weight holds output rows i + kP in
// bits 2k+1:2k, all four against the same x[c]. The kernel walks packed rows in ascending order
// (bitnet_hf_gemv_body.inc, by bitnet_x86.h hf_segments: for the call's packed rows every field
// below rows, never a padding field); one 32-byte load of a packed row and one of x feed
// one vpmaddubsw per field. Fields 0 and 1 come from the bytes v, 2 and 3 from v >> 4 (one 16-bit
// shift: bits the high byte of a lane shifts into the low one lie above bit 3, which the ands
// clear): and 0x03 gives code (fields 0, 2), and 0x0C gives code * 4 (fields 1, 3). The last
// cols % 32 columns are summed one by one. Packed rows run one at a time (one sequential stream)
// with a software prefetch kAheadBytes on; the kernel is bound by its vector ops (about 18-29 GB/s
// on Zen 5).
//
// Integer ranges: vpmaddubsw(u8, q) is u q + u' q' in an int16 lane, |.| <= 2 * 12 * 128 = 3072
// for the fields scaled by 4 (u <= 12), <= 768 for the others: no saturation. kGroup chunks add to
// |.| <= kGroup * 3072 = 24576 <= 32767, exact in int16; then vpmaddwd by 1 adds lane pairs into
// int32, where a scaled field's sum divides exactly by 4 (vpsrad).
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;

constexpr int64_t kGroup = 8;
static_assert(kGroup * 3072 <= 32767, "int16 chunk sums would wrap");
// Software prefetch this many bytes on in the weight (once per 64 bytes).
constexpr int64_t kAheadBytes = 8192;

// Fields 0 .. NF-1 of packed row w dotted with q: s[f].
template <int NF>
QB_TARGET_AVX2 inline __attribute__((always_inline)) void packed_dot(const uint8_t* w, int64_t cols, const int8_t* q,
                                                                    int32_t* s) {
  const __m256i lo2 = _mm256_set1_epi8(0x03), hi2 = _mm256_set1_epi8(0x0C), one16 = _mm256_set1_epi16(1);
  __m256i acc[NF];
  for (int f = 0; f < NF; ++f) acc[f] = _mm256_setzero_si256();
  const int64_t chunks = cols / 32;
  for (int64_t g = 0; g < chunks; g += kGroup) {
    const int64_t g1 = std::min(chunks, g + kGroup);
    __m256i h[NF];
    for (int f = 0; f < NF; ++f) h[f] = _mm256_setzero_si256();
    for (int64_t k = g; k < g1; ++k) {
      if ((k & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(w + 32 * k + kAheadBytes), _MM_HINT_T0);
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k));
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * k));
      const __m256i v4 = NF > 2 ? _mm256_srli_epi16(v, 4) : v;
      for (int f = 0; f < NF; ++f) {
        const int field = f;
        const __m256i code = _mm256_and_si256(field >= 2 ? v4 : v, field % 2 ? hi2 : lo2);  // code * 4^(field % 2)
        h[f] = _mm256_add_epi16(h[f], _mm256_maddubs_epi16(code, x));
      }
    }
    for (int f = 0; f < NF; ++f) {
      const __m256i d = _mm256_madd_epi16(h[f], one16);
      acc[f] = _mm256_add_epi32(acc[f], f % 2 ? _mm256_srai_epi32(d, 2) : d);
    }
  }
  for (int f = 0; f < NF; ++f) {
    auto t = static_cast<uint32_t>(hsum_epi32(acc[f]));  // int32 sums, modulo 2^32 as the vector adds
    for (int64_t c = 32 * chunks; c < cols; ++c) t += static_cast<uint32_t>(((w[c] >> (2 * f)) & 3) * q[c]);
    s[f] = static_cast<int32_t>(t);
  }
}

#define QB_BITNET_TARGET QB_TARGET_AVX2
#include "optimized/x86/bitnet/bitnet_hf_gemv_body.inc"
#undef QB_BITNET_TARGET

}  // namespace

QB_TARGET_AVX2 void bitnet_hf_gemv_avx2(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                        float* y) {
  const Act a = act_of(act);
  hf_gemv(w, a, sum_q_avx2(a.q, w->cols), r0, r1, y);
}

}  // namespace qb::x86

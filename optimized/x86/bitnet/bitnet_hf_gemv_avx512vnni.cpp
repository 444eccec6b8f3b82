// bitnet_hf GEMV (m = 1), AVX-512 VNNI (vpdpbusd: u8 x s8 products summed into int32 lanes; needs
// AVX512_VNNI, and AVX512F/BW for the 512-bit integer ops and byte masks): S = sum code * q per
// output row, then bitnet.h's epilogue_multiply or epilogue_divide (params[0]) with D = S - sum q
// (bitnet_x86.h says why no sum wraps and why the result is the reference's bits).
//
// Layout (spec 2): byte (i, c) of the [P = ceil(rows/4), cols] weight holds output rows i + kP in
// bits 2k+1:2k, all four against the same x[c]. So the kernel walks packed rows in ascending order
// (bitnet_hf_gemv_body.inc, by bitnet_x86.h hf_segments: for the call's packed rows every field
// below rows, never a padding field): one 64-byte load of a packed row and one of x feed
// one vpdpbusd per field. Packed rows run one at a time, front to back, one sequential stream for
// the hardware prefetchers, with a software prefetch kAheadBytes on
// (as bitnet_i2_s_gemv_avx512vnni.cpp: 2 packed rows side by side streamed slower from DRAM); two
// chunks per loop step with their own accumulators keep vpdpbusd chains short.
//
// Threads split the packed rows (Format::row_bands), so each reads only its own bytes.
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;

constexpr int64_t kAheadBytes = 8192;
constexpr int kUnroll = 2;

// Field k of a byte is isolated by one and with 3 << 2k, no shift: the u8 operand of vpdpbusd is
// then code * 4^k and field k's int32 lanes hold 4^k times their sum of code * q. A lane adds 4
// products |code 4^k q| <= 192 * 128 per 64-byte chunk, so over at most kSpanChunks chunks
// |lane| <= 4 * 24576 * kSpanChunks = 2^26.6 < 2^31: exact, and divisible exactly by 4^k
// (vpsrad) at the end of each span (int32 sums of those, exact modulo 2^32 as bitnet_x86.h says).
constexpr int64_t kSpanChunks = 1024;

// One 64-byte column chunk at c of the packed row w into acc[f] for fields 0 .. NF-1; kFull:
// all 64 columns, otherwise the m columns (masked-off bytes load as 0: code 0 against q = 0 adds
// nothing).
template <int NF, bool kFull>
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) void chunk(const uint8_t* w, const int8_t* q, int64_t c,
                                                                     __mmask64 m, __m512i* acc) {
  const __m512i x = kFull ? _mm512_loadu_si512(q + c) : _mm512_maskz_loadu_epi8(m, q + c);
  if (kFull) _mm_prefetch(reinterpret_cast<const char*>(w + c + kAheadBytes), _MM_HINT_T0);
  const __m512i v = kFull ? _mm512_loadu_si512(w + c) : _mm512_maskz_loadu_epi8(m, w + c);
  for (int f = 0; f < NF; ++f) {
    const __m512i field = _mm512_set1_epi8(static_cast<char>(3 << 2 * f));
    __m512i code = _mm512_and_si512(v, field);  // code * 4^f
    if constexpr (QB_MUTANT_ON(bitnet_hf_vnni_code3_zero))
      code = _mm512_mask_blend_epi8(_mm512_cmpeq_epi8_mask(code, field), code,
                                    _mm512_set1_epi8(static_cast<char>(1 << 2 * f)));
    acc[f] = _mm512_dpbusd_epi32(acc[f], code, x);
  }
}

// Fields 0 .. NF-1 of the packed row w dotted with q: s[f].
template <int NF>
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) void packed_dot(const uint8_t* w, int64_t cols,
                                                                          const int8_t* q, int32_t* s) {
  __m512i total[NF], acc[kUnroll][NF];
  for (int f = 0; f < NF; ++f) total[f] = _mm512_setzero_si512();
  const int64_t chunks = cols / 64;
  for (int64_t k0 = 0; k0 < chunks; k0 += kSpanChunks) {
    const int64_t k1 = std::min(chunks, k0 + kSpanChunks);
    for (int u = 0; u < kUnroll; ++u)
      for (int f = 0; f < NF; ++f) acc[u][f] = _mm512_setzero_si512();
    int64_t k = k0;
    for (; k + kUnroll <= k1; k += kUnroll)
      for (int u = 0; u < kUnroll; ++u) chunk<NF, true>(w, q, 64 * (k + u), 0, acc[u]);
    for (; k < k1; ++k) chunk<NF, true>(w, q, 64 * k, 0, acc[0]);
    for (int f = 0; f < NF; ++f) {
      __m512i sum = acc[0][f];
      for (int u = 1; u < kUnroll; ++u) sum = _mm512_add_epi32(sum, acc[u][f]);
      total[f] = _mm512_add_epi32(total[f], _mm512_srai_epi32(sum, 2 * f));
    }
  }
  if (cols % 64) {  // the partial last chunk
    for (int f = 0; f < NF; ++f) acc[0][f] = _mm512_setzero_si512();
    chunk<NF, false>(w, q, 64 * chunks, (~__mmask64{0}) >> (64 - cols % 64), acc[0]);
    for (int f = 0; f < NF; ++f) total[f] = _mm512_add_epi32(total[f], _mm512_srai_epi32(acc[0][f], 2 * f));
  }
  for (int f = 0; f < NF; ++f) s[f] = _mm512_reduce_add_epi32(total[f]);
}

#define QB_BITNET_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/bitnet/bitnet_hf_gemv_body.inc"
#undef QB_BITNET_TARGET

}  // namespace

QB_TARGET_AVX512VNNI void bitnet_hf_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                   int64_t r1, float* y) {
  const Act a = act_of(act);
  hf_gemv(w, a, sum_q_vnni(a.q, w->cols), r0, r1, y);
}

}  // namespace qb::x86

// mxfp4 x q8_0 GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4): four 17-byte blocks (68 bytes,
// 128 weights) per step, the scales decoded in vector registers (specs/ggml.md 3.8;
// reference/ggml/mxfp4.cpp).
//
// Per group of four blocks: one 64-byte load and a masked 4-byte one; one vpermi2b gathers the
// four blocks' 16 qs bytes each into one register (block j in bytes 16j..16j+15), so the low
// nibbles are elements 0..15 of every block and the high nibbles elements 16..31; vpshufb maps
// each to the FP4 value + 12 (unsigned 0..24, legacy_gemv.h's Mxfp4 table). The activation is
// prepared once per call in that order: per group, elements 0..15 of the four blocks, then
// 16..31, 16 lane seeds (-12 times the lane's activation sum over both planes) and each lane's
// block d_x. A 4-byte lane never spans two blocks, so two vpdpbusd from the seeds give 16 exact
// int32 lanes, the sums (value)*x8 of their block (|lane| <= 8*24*128 + 8*12*128). The four
// scale bytes go to their lanes' low bytes by one zero-masking vpermb; e8m0_half(e) is 2^(e-128)
// for every byte (2^-128 and 2^-127, the subnormal halves of e = 0 and 1, included; nothing is
// Inf or NaN), and vscalefps(1, e - 128) gives it exactly. One FMA per lane of the lane sum with
// e8m0_half * d_x (the reference's product) and a 4-level lane tree: the AVX-512 VNNI kernel's
// path, within mxfp4's bound. A row whose block count is not a multiple of 4 ends with a group
// read by masked loads, its missing blocks meeting zero activation, seeds and d_x (their
// scales are finite, so the products are 0). Four rows share every activation load.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/legacy_gemv.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

using legacy::Mxfp4;
constexpr int64_t kBlock = Mxfp4::kBlock, kGroup = 4 * kBlock;
constexpr int kRows = 4;

// Prepared group: x of the low-nibble elements (64 bytes), of the high-nibble ones (64), the 16
// int32 seeds, the 16 fp32 d_x.
constexpr int64_t kXLo = 0, kXHi = 64, kSeeds = 128, kDx = 192, kPrepared = 256;

const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
  const int64_t groups = (nb + 3) / 4;
  buf.assign(static_cast<std::size_t>(groups * kPrepared + 64), 0);
  uint8_t* base = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* xb = act + k * int64_t(sizeof(ggml::BlockQ8_0));
    uint8_t* g = base + (k / 4) * kPrepared;
    const int j = static_cast<int>(k % 4);
    // Mutant mxfp4_vbmi_planes_swapped: the high nibbles paired with elements 0..15.
    constexpr bool swap = QB_MUTANT_ON(mxfp4_vbmi_planes_swapped);
    std::memcpy(g + (swap ? kXHi : kXLo) + 16 * j, xb + 2, 16);
    std::memcpy(g + (swap ? kXLo : kXHi) + 16 * j, xb + 18, 16);
    const float d = fp16_to_f32(ggml::load_u16(xb));
    for (int l = 4 * j; l < 4 * j + 4; ++l) {
      int32_t sum = 0;
      for (int b = 0; b < 4; ++b)
        sum += static_cast<int8_t>(g[kXLo + 4 * l + b]) + static_cast<int8_t>(g[kXHi + 4 * l + b]);
      const int32_t seed = -Mxfp4::kOffset * sum;
      std::memcpy(g + kSeeds + 4 * l, &seed, 4);
      std::memcpy(g + kDx + 4 * l, &d, 4);
    }
  }
  return base;
}

// vpermi2b index of the qs bytes (block j's byte i at 17j + 1 + i of the 68 group bytes) and
// vpermb index of the scale bytes (block j's at 17j, into the low byte of lanes 4j..4j+3).
struct alignas(64) Selectors {
  uint8_t qs[64], scale[64];
};
constexpr Selectors make_selectors() {
  Selectors s{};
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 16; ++i) {
      s.qs[16 * j + i] = static_cast<uint8_t>(kBlock * j + 1 + i);
      s.scale[16 * j + i] = static_cast<uint8_t>(kBlock * j);
    }
  return s;
}
constexpr Selectors kSelectors = make_selectors();

// The group's lane sums times its lanes' e8m0_half * d_x, added to acc. v0: group bytes 0..63,
// v1: bytes 64..67 in its low bytes.
QB_TARGET_AVX512VBMI inline __attribute__((always_inline)) __m512 group_term(__m512i v0, __m512i v1, const uint8_t* g,
                                                                             __m512i table, __m512 acc) {
  const __m512i qs = _mm512_permutex2var_epi8(v0, _mm512_load_si512(kSelectors.qs), v1);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i lo = _mm512_shuffle_epi8(table, _mm512_and_si512(qs, m4));
  const __m512i hi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4));
  const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_load_si512(g + kSeeds), lo, _mm512_load_si512(g + kXLo)),
                                        hi, _mm512_load_si512(g + kXHi));
  const __m512i e = _mm512_maskz_permutexvar_epi8(0x1111111111111111ull, _mm512_load_si512(kSelectors.scale), v0);
  // Mutant mxfp4_vbmi_scale_bias_127: 2^(e - 127), every scale doubled.
  constexpr int kBias = QB_MUTANT_ON(mxfp4_vbmi_scale_bias_127) ? 127 : 128;
  const __m512 scale = _mm512_scalef_ps(_mm512_set1_ps(1.0f), _mm512_cvtepi32_ps(_mm512_sub_epi32(e, _mm512_set1_epi32(kBias))));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(scale, _mm512_load_ps(reinterpret_cast<const float*>(g + kDx))),
                         acc);
}

template <int R>
QB_TARGET_AVX512VBMI inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                    const uint8_t* act, int64_t nb, float* y) {
  static constexpr Mxfp4::Table kTable = Mxfp4::shifted();
  const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kTable.v)));
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const int64_t full = nb / 4;
  for (int64_t gi = 0; gi < full; ++gi) {
    const uint8_t* g = act + gi * kPrepared;
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + gi * kGroup;
      // The same group of the next row group, into L2 (its two lines; a 68-byte group spans at
      // most three, the middle one left to the demand load).
      const uint8_t* next = p + R * row_stride;
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + kGroup - 1), _MM_HINT_T1);
      acc[r] = group_term(_mm512_loadu_si512(p), _mm512_maskz_loadu_epi8(0xF, p + 64), g, table, acc[r]);
    }
  }
  if (const int64_t left = nb - 4 * full; left && !QB_MUTANT_ON(mxfp4_vbmi_tail_dropped)) {
    const uint8_t* g = act + full * kPrepared;
    const __mmask64 m = (~0ull) >> (64 - kBlock * left);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + full * kGroup;
      acc[r] = group_term(_mm512_maskz_loadu_epi8(m, p), _mm512_setzero_si512(), g, table, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX512VBMI void mxfp4_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                                float* y) {
  thread_local std::vector<uint8_t> buf;
  const int64_t nb = w->cols / 32, row_bytes = nb * kBlock;
  const uint8_t* a = prepare(act, nb, buf);
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + kRows <= r1; r += kRows) rows<kRows>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace qb::x86

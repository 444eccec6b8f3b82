// mxfp4 x q8_0 GEMV, AVX-512 VNNI: two 17-byte blocks per 512-bit register (the unpacking and the
// prepared activation of legacy_gemv.h's Mxfp4: nibbles into the FP4 values + 12 by vpshufb,
// unsigned 0..24, seeds -12 * lane activation sums). Block k's 16 qs bytes fill 128-bit lanes 0
// and 1, block k + 1's lanes 2 and 3; lanes 1 and 3 take the high nibbles (one masked word
// shift), so the 64 codes are elements 0..31 of both blocks in order, against 64 consecutive
// activation bytes. One vpdpbusd gives 16 exact int32 lanes (|lane| <= 4 * 24 * 128 + 4 * 12 *
// 128), lanes 0-7 of block k and 8-15 of block k + 1, each scaled by its block's d_x *
// e8m0_half(e) (the reference's product) in one FMA. A row of an odd block count ends with one
// block in the low half. Each product's path: the product of two scales, its lane's FMAs, a
// 4-level lane tree: within mxfp4's bound (reference/ggml/mxfp4.cpp), as the AVX2 kernel's.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/legacy_gemv.h"

namespace qb::x86 {
namespace {

using legacy::Mxfp4;

// Lanes 0-7 a, lanes 8-15 b.
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) __m512 halves(float a, float b) {
  return _mm512_mask_broadcastss_ps(_mm512_set1_ps(a), 0xFF00, _mm_set_ss(b));
}

// The 64 codes of the blocks at p and p + 17 (kPair) or of the block at p alone (upper half 0).
template <bool kPair>
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) __m512i codes64(const uint8_t* p, __m512i table) {
  __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1)));
  v = kPair ? _mm512_mask_broadcast_i32x4(v, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 18)))
            : _mm512_maskz_mov_epi32(0x00FF, v);
  // Mutant mxfp4_vnni_high_lanes_unshifted: lanes 1 and 3 keep the low nibbles.
  constexpr __mmask32 kHighWords = QB_MUTANT_ON(mxfp4_vnni_high_lanes_unshifted) ? 0 : 0xFF00FF00u;
  v = _mm512_and_si512(_mm512_mask_srli_epi16(v, kHighWords, v, 4), _mm512_set1_epi8(0x0F));
  return _mm512_shuffle_epi8(table, v);
}

template <int R>
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                     const ggml_x86::BlockAct& a, int64_t nb, float* y) {
  static constexpr Mxfp4::Table kTable = Mxfp4::shifted();
  const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kTable.v)));
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 2 <= nb; k += 2) {
    const __m512i x = _mm512_loadu_si512(a.x + 32 * k);
    const __m512i seed = _mm512_loadu_si512(a.seed + 8 * k);
    const __m512 dx = halves(a.dx[k], a.dx[k + 1]);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * Mxfp4::kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      const __m512i s = _mm512_dpbusd_epi32(seed, codes64<true>(p, table), x);
      const __m512 scale = _mm512_mul_ps(dx, halves(ggml::e8m0_half(p[0]), ggml::e8m0_half(p[Mxfp4::kBlock])));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[r]);
    }
  }
  if (k < nb) {  // the last block alone: zero codes, seeds and scales in the upper half
    const __m512i x = _mm512_maskz_loadu_epi8(0xFFFFFFFFull, a.x + 32 * k);
    const __m512i seed = _mm512_maskz_loadu_epi32(0x00FF, a.seed + 8 * k);
    const __m512 dx = _mm512_maskz_mov_ps(0x00FF, _mm512_set1_ps(a.dx[k]));
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * Mxfp4::kBlock;
      const __m512i s = _mm512_dpbusd_epi32(seed, codes64<false>(p, table), x);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dx, _mm512_set1_ps(ggml::e8m0_half(p[0]))), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX512VNNI void mxfp4_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                                float* y) {
  thread_local std::vector<uint8_t> buf;
  const ggml_x86::BlockAct a = Mxfp4::prepare(act, w->cols, buf);
  const int64_t nb = w->cols / 32, row_bytes = nb * Mxfp4::kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace qb::x86

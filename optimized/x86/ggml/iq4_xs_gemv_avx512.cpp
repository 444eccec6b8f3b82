// iq4_xs x q8_K GEMV, AVX-512: the AVX2 kernel's structure at 64 bytes per register. Per block and
// row, for each 32-element sub-block: nibbles -> kvalues_iq4nl levels by vpshufb (element order),
// levels and activation codes sign-extended to 32 int16 and multiplied (vpmullw: |level*code| <=
// 127 * 128 = 16256, fits int16), then vpmaddwd by the signed scale ls - 32 sums pairs into 16
// int32 lanes: exact, |lane| <= 8 * 32 * 2 * 16256 < 2^24 over the block (exact conversion).
// One FMA of the lanes with d_w * d_x per block. Each product's path: d_w * d_x, the FMA, one FMA
// per later block of its lane, a 4-level lane tree: 6 + cols/256 roundings, within
// iq_q8_K_rounding_depth. Four rows share the loop over activation blocks.
#include "optimized/x86/intrinsics.h"

#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq4_xs.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockIQ4_XS), kActBlock = sizeof(ggml::BlockQ8_K);

// Sub-block ib's signed scale ls - 32 (4 low bits in scales_l, 2 high bits in scales_h).
inline int16_t signed_scale(const uint8_t* blk, int ib) {
  const int low = (blk[4 + ib / 2] >> (4 * (ib % 2))) & 15;
  const int high = (ggml::load_u16(blk + 2) >> (2 * ib)) & 3;
  return static_cast<int16_t>((low | high << 4) - 32);
}

// One weight block against one activation block: acc += (d_w*d_x) * lanes.
QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 block_term(const uint8_t* blk, const uint8_t* xb,
                                                                                __m128i table, __m512 acc) {
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const int8_t* x8 = ggml::q8_K_qs(xb);
  __m512i isum = _mm512_setzero_si512();
  for (int ib = 0; ib < ggml::kQK_K / 32; ++ib) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 8 + 16 * ib));
    const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(raw, m4));
    const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(raw, 4), m4));
    const __m512i w16 = _mm512_cvtepi8_epi16(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
    const __m512i x16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 32 * ib)));
    isum = _mm512_add_epi32(
        isum, _mm512_madd_epi16(_mm512_mullo_epi16(w16, x16), _mm512_set1_epi16(signed_scale(blk, ib))));
  }
  const float dall = _cvtsh_ss(ggml::load_u16(blk)) * ggml::q8_K_d(xb);
  return _mm512_fmadd_ps(_mm512_set1_ps(dall), _mm512_cvtepi32_ps(isum), acc);
}

template <int R>
QB_TARGET_AVX512 static inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                        const uint8_t* act, int64_t nb, float* y) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kvalues_iq4nl));
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < nb; ++k)
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, act + k * kActBlock, table, acc[r]);
    }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX512 void iq4_xs_gemv_avx512(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                         float* y) {
  const int64_t nb = w->cols / ggml::kQK_K, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, act, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, act, nb, y + r);
}

}  // namespace qb::x86

// q8_0 x q8_0 GEMV, AVX-512 VNNI: two 34-byte blocks per 512-bit register (block k's 32 codes in
// the lower 256 bits, block k + 1's in the upper), against the activation prepared once per call
// as contiguous codes, lane seeds and d_x (ggml_x86_common.h prepare_blocks). xor 0x80 makes the
// int8 weights unsigned for vpdpbusd (w + 128 in [0, 255]), and the seeds (-128 * lane activation
// sums) cancel that offset exactly: a lane stays within 4 * 255 * 128 + 4 * 128 * 128 < 2^18 for
// every int8 pair. Lanes 0-7 take block k's d_w * d_x, 8-15 block k + 1's, in one FMA. Two rows
// share every activation load: with 1-byte weights the loop is bound by DRAM, not by activation
// loads, and two rows stream best here (11008x4096, 1 thread, medians of 5 against the row's probe:
// two rows 0.90-0.93, four 0.79-0.84, eight 0.86; ggml_chunk_gemv_avx512vnni.h's raw-chunk driver,
// which serves q4_0 with eight rows, streamed q8_0 at 0.77-0.81).
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockQ8_0);
constexpr int kOffset = QB_MUTANT_ON(q8_0_vnni_offset_127) ? 127 : 128;

// d_w of the blocks at p (lanes 0-7) and p + kBlock (lanes 8-15) times dx.
template <bool kPair>
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) __m512 scale(const uint8_t* p, __m512 dx) {
  __m256i h = _mm256_set1_epi16(static_cast<int16_t>(ggml::load_u16(p)));
  // Mutant q8_0_vnni_pair_scale_low: block k + 1 scaled by block k's d_w.
  const uint8_t* second = QB_MUTANT_ON(q8_0_vnni_pair_scale_low) ? p : p + kBlock;
  if constexpr (kPair) h = _mm256_mask_set1_epi16(h, 0xFF00, static_cast<int16_t>(ggml::load_u16(second)));
  return _mm512_mul_ps(_mm512_cvtph_ps(h), dx);
}

template <int R>
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                     const ggml_x86::BlockAct& a, int64_t nb, float* y) {
  const __m512i flip = _mm512_set1_epi8(-128);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 2 <= nb; k += 2) {
    const __m512i x = _mm512_loadu_si512(a.x + 32 * k);
    const __m512i seed = _mm512_loadu_si512(a.seed + 8 * k);
    const __m512 dx = _mm512_mask_broadcastss_ps(_mm512_set1_ps(a.dx[k]), 0xFF00, _mm_load_ss(a.dx + k + 1));
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      // The same pair of the next row group, into L2 (it spans two or three lines): hardware
      // prefetchers barely train on R interleaved short streams.
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride + 2 * kBlock - 1), _MM_HINT_T1);
      const __m512i w = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2))),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kBlock + 2)), 1);
      const __m512i s = _mm512_dpbusd_epi32(seed, _mm512_xor_si512(w, flip), x);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale<true>(p, dx), acc[r]);
    }
  }
  if (k < nb && !QB_MUTANT_ON(q8_0_vnni_odd_block_dropped)) {  // the last block alone: zero codes, seeds and scales in the upper half
    const __m512i x = _mm512_maskz_loadu_epi8(0xFFFFFFFFull, a.x + 32 * k);
    const __m512i seed = _mm512_maskz_loadu_epi32(0x00FF, a.seed + 8 * k);
    const __m512 dx = _mm512_maskz_mov_ps(0x00FF, _mm512_set1_ps(a.dx[k]));
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      const __m512i w = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)));
      const __m512i s = _mm512_dpbusd_epi32(seed, _mm512_maskz_xor_epi32(0x00FF, w, flip), x);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale<false>(p, dx), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX512VNNI void q8_0_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  thread_local std::vector<uint8_t> buf;
  const ggml_x86::BlockAct a = ggml_x86::prepare_blocks(act, w->cols, kOffset, buf);
  const int64_t nb = w->cols / 32, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  if constexpr (QB_MUTANT_ON(q8_0_vnni_y_r0)) y -= r0;  // y taken as the call's own rows
  for (; r + 2 <= r1; r += 2) rows<2>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace qb::x86

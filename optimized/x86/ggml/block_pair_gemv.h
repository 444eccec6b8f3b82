// The AVX-512 VNNI row driver of the GEMVs that read their 32-element blocks two per 512-bit
// register (q8_0, mxfp4): block k's 32 codes in the lower 256 bits, block k + 1's in the upper,
// against the activation prepared once per call by prepare_blocks (contiguous int8 codes, lane
// seeds that cancel the format's code offset, d_x), so one 64-byte activation load pairs with
// them. A format supplies:
//   kBlock                stored bytes per block;
//   kRows                 rows per activation load (2 or 4: what streams best from DRAM);
//   prepare(act, cols, buf)  the BlockAct;
//   codes<kPair>(p)       the unsigned codes (code + offset) of the blocks at p and p + kBlock, or
//                         (kPair false) of the block at p in the lower half and 0 above;
//   scale<kPair>(p)       the weight scales as 16 fp32 lanes, block k's in 0-7, k + 1's in 8-15.
// Per pair and row: one vpdpbusd from the seeds gives 16 exact int32 lanes (the format's file says
// why they cannot overflow), one FMA of their conversion with d_w * d_x (the reference's product).
// A row of an odd block count ends with one block in the lower half: zero codes, seeds and scale
// products above (a masked product, so an Inf or NaN d_w never meets the zero d_x there).
//
// Every function here carries the including kernel's ISA target: the including file defines
// QB_KERNEL_TARGET first and includes this header once. Everything is in an unnamed namespace:
// each kernel file's copy is its own, with its own mutant switches.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including block_pair_gemv.h"
#endif

namespace qb::x86::block_pair {
namespace {

template <class Format, int R>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                 const ggml_x86::BlockAct& a, int64_t nb, float* y) {
  constexpr int64_t kPairBytes = 2 * Format::kBlock;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 2 <= nb; k += 2) {
    const __m512i x = _mm512_loadu_si512(a.x + 32 * k);
    const __m512i seed = _mm512_loadu_si512(a.seed + 8 * k);
    const __m512 dx = _mm512_mask_broadcastss_ps(_mm512_set1_ps(a.dx[k]), 0xFF00, _mm_load_ss(a.dx + k + 1));
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * Format::kBlock;
      // The same pair of the next row group, into L2 (its first line, and its last where a pair
      // exceeds a line; the middle line of a 68-byte q8_0 pair that spans three is left to the
      // demand load): hardware prefetchers barely train on R interleaved short streams.
      const uint8_t* next = p + R * row_stride;
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
      if constexpr (kPairBytes > 64) _mm_prefetch(reinterpret_cast<const char*>(next + kPairBytes - 1), _MM_HINT_T1);
      const __m512i s = _mm512_dpbusd_epi32(seed, Format::template codes<true>(p), x);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(Format::template scale<true>(p), dx), acc[r]);
    }
  }
  if (k < nb && !QB_MUTANT_ON(block_pair_odd_block_dropped)) {
    const __m512i x = _mm512_maskz_loadu_epi8(0xFFFFFFFFull, a.x + 32 * k);
    const __m512i seed = _mm512_maskz_loadu_epi32(0x00FF, a.seed + 8 * k);
    const __m512 dx = _mm512_set1_ps(a.dx[k]);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * Format::kBlock;
      const __m512i s = _mm512_dpbusd_epi32(seed, Format::template codes<false>(p), x);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_maskz_mul_ps(0x00FF, Format::template scale<false>(p), dx),
                               acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

// Op::gemv rows [r0, r1) of w against act (the q8_0 activation of w->cols values): y[r] per row.
template <class Format>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void gemv(const qb_weight* w, const uint8_t* act, int64_t r0,
                                                                 int64_t r1, float* y) {
  static_assert(Format::kRows == 2 || Format::kRows == 4, "block_pair::gemv: kRows is 2 or 4");
  thread_local std::vector<uint8_t> buf;
  const ggml_x86::BlockAct a = Format::prepare(act, w->cols, buf);
  const int64_t nb = w->cols / 32, row_bytes = nb * Format::kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + Format::kRows <= r1; r += Format::kRows)
    rows<Format, Format::kRows>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<Format, 1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace
}  // namespace qb::x86::block_pair

// The AVX-512 VBMI row driver of the GEMVs that read their 32-element blocks four at a time
// (mxfp4; q5_0 read this way, its fifth bits by two more vpermi2b, ran 0.8x of the raw-chunk
// driver, ggml_chunk_gemv_avx512vnni.h): a group of four blocks (4 * kBlock bytes, 128 weights)
// is one 64-byte load and a masked one of the rest; the format gathers the four blocks' 16 qs bytes into one register by
// vpermi2b (block j in bytes 16j..16j+15), whose low nibbles are elements 0..15 of every block and
// high nibbles elements 16..31, against the q8_0 activation prepared once per call in that order:
// per group, elements 0..15 of the four blocks (64 bytes), then 16..31, 16 lane seeds (-kOffset
// times the lane's activation sum over both planes) and each lane's block d_x. A 4-byte lane
// never spans two blocks, so two vpdpbusd of the unsigned codes (code + kOffset) from the seeds
// give 16 exact int32 lanes, each block's in lanes 4j..4j+3; one FMA per lane of the lane sum with
// d_w * d_x (the reference's product, the weight scale decoded by the format into its lanes) and a
// 4-level lane tree after the row. A row whose block count is not a multiple of 4 ends with a group
// read by masked loads: its missing blocks read as zero bytes (a zero scale) and meet zero
// activation, seeds and d_x. Four rows share every activation load.
//
// A format supplies:
//   kBlock, kOffset                   stored bytes per block; the code offset the seeds cancel;
//   planes(v0, v1, lo, hi)            the unsigned codes of elements 0..15 (lo) and 16..31 (hi) of
//                                     each block, from the group's bytes 0..63 (v0) and 64.. (v1);
//   scale(v0, v1)                     the weight scales as 16 fp32 lanes, block j's in 4j..4j+3.
//
// Every function here carries the including kernel's ISA target: the including file defines
// QB_KERNEL_TARGET first and includes this header once. Everything is in an unnamed namespace:
// each kernel file's copy is its own, with its own mutant switches.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/blocks.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including block_group_gemv.h"
#endif

namespace qb::x86::block_group {
namespace {

constexpr int kRows = 4;

// Prepared group: x of the low-nibble elements (64 bytes), of the high-nibble ones (64), the 16
// int32 seeds, the 16 fp32 d_x.
constexpr int64_t kXLo = 0, kXHi = 64, kSeeds = 128, kDx = 192, kPrepared = 256;

// Mutant block_group_planes_swapped: the prepared activation's planes swapped, the high nibbles
// paired with elements 0..15.
inline const uint8_t* prepare(const uint8_t* act, int64_t nb, int32_t offset, std::vector<uint8_t>& buf) {
  const int64_t groups = (nb + 3) / 4;
  buf.assign(static_cast<std::size_t>(groups * kPrepared + 64), 0);
  uint8_t* base = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  constexpr bool swap = QB_MUTANT_ON(block_group_planes_swapped);
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* xb = act + k * int64_t(sizeof(ggml::BlockQ8_0));
    uint8_t* g = base + (k / 4) * kPrepared;
    const int j = static_cast<int>(k % 4);
    std::memcpy(g + (swap ? kXHi : kXLo) + 16 * j, xb + 2, 16);
    std::memcpy(g + (swap ? kXLo : kXHi) + 16 * j, xb + 18, 16);
    const float d = fp16_to_f32(ggml::load_u16(xb));
    for (int l = 4 * j; l < 4 * j + 4; ++l) {
      int32_t sum = 0;
      for (int b = 0; b < 4; ++b)
        sum += static_cast<int8_t>(g[kXLo + 4 * l + b]) + static_cast<int8_t>(g[kXHi + 4 * l + b]);
      const int32_t seed = -offset * sum;
      std::memcpy(g + kSeeds + 4 * l, &seed, 4);
      std::memcpy(g + kDx + 4 * l, &d, 4);
    }
  }
  return base;
}

template <class Format>
QB_KERNEL_TARGET inline __attribute__((always_inline)) __m512 group_term(__m512i v0, __m512i v1, const uint8_t* g,
                                                                         __m512 acc) {
  __m512i lo, hi;
  Format::planes(v0, v1, lo, hi);
  const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_load_si512(g + kSeeds), lo, _mm512_load_si512(g + kXLo)),
                                        hi, _mm512_load_si512(g + kXHi));
  const __m512 dx = _mm512_load_ps(reinterpret_cast<const float*>(g + kDx));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(Format::scale(v0, v1), dx), acc);
}

template <class Format, int R>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                 const uint8_t* act, int64_t nb, float* y) {
  constexpr int64_t kGroup = 4 * Format::kBlock;
  static_assert(kGroup > 64 && kGroup <= 128, "block_group: a group is one full and one partial register");
  constexpr __mmask64 kRest = (~0ull) >> (128 - kGroup);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const int64_t full = nb / 4;
  for (int64_t gi = 0; gi < full; ++gi) {
    const uint8_t* g = act + gi * kPrepared;
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + gi * kGroup;
      // The same group of the next row group, into L2 (its first and last lines; of a group
      // spanning three, the middle one is left to the demand load): hardware prefetchers barely
      // train on R interleaved short streams.
      const uint8_t* next = p + R * row_stride;
      _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + kGroup - 1), _MM_HINT_T1);
      acc[r] = group_term<Format>(_mm512_loadu_si512(p), _mm512_maskz_loadu_epi8(kRest, p + 64), g, acc[r]);
    }
  }
  // Mutant block_group_tail_dropped: a row's last 1..3 blocks never read.
  if (const int64_t left = nb - 4 * full; left && !QB_MUTANT_ON(block_group_tail_dropped)) {
    const uint8_t* g = act + full * kPrepared;
    const int64_t bytes = Format::kBlock * left;
    const __mmask64 m0 = bytes >= 64 ? ~0ull : (~0ull) >> (64 - bytes);
    const __mmask64 m1 = bytes > 64 ? (~0ull) >> (128 - bytes) : 0;
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + full * kGroup;
      acc[r] = group_term<Format>(_mm512_maskz_loadu_epi8(m0, p), _mm512_maskz_loadu_epi8(m1, p + 64), g, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

// Op::gemv rows [r0, r1) of w against act (the q8_0 activation of w->cols values): y[r] per row.
template <class Format>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void gemv(const qb_weight* w, const uint8_t* act, int64_t r0,
                                                                 int64_t r1, float* y) {
  thread_local std::vector<uint8_t> buf;
  const int64_t nb = w->cols / 32, row_bytes = nb * Format::kBlock;
  const uint8_t* a = prepare(act, nb, Format::kOffset, buf);
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + kRows <= r1; r += kRows) rows<Format, kRows>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<Format, 1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace
}  // namespace qb::x86::block_group

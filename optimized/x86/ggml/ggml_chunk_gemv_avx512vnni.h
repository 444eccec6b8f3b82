// The AVX-512 VNNI row driver shared by the q4_0, iq4_nl, q4_1, q5_0 and q5_1 GEMVs: rows are read as raw 64-byte
// chunks against the prepared activation of ggml_x86_common.h; vpermt2w picks each lane's d_w
// out of (previous chunk, current chunk), and one FMA per lane accumulates
// (float)lane_sum * (d_w * d_x). Up to eight rows share every activation load. A format supplies
// only its exact int32 lane sums (Sums::lane_sums(chunk, previous chunk, activation vectors)), and
// Sums::kQh where its codes take a fifth bit from q5's qh (ChunkVecs::qh_idx, qh_bit; nibble_planes).
//
// Every function here carries the including kernel's ISA target: the including file defines
// QB_KERNEL_TARGET (QB_TARGET_AVX512VNNI, or QB_TARGET_AVX512VBMI for the kQh formats, whose
// nibble_planes needs vpermi2b) first and includes this header once.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <type_traits>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including ggml_chunk_gemv_avx512vnni.h"
#endif

namespace qb::x86::ggml_x86 {

struct ChunkVecs {
  __m512i x[2], seed, idx;
  __m512 dx;
  __m512i qh_idx[2], qh_bit;  // Sums::kQh only (ChunkAct::qh_idx)
};

// Whether Sums reads q5's qh (Sums::kQh).
template <class Sums, class = void>
struct ReadsQh : std::false_type {};
template <class Sums>
struct ReadsQh<Sums, std::void_t<decltype(Sums::kQh)>> : std::bool_constant<Sums::kQh> {};

template <class Sums, int kStreams>
QB_KERNEL_TARGET static inline __attribute__((always_inline)) ChunkVecs load_act(const ChunkAct& A, int64_t c,
                                                                                     int64_t ph) {
  ChunkVecs a;
  for (int s = 0; s < kStreams; ++s) a.x[s] = _mm512_load_si512(A.x[s] + c * kChunk);
  a.seed = _mm512_load_si512(A.seed + c * 16);
  a.idx = _mm512_load_si512(A.idx + ph * 32);
  a.dx = _mm512_load_ps(A.dx + c * 16);
  if constexpr (ReadsQh<Sums>::value) {
    a.qh_idx[0] = _mm512_load_si512(A.qh_idx + ph * 2 * kChunk);
    a.qh_idx[1] = _mm512_load_si512(A.qh_idx + ph * 2 * kChunk + kChunk);
    a.qh_bit = _mm512_load_si512(A.qh_bit + ph * kChunk);
  }
  return a;
}

// The two nibble planes of a raw chunk as unsigned bytes (low nibbles: stream 0, high: stream 1);
// with kQh each code takes its fifth bit (+16) from the qh byte vpermi2b fetches out of (prev, w).
template <bool kQh>
QB_KERNEL_TARGET static inline __attribute__((always_inline)) void nibble_planes(__m512i w, __m512i prev,
                                                                                    const ChunkVecs& a, __m512i& lo,
                                                                                    __m512i& hi) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  lo = _mm512_and_si512(w, m4);
  hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
  if constexpr (kQh) {
    // Mutant q5_1_vbmi_fifth_bit_8: the fifth bit worth 8, not 16.
    const __m512i b16 = _mm512_set1_epi8(QB_MUTANT_ON(q5_1_vbmi_fifth_bit_8) ? 8 : 16);
    // Mutant q5_0_vbmi_qh_planes_swapped: the low nibbles take the high nibbles' qh bits and vice versa.
    constexpr int kLo = QB_MUTANT_ON(q5_0_vbmi_qh_planes_swapped) ? 1 : 0;
    const __mmask64 lo_set = _mm512_test_epi8_mask(_mm512_permutex2var_epi8(prev, a.qh_idx[kLo], w), a.qh_bit);
    const __mmask64 hi_set = _mm512_test_epi8_mask(_mm512_permutex2var_epi8(prev, a.qh_idx[1 - kLo], w), a.qh_bit);
    lo = _mm512_mask_add_epi8(lo, lo_set, lo, b16);
    hi = _mm512_mask_add_epi8(hi, hi_set, hi, b16);
  }
}

// The lane sums of the nibble formats (q4_1, q5_0, q5_1): both planes (nibble_planes) through
// vpdpbusd against their activation streams, from the prepared seeds.
template <bool kQhBits>
struct NibbleSums {
  static constexpr bool kQh = kQhBits;
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512i lane_sums(__m512i w, __m512i prev,
                                                                                 const ChunkVecs& a) {
    __m512i lo, hi;
    nibble_planes<kQh>(w, prev, a, lo, hi);
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a.seed, lo, a.x[0]), hi, a.x[1]);
  }
};

template <class Sums>
QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512 chunk_term(__m512i w, __m512i prev,
                                                                                   const ChunkVecs& a, __m512 acc) {
  const __m512i s = Sums::lane_sums(w, prev, a);
  const __m512i dw = _mm512_permutex2var_epi16(prev, a.idx, w);
  const __m512 scale = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(dw)), a.dx);
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc);
}

template <class Sums, int kStreams, int R>
QB_KERNEL_TARGET static inline __attribute__((always_inline)) void chunk_rows(const uint8_t* w0,
                                                                                 const ChunkAct& A, float* y) {
  __m512 acc[R];
  __m512i prev[R];
  for (int r = 0; r < R; ++r) {
    acc[r] = _mm512_setzero_ps();
    prev[r] = _mm512_setzero_si512();
  }
  int64_t ph = 0;
  for (int64_t c = 0; c < A.nfull; ++c) {
    const ChunkVecs a = load_act<Sums, kStreams>(A, c, ph);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * A.row_bytes + c * kChunk;
      // The same chunk of the next row group, into L2: hardware prefetchers barely train on R
      // interleaved short streams, and one group of work ahead covers DRAM latency.
      _mm_prefetch(reinterpret_cast<const char*>(p + R * A.row_bytes), _MM_HINT_T1);
      const __m512i w = _mm512_loadu_si512(p);
      acc[r] = chunk_term<Sums>(w, prev[r], a, acc[r]);
      prev[r] = w;
    }
    if (++ph == A.period) ph = 0;
  }
  if (A.tail && !QB_MUTANT_ON(q4_0_vnni_tail_skipped)) {
    // Masked loads: the bytes past the row (maybe past the buffer) read as zero and meet zero
    // activation, zero seeds and zero d_x.
    const __mmask64 m = (~0ull) >> (64 - A.tail + (QB_MUTANT_ON(chunk_vnni_tail_mask_short) ? 1 : 0));
    const ChunkVecs a = load_act<Sums, kStreams>(A, A.nfull, ph);
    for (int r = 0; r < R; ++r) {
      const __m512i w = _mm512_maskz_loadu_epi8(m, w0 + r * A.row_bytes + A.nfull * kChunk);
      acc[r] = chunk_term<Sums>(w, prev[r], a, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

template <class Sums, int kBlockBytes, int kStreams, int kWeightOffset, bool kMinLane = false>
QB_KERNEL_TARGET static inline __attribute__((always_inline)) void chunk_gemv(const qb_weight* w, const uint8_t* act,
                                                                                 int64_t r0, int64_t r1, float* y) {
  thread_local std::vector<uint8_t> buf;
  const ChunkAct A = prepare_chunks<kBlockBytes, kStreams, kWeightOffset, kMinLane, ReadsQh<Sums>::value>(act, w->cols, buf);
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  if constexpr (QB_MUTANT_ON(chunk_vnni_y_r0)) y -= r0;  // y taken as the call's own rows
  for (; r + 8 <= r1; r += 8) chunk_rows<Sums, kStreams, 8>(data + r * A.row_bytes, A, y + r);
  for (; r + 4 <= r1; r += 4) chunk_rows<Sums, kStreams, 4>(data + r * A.row_bytes, A, y + r);
  for (; r < r1; ++r) chunk_rows<Sums, kStreams, 1>(data + r * A.row_bytes, A, y + r);
}

}  // namespace qb::x86::ggml_x86

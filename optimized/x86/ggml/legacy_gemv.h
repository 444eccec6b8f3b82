// The row loop of the q4_1, q5_0, q5_1 and mxfp4 GEMVs at AVX2, and of q5_0 and q5_1 at AVX-512 VNNI
// (for CPUs without VBMI: their VBMI kernels and q4_1's VNNI kernel read raw chunks,
// ggml_chunk_gemv_avx512vnni.h; mxfp4's VNNI kernel takes only the Mxfp4 unpacking from here),
// templated on the format's block unpacking (Q4_1, Q5_0, Q5_1, Mxfp4 below) and on the integer dot
// (MaddDot, VnniDot).
//
// Per block and row: the 32 codes as unsigned bytes in element order, their exact int32 lane sums
// against the int8 activation (plus the prepared seeds that cancel a code offset), one FMA of those
// with the block's scale product into the row's vector accumulator; for the q8_1-paired formats the
// min term m_w * s_x (s_x the activation's stored sum, as the reference uses it) goes to a scalar
// accumulator added after the tree sum. Four rows share every activation load. Both dots give the
// same exact int32 sums, so the float side is the same operation for operation on both ISAs.
//
// Every function here carries the including kernel's ISA target, so the including file defines
// QB_KERNEL_TARGET (QB_TARGET_AVX2 or QB_TARGET_AVX512VNNI) first and includes this header once.
// Everything is in an unnamed namespace: each kernel file's copy is its own, compiled for its
// target and with its own mutant switches (a mutant plugin compiles one kernel file).
#pragma once
#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/fp4.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/mxfp4.h"
#include "reference/ggml/q4_1.h"
#include "reference/ggml/q5_0.h"
#include "reference/ggml/q5_1.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including legacy_gemv.h"
#endif

namespace qb::x86::legacy {
namespace {

// Exact int32 lanes seed + sum of 4 consecutive u8 codes times int8 x. vpmaddubsw's int16 pair sums
// cannot saturate: codes are at most 31 (|sum of 2| <= 2*31*128 = 7936 for any int8 x, -128 too).
struct MaddDot {
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i sums(__m256i seed, __m256i q, __m256i x) {
    return _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(1)), seed);
  }
};

// The same sums by one 256-bit vpdpbusd (u8 x s8 products summed in fours into int32 lanes without
// intermediate saturation).
struct VnniDot {
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m256i sums(__m256i seed, __m256i q, __m256i x) {
    return _mm256_dpbusd_epi32(seed, q, x);
  }
};

// A format's unpacking: kBlock (stored bytes per block), kMin (a q8_1-paired format with a min
// term), prepare (the activation), codes (32 unsigned codes in element order), scale (the block's
// scale product with d_x), and for kMin formats min_term.

// The fp16 scale d at byte 0: the block's scale product is d_w * d_x.
struct HalfScale {
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 scale(const uint8_t* blk, __m256 dx) {
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(ggml::load_u16(blk))), dx);
  }
};

// The q8_1-paired formats (d, m, ...): the min term m_w * s_x, unless kDropped (the formats'
// mutants that never accumulate it).
template <bool kDropped>
struct Q8_1Paired : HalfScale {
  static constexpr bool kMin = true;
  static Q8_1Act prepare(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf) {
    return prepare_q8_1(act, cols, buf);
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) float min_term(const uint8_t* blk, float sx) {
    return kDropped ? 0.0f : _cvtsh_ss(ggml::load_u16(blk + 2)) * sx;
  }
};

// q4_1 (d, m, 16 bytes of nibbles): unsigned nibbles 0..15 against the q8_1 activation.
struct Q4_1 : Q8_1Paired<QB_MUTANT_ON(q4_1_gemv2_min_term_dropped)> {
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ4_1);
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    return nibbles(blk + 4);
  }
};

// q5_1 (d, m, qh, 16 bytes of nibbles): unsigned 5-bit codes 0..31 (nibble | bit 4 from qh) against
// the q8_1 activation.
struct Q5_1 : Q8_1Paired<QB_MUTANT_ON(q5_1_gemv2_min_term_dropped)> {
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ5_1);
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    return _mm256_or_si256(nibbles(blk + 8), fifth_bits(blk + 4));
  }
};

// q5_0 (d, qh, 16 bytes of nibbles): unsigned 5-bit codes 0..31 against the q8_0 activation, whose
// prepared seeds -16 * (lane activation sum) make the lane sums exact sums of (q - 16) * x.
struct Q5_0 : HalfScale {
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ5_0);
  static constexpr bool kMin = false;
  static ggml_x86::BlockAct prepare(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf) {
    return ggml_x86::prepare_blocks(act, cols, 16, buf);
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    return _mm256_or_si256(nibbles(blk + 6), fifth_bits(blk + 2));
  }
};

// mxfp4 (e, 16 bytes of nibbles): the nibbles index a table of the FP4 values plus 12 (vpshufb,
// unsigned 0..24) against the q8_0 activation, whose prepared seeds -12 * (lane activation sum)
// make the lane sums exact sums of kv * x; the scale product is d_x * e8m0_half(e).
struct Mxfp4 {
  static constexpr int64_t kBlock = sizeof(ggml::BlockMxfp4);
  static constexpr bool kMin = false;
  static constexpr int kOffset = 12;  // makes every table value non-negative for the unsigned dot
  static ggml_x86::BlockAct prepare(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf) {
    return ggml_x86::prepare_blocks(act, cols, QB_MUTANT_ON(mxfp4_gemv2_seed_offset_11) ? 11 : kOffset, buf);
  }
  struct Table {
    alignas(16) int8_t v[16];
  };
  static constexpr Table shifted() {
    Table t{};
    for (int i = 0; i < 16; ++i) t.v[i] = static_cast<int8_t>(ggml::kValuesFp4[i] + kOffset);
    return t;
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i codes(const uint8_t* blk) {
    static constexpr Table kTable = shifted();
    const __m256i table = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kTable.v)));
    return _mm256_shuffle_epi8(table, nibbles(blk + 1));
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 scale(const uint8_t* blk, __m256 dx) {
    return _mm256_mul_ps(dx, _mm256_set1_ps(ggml::e8m0_half(blk[0])));
  }
};

template <class Format, class Dot, int R, class Act>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride, const Act& a,
                                                                 int64_t nb, float* y) {
  __m256 acc[R];
  float mins[R];
  for (int r = 0; r < R; ++r) {
    acc[r] = _mm256_setzero_ps();
    mins[r] = 0.0f;
  }
  for (int64_t k = 0; k < nb; ++k) {
    const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.x + 32 * k));
    __m256i seed = _mm256_setzero_si256();
    if constexpr (!Format::kMin) seed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.seed + 8 * k));
    const __m256 dx = _mm256_broadcast_ss(a.dx + k);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * Format::kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      const __m256i s = Dot::sums(seed, Format::codes(p), x);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), Format::scale(p, dx), acc[r]);
      if constexpr (Format::kMin) mins[r] += Format::min_term(p, a.sx[k]);
    }
  }
  for (int r = 0; r < R; ++r) {
    if constexpr (Format::kMin)
      y[r] = hsum(acc[r]) + mins[r];
    else
      y[r] = hsum(acc[r]);
  }
}

// Op::gemv rows [r0, r1) of w against the prepared activation act (the format's paired q8_0 or
// q8_1 row of w->cols values): y[r] for each row r (spec sections 3.2-3.4, 3.9 and 4).
template <class Format, class Dot>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void gemv(const qb_weight* w, const uint8_t* act, int64_t r0,
                                                                 int64_t r1, float* y) {
  thread_local std::vector<uint8_t> buf;
  const auto a = Format::prepare(act, w->cols, buf);
  const int64_t nb = w->cols / 32, row_bytes = nb * Format::kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<Format, Dot, 4>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<Format, Dot, 1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace
}  // namespace qb::x86::legacy

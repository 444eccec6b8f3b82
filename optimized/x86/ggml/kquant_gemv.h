// The row loop of the q4_K, q6_K and tq2_0 GEMVs against the q8_K activation (AVX2 and AVX-512),
// templated on the kernel's block term: Term::kBlock (stored bytes per weight block), Term::Acc
// (the row's fp32 vector accumulator, __m256 or __m512), Term::kMin, and Term::block, which
// accumulates one weight block against one activation block (for kMin formats with a scalar min
// term beside the vector, subtracted after the lane sum). Four rows share every activation block,
// their accumulators stay in registers, and the next row group's block is prefetched into L2
// (hardware prefetchers barely train on four interleaved short streams).
//
// Every function here carries the including kernel's ISA target, so the including file defines
// QB_KERNEL_TARGET (QB_TARGET_AVX2 or QB_TARGET_AVX512) first and includes this header once.
// Everything is in an unnamed namespace: each kernel file's copy is its own, compiled for its
// target and with its own mutant switches (a mutant plugin compiles one kernel file).
#pragma once
#include "optimized/x86/intrinsics.h"

#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/q4_K.h"
#include "reference/ggml/q8_K_activation.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including kquant_gemv.h"
#endif

namespace qb::x86::kquant {
namespace {

QB_TARGET_AVX2 inline __attribute__((always_inline)) void set_zero(__m256& v) { v = _mm256_setzero_ps(); }
QB_TARGET_AVX512 inline __attribute__((always_inline)) void set_zero(__m512& v) { v = _mm512_setzero_ps(); }

// The scalar part of a q4_K block term at either width: the 8 sub-blocks' 6-bit scales sc and
// mins, summs = sum_j min_j * (activation sum of sub-block j's 32 elements) (exact in int32),
// dall = d*yd and dmin = dmin_w*yd (the reference's products).
struct Q4_KScalars {
  uint8_t sc[8];
  int32_t summs;
  float dall, dmin;
};

QB_TARGET_AVX2 inline __attribute__((always_inline)) Q4_KScalars q4_K_scalars(const uint8_t* blk, const uint8_t* xb) {
  Q4_KScalars s;
  uint8_t mn[8];
  for (int j = 0; j < 8; ++j) ggml::get_scale_min_k4(j, blk + 4, s.sc[j], mn[j]);
  s.summs = 0;
  for (int j = 0; j < 8; ++j) s.summs += (ggml::q8_K_bsum(xb, 2 * j) + ggml::q8_K_bsum(xb, 2 * j + 1)) * mn[j];
  const float yd = ggml::q8_K_d(xb);
  s.dall = _cvtsh_ss(ggml::load_u16(blk)) * yd;
  s.dmin = _cvtsh_ss(ggml::load_u16(blk + 2)) * yd;
  return s;
}

template <class Term, int R>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                 const uint8_t* act, int64_t nb, float* y) {
  constexpr int64_t kActBlock = sizeof(ggml::BlockQ8_K);
  typename Term::Acc acc[R];
  float mins[R];
  for (int r = 0; r < R; ++r) {
    set_zero(acc[r]);
    mins[r] = 0.0f;
  }
  for (int64_t k = 0; k < nb; ++k)
    // Unrolled, so that the accumulators stay in registers.
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * Term::kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      if constexpr (Term::kMin)
        Term::block(p, act + k * kActBlock, acc[r], mins[r]);
      else
        acc[r] = Term::block(p, act + k * kActBlock, acc[r]);
    }
  for (int r = 0; r < R; ++r) {
    if constexpr (Term::kMin)
      y[r] = hsum(acc[r]) - mins[r];
    else
      y[r] = hsum(acc[r]);
  }
}

// Op::gemv rows [r0, r1) of w against act (the q8_K activation of w->cols values, spec section
// 3.17): y[r] for each row r.
template <class Term>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void gemv(const qb_weight* w, const uint8_t* act, int64_t r0,
                                                                 int64_t r1, float* y) {
  const int64_t nb = w->cols / ggml::kQK_K, row_bytes = nb * Term::kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<Term, 4>(data + r * row_bytes, row_bytes, act, nb, y + r);
  for (; r < r1; ++r) rows<Term, 1>(data + r * row_bytes, row_bytes, act, nb, y + r);
}

}  // namespace
}  // namespace qb::x86::kquant

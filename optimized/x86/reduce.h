// Horizontal sums of fp32 accumulators, one per vector width, for every x86 kernel. Overloads,
// not one name per ISA: each carries the lowest target its instructions need, so a kernel of any
// higher target inlines it (GCC inlines a callee whose ISA set is a subset of the caller's).
#pragma once
#include "optimized/x86/intrinsics.h"

#include "optimized/x86/target.h"

namespace qb::x86 {

// Pairwise trees ((0+4)+(2+6))+((1+5)+(3+7)) and the like: log2(lanes) roundings per sum.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

QB_TARGET_AVX512 static inline __attribute__((always_inline)) float hsum(__m512 v) {
  return _mm512_reduce_add_ps(v);
}

}  // namespace qb::x86

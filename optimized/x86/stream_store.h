// Dequant output stores, shared by the dequant kernels that write their output once and leave it.
//
// A dequant writes 4 bytes per weight (7.1x a q4_0 input, 3.8x q8_0), so on large outputs it is
// bound by write bandwidth, and ordinary stores pay a read-for-ownership of every output line
// first (about 2x the DRAM traffic). Non-temporal stores write whole lines without that read, but
// bypass the caches, which is a loss when the caller reads the output right away from cache. So
// they are used only when one call's output is at least kStreamMinBytes, the per-core L2 of the
// target parts (1 MiB on Zen 4 and recent Xeons): an output that size cannot stay in L2 with
// ordinary stores either (the weights stream through it too), so the consumer would not find it
// there; smaller calls keep ordinary stores and leave their output cache-hot.
//
// (EXL3's dequant does not use them: it runs three passes over each 128x128 block in place, so
// the block has to stay in cache until its last pass.)
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "harness/qb_plugin.h"
#include "optimized/x86/target.h"

namespace qb::x86 {

inline constexpr int64_t kStreamMinBytes = int64_t{1} << 20;

// True when the call writing n_floats floats from y should use non-temporal stores of `align`
// bytes. Only the call's first output is checked: with cols % 32 == 0 every row is a multiple of
// 128 bytes, so if the first row of the call is aligned, every row is.
inline bool use_stream_stores(const float* y, int64_t n_floats, uintptr_t align) {
  return n_floats * static_cast<int64_t>(sizeof(float)) >= kStreamMinBytes &&
         reinterpret_cast<uintptr_t>(y) % align == 0;
}

// Store of one full vector: non-temporal (aligned) when kStream, ordinary (unaligned) otherwise.
template <bool kStream>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) void store_ps(float* y, __m256 v) {
  if constexpr (kStream) _mm256_stream_ps(y, v);
  else _mm256_storeu_ps(y, v);
}

template <bool kStream>
QB_TARGET_AVX512 static inline __attribute__((always_inline)) void store_ps(float* y, __m512 v) {
  if constexpr (kStream) _mm512_stream_ps(y, v);
  else _mm512_storeu_ps(y, v);
}

// A dequant kernel's body: its row loop with streaming stores of kVectorBytes-wide vectors or
// with ordinary stores, chosen per call by use_stream_stores. The sfence after streaming makes the
// output globally visible before the call returns, since other threads read it next. The row loops
// are function templates of the kernel's file, compiled for its target (a lambda would not be:
// GCC gives lambdas no target attribute of their enclosing function).
using DequantRowsFn = void (*)(const qb_weight*, int64_t, int64_t, float*);

template <uintptr_t kVectorBytes, DequantRowsFn kStreamRows, DequantRowsFn kPlainRows>
inline void dequant_with_stream_stores(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  if (use_stream_stores(out + r0 * w->cols, (r1 - r0) * w->cols, kVectorBytes)) {
    kStreamRows(w, r0, r1, out);
    _mm_sfence();
  } else {
    kPlainRows(w, r0, r1, out);
  }
}

}  // namespace qb::x86

// Which specialisation of an EXL3 kernel runs, and the GEMV kernels' outer function: one copy of
// each for every EXL3 x86 kernel.
//
// Kernels are specialised on the codebook, K (shifts and word counts become immediates) and, for
// the GEMVs, the number of vectors M (accumulators in registers); a kernel instantiates the table
// with its own row function and maps K to whatever it specialises on (e.g. the AVX-512 decoders
// only on K > 4).
//
// Target attributes: this header has none. Its functions run once per call and reach the hot
// loops only through the table's pointers, so each row function is a whole loop compiled for its
// kernel's target. A shared loop body here would be compiled without the target: GCC then refuses
// to inline the kernel's targeted pieces into it (an error for always_inline ones) and a plain
// `static inline` piece becomes a real call inside the loop.
#pragma once
#include <array>
#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

#include "harness/qb_plugin.h"
#include "optimized/mutation.h"
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "reference/exl3/exl3.h"

namespace qb::x86::exl3k {

inline constexpr int kMaxK = 8;      // bits per weight, 1..8 (the format checks its params)
inline constexpr int kMaxBatch = 8;  // vectors per GEMV row call; larger m runs in chunks of 8
inline constexpr int kCodebooks = 3;

// Kernel::Rows<CB, K, M>::fn for every codebook, K = 1..kMaxK and M = 1..NM, indexed by their
// runtime values. Kernels without an M give NM = 1 and ignore it.
//
// Kernel is a type (a struct of the kernel's file, in its unnamed namespace), never a template
// template argument: GCC 12 gives a specialisation whose only file-local argument is a template
// template argument vague external linkage (weak/unique symbols, checked with nm), so two kernel
// files that both passed their own `(anonymous namespace)::Rows` would get one table at link
// time, the first file's, and the other kernel would silently run the first one's rows (correct
// results, wrong speed: the AVX-512 GEMV measured 25% slower at K=4 running the AVX2 rows). A
// file-local type argument makes every specialisation file-local, as the standard says.
template <class Kernel, int NM = 1>
struct Dispatch {
  using Fn = decltype(Kernel::template Rows<exl3::Codebook::inst3, 1, 1>::fn);

  template <int... I>
  static constexpr std::array<Fn, sizeof...(I)> make(std::integer_sequence<int, I...>) {
    return {{Kernel::template Rows<static_cast<exl3::Codebook>(I / (kMaxK * NM)), I / NM % kMaxK + 1,
                                   I % NM + 1>::fn...}};
  }
  static constexpr std::array<Fn, kCodebooks * kMaxK * NM> table =
      make(std::make_integer_sequence<int, kCodebooks * kMaxK * NM>{});

  static Fn pick(exl3::Codebook cb, int K, int m = 1) {
    assert(static_cast<int>(cb) >= 0 && static_cast<int>(cb) < kCodebooks && K >= 1 && K <= kMaxK && m >= 1 &&
           m <= NM);
    return table[(static_cast<int>(cb) * kMaxK + K - 1) * NM + m - 1];
  }
};

// Row function of a GEMV: y[mm][r0..r1) for M vectors of x' = WHT(x∘suh) (xh, [M][k]), with acc
// ((r1 - r0) * M floats, 64-byte aligned) as scratch.
using GemvRowsFn = void (*)(const Args& G, const float* xh, int64_t r0, int64_t r1, float* acc, float* y);

// The outer function of an EXL3 GEMV (the qb_weight ABI). Kernel gives
//   static void input_transform(const Args&, const float* x, int64_t m, float* xh)  (targeted)
//   template <exl3::Codebook CB, int K, int M> struct Rows { static constexpr GemvRowsFn fn; };
// Buffers are per thread and per kernel, kept between calls so a call does not allocate.
template <class Kernel>
void gemv(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  const Args G = exl3::args_of(w);
  thread_local std::vector<float> xh;
  thread_local std::vector<float> acc;
  xh.resize(static_cast<std::size_t>((m < kMaxBatch ? m : kMaxBatch) * G.k));
  acc.resize(static_cast<std::size_t>((r1 - r0) * kMaxBatch + 16));
  float* acc64 = align64(acc.data());
  const float* x = reinterpret_cast<const float*>(act);
  for (int64_t m0 = 0; m0 < m; m0 += kMaxBatch) {
    const int mc = static_cast<int>(m - m0 < kMaxBatch ? m - m0 : kMaxBatch);
    Kernel::input_transform(G, x + (QB_MUTANT_ON(exl3_gemv512_chunk8_x_offset) ? m0 : m0 * G.k), mc, xh.data());
    Dispatch<Kernel, kMaxBatch>::pick(G.cb, G.K, mc)(G, xh.data(), r0, r1, acc64, y + m0 * G.n);
  }
}

}  // namespace qb::x86::exl3k

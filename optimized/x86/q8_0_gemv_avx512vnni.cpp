// q8_0 x q8_0 GEMV, AVX-512 VNNI. Weight rows are consumed as raw 64-byte chunks (see
// ggml_x86_common.h): xor 0x80 makes the int8 weights unsigned for vpdpbusd, and the prepared
// lane seeds (-128 * lane activation sums) cancel that offset exactly; vpermt2w picks each lane's
// d_w out of the loaded chunks, and one FMA per lane accumulates (float)lane_sum * (d_w * d_x).
// Four rows share every activation load.
// GCC 12's AVX-512 headers feed unmasked intrinsics a self-initialized _mm512_undefined_*() value,
// which -Wmaybe-uninitialized reports at every inlined use; the state must be set before the include.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <vector>

#include "optimized/x86/ggml_x86_common.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/blocks.h"

namespace qb::x86 {
namespace {

using ggml_x86::ChunkAct;
using ggml_x86::kChunk;

struct ChunkVecs {
  __m512i x, seed, idx;
  __m512 dx;
};

QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) ChunkVecs load_act(
    const ChunkAct& A, int64_t c, int64_t ph) {
  return {_mm512_load_si512(A.x[0] + c * kChunk), _mm512_load_si512(A.seed + c * 16),
          _mm512_load_si512(A.idx + ph * 32), _mm512_load_ps(A.dx + c * 16)};
}

QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512 chunk_term(
    __m512i w, __m512i prev, const ChunkVecs& a, __m512 acc) {
  const __m512i s = _mm512_dpbusd_epi32(a.seed, _mm512_xor_si512(w, _mm512_set1_epi8(-128)), a.x);
  const __m512i dw = _mm512_permutex2var_epi16(prev, a.idx, w);
  const __m512 scale = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(dw)), a.dx);
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc);
}

template <int R>
QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) void rows(
    const uint8_t* w0, const ChunkAct& A, float* y) {
  __m512 acc[R];
  __m512i prev[R];
  for (int r = 0; r < R; ++r) {
    acc[r] = _mm512_setzero_ps();
    prev[r] = _mm512_setzero_si512();
  }
  int64_t ph = 0;
  for (int64_t c = 0; c < A.nfull; ++c) {
    const ChunkVecs a = load_act(A, c, ph);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * A.row_bytes + c * kChunk;
      // The same chunk of the next row group, into L2: hardware prefetchers barely train on R
      // interleaved short streams, and one group of work ahead covers DRAM latency.
      _mm_prefetch(reinterpret_cast<const char*>(p + R * A.row_bytes), _MM_HINT_T1);
      const __m512i w = _mm512_loadu_si512(p);
      acc[r] = chunk_term(w, prev[r], a, acc[r]);
      prev[r] = w;
    }
    if (++ph == A.period) ph = 0;
  }
  if (A.tail) {
    // Masked loads: the bytes past the row (maybe past the buffer) read as zero and meet zero
    // activation, zero seeds and zero d_x.
    const __mmask64 m = (~0ull) >> (64 - A.tail);
    const ChunkVecs a = load_act(A, A.nfull, ph);
    for (int r = 0; r < R; ++r) {
      const __m512i w = _mm512_maskz_loadu_epi8(m, w0 + r * A.row_bytes + A.nfull * kChunk);
      acc[r] = chunk_term(w, prev[r], a, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

}  // namespace

QB_TARGET_AVX512VNNI void q8_0_gemv_avx512vnni(const QWeight& w, const uint8_t* act, int64_t r0,
                                               int64_t r1, float* y) {
  thread_local std::vector<uint8_t> buf;
  const ChunkAct A = ggml_x86::prepare_chunks<sizeof(ggml::BlockQ8_0), 1, 128>(act, w.cols, buf);
  const uint8_t* data = w.tensor("blocks").data;
  int64_t r = r0;
  for (; r + 8 <= r1; r += 8) rows<8>(data + r * A.row_bytes, A, y + r);
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * A.row_bytes, A, y + r);
  for (; r < r1; ++r) rows<1>(data + r * A.row_bytes, A, y + r);
}

}  // namespace qb::x86

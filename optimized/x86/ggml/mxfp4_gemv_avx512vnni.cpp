// mxfp4 GEMV, AVX-512 VNNI: the AVX2 kernel (mxfp4_gemv_avx2.cpp, whose comment gives the layout
// and why the integer sums are exact) with each vpmaddubsw + vpmaddwd pair replaced by one 256-bit
// vpdpbusd (u8 x s8 products summed in fours into int32 lanes without intermediate saturation),
// so the float side is the AVX2 kernel's, operation for operation.
#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/fp4.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/mxfp4.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockMxfp4);
constexpr int kOffset = 12;  // makes every table value non-negative for vpdpbusd

QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m256 block_term(
    const uint8_t* blk, __m256i table, __m256i x, __m256i seed, __m256 dx, __m256 acc) {
  const __m256i q = _mm256_shuffle_epi8(table, legacy::nibbles(blk + 1));
  const __m256i s = _mm256_dpbusd_epi32(seed, q, x);
  const __m256 scale = _mm256_mul_ps(dx, _mm256_set1_ps(ggml::e8m0_half(blk[0])));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
}

template <int R>
QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) void rows(
    const uint8_t* w0, int64_t row_stride, const ggml_x86::BlockAct& a, int64_t nb, __m256i table, float* y) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k) {
    const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.x + 32 * k));
    const __m256i seed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.seed + 8 * k));
    const __m256 dx = _mm256_broadcast_ss(a.dx + k);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      acc[r] = block_term(p, table, x, seed, dx, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]);
}

}  // namespace

QB_TARGET_AVX512VNNI void mxfp4_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                                float* y) {
  thread_local std::vector<uint8_t> buf;
  const ggml_x86::BlockAct a = ggml_x86::prepare_blocks(act, w->cols, kOffset, buf);
  alignas(16) int8_t shifted[16];
  for (int i = 0; i < 16; ++i) shifted[i] = static_cast<int8_t>(ggml::kValuesFp4[i] + kOffset);
  const __m256i table = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(shifted)));
  const int64_t nb = w->cols / 32, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, a, nb, table, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, a, nb, table, y + r);
}

}  // namespace qb::x86

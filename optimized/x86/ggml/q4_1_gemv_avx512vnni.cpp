// q4_1 GEMV, AVX-512 VNNI: the AVX2 kernel (q4_1_gemv_avx2.cpp, whose comment gives the layout
// and why the integer sums are exact) with each vpmaddubsw + vpmaddwd pair replaced by one 256-bit
// vpdpbusd (u8 x s8 products summed in fours into int32 lanes without intermediate saturation),
// so the float side is the AVX2 kernel's, operation for operation.
#include "optimized/x86/intrinsics.h"

#include <vector>

#include "optimized/x86/ggml/legacy_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q4_1.h"

namespace qb::x86 {
namespace {

constexpr int64_t kBlock = sizeof(ggml::BlockQ4_1);

template <int R>
QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) void rows(
    const uint8_t* w0, int64_t row_stride, const legacy::Q8_1Act& a, int64_t nb, float* y) {
  __m256 acc[R];
  float mins[R];
  for (int r = 0; r < R; ++r) {
    acc[r] = _mm256_setzero_ps();
    mins[r] = 0.0f;
  }
  for (int64_t k = 0; k < nb; ++k) {
    const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.x + 32 * k));
    const __m256 dx = _mm256_broadcast_ss(a.dx + k);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_stride), _MM_HINT_T1);
      const __m256i q = legacy::nibbles(p + 4);
      const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, x);
      const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(ggml::load_u16(p))), dx);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc[r]);
      mins[r] += _cvtsh_ss(ggml::load_u16(p + 2)) * a.sx[k];
    }
  }
  for (int r = 0; r < R; ++r) y[r] = hsum(acc[r]) + mins[r];
}

}  // namespace

QB_TARGET_AVX512VNNI void q4_1_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  thread_local std::vector<uint8_t> buf;
  const legacy::Q8_1Act a = legacy::prepare_q8_1(act, w->cols, buf);
  const int64_t nb = w->cols / 32, row_bytes = nb * kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows<4>(data + r * row_bytes, row_bytes, a, nb, y + r);
  for (; r < r1; ++r) rows<1>(data + r * row_bytes, row_bytes, a, nb, y + r);
}

}  // namespace qb::x86

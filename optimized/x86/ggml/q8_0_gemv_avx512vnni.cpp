// q8_0 x q8_0 GEMV, AVX-512 VNNI, through block_pair_gemv.h: two 34-byte blocks per 512-bit
// register. xor 0x80 makes the int8 weights unsigned for vpdpbusd (w + 128 in [0, 255]), and the
// prepared seeds (-128 * lane activation sums) cancel that offset exactly: a lane stays within
// 4 * 255 * 128 + 4 * 128 * 128 < 2^18 for every int8 pair. Two rows share every activation load:
// with 1-byte weights the loop is bound by DRAM, not by activation loads, and two rows stream best
// here (11008x4096, 1 thread, medians of 5 against the row's probe: two rows 0.90-0.93, four
// 0.79-0.84, eight 0.86; ggml_chunk_gemv_avx512vnni.h's raw-chunk driver, which serves q4_0 with
// eight rows, streamed q8_0 at 0.77-0.81).
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/block_pair_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/ggml_x86_common.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86 {
namespace {

struct Q8_0Pair {
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ8_0);
  static constexpr int kRows = 2;
  static ggml_x86::BlockAct prepare(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf) {
    return ggml_x86::prepare_blocks(act, cols, QB_MUTANT_ON(q8_0_vnni_offset_127) ? 127 : 128, buf);
  }
  template <bool kPair>
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512i codes(const uint8_t* p) {
    __m512i w = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)));
    if constexpr (kPair) w = _mm512_inserti64x4(w, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kBlock + 2)), 1);
    return _mm512_maskz_xor_epi32(kPair ? 0xFFFF : 0x00FF, w, _mm512_set1_epi8(-128));
  }
  template <bool kPair>
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512 scale(const uint8_t* p) {
    __m256i h = _mm256_set1_epi16(static_cast<int16_t>(ggml::load_u16(p)));
    // Mutant q8_0_vnni_pair_scale_low: block k + 1 scaled by block k's d_w.
    const uint8_t* second = QB_MUTANT_ON(q8_0_vnni_pair_scale_low) ? p : p + kBlock;
    if constexpr (kPair) h = _mm256_mask_set1_epi16(h, 0xFF00, static_cast<int16_t>(ggml::load_u16(second)));
    return _mm512_cvtph_ps(h);
  }
};

}  // namespace

QB_TARGET_AVX512VNNI void q8_0_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                               float* y) {
  if constexpr (QB_MUTANT_ON(q8_0_vnni_y_r0)) y -= r0;  // y taken as the call's own rows
  block_pair::gemv<Q8_0Pair>(w, act, r0, r1, y);
}

}  // namespace qb::x86

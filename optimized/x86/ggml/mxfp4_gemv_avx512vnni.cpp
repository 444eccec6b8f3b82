// mxfp4 x q8_0 GEMV, AVX-512 VNNI: two 17-byte blocks per 512-bit register (the unpacking and the
// prepared activation of legacy_gemv.h's Mxfp4: nibbles into the FP4 values + 12 by vpshufb,
// unsigned 0..24, seeds -12 * lane activation sums). Block k's 16 qs bytes fill 128-bit lanes 0
// and 1, block k + 1's lanes 2 and 3; lanes 1 and 3 take the high nibbles (one masked word
// shift), so the 64 codes are elements 0..31 of both blocks in order, against 64 consecutive
// activation bytes; block_pair_gemv.h's row driver, four rows per activation load. One vpdpbusd
// gives 16 exact int32 lanes (|lane| <= 4 * 24 * 128 + 4 * 12 * 128), lanes 0-7 of block k and
// 8-15 of block k + 1, each scaled by its block's e8m0_half(e) * d_x (the reference's product) in
// one FMA. Each product's path: the product of two scales, its lane's FMAs, a
// 4-level lane tree: within mxfp4's bound (reference/ggml/mxfp4.cpp), as the AVX2 kernel's.
#define QB_KERNEL_TARGET QB_TARGET_AVX512VNNI
#include "optimized/x86/ggml/legacy_gemv.h"
#include "optimized/x86/ggml/block_pair_gemv.h"

namespace qb::x86 {
namespace {

using legacy::Mxfp4;

// e8m0_half of every scale byte, read by one broadcast load per block where the decode would
// take a compare and two selects.
struct alignas(64) E8m0Table {
  float v[256];
};
E8m0Table make_e8m0_table() {
  E8m0Table t;
  for (int e = 0; e < 256; ++e) t.v[e] = ggml::e8m0_half(static_cast<uint8_t>(e));
  return t;
}
const E8m0Table kE8m0 = make_e8m0_table();

// The 64 codes of the blocks at p and p + 17 (kPair) or of the block at p alone (upper half 0).
template <bool kPair>
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) __m512i codes64(const uint8_t* p, __m512i table) {
  __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1)));
  v = kPair ? _mm512_mask_broadcast_i32x4(v, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 18)))
            : _mm512_maskz_mov_epi32(0x00FF, v);
  // Mutant mxfp4_vnni_high_lanes_unshifted: lanes 1 and 3 keep the low nibbles.
  constexpr __mmask32 kHighWords = QB_MUTANT_ON(mxfp4_vnni_high_lanes_unshifted) ? 0 : 0xFF00FF00u;
  v = _mm512_and_si512(_mm512_mask_srli_epi16(v, kHighWords, v, 4), _mm512_set1_epi8(0x0F));
  return _mm512_shuffle_epi8(table, v);
}

struct Mxfp4Pair {
  static constexpr int64_t kBlock = Mxfp4::kBlock;
  static constexpr int kRows = 4;
  static ggml_x86::BlockAct prepare(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf) {
    return Mxfp4::prepare(act, cols, buf);
  }
  template <bool kPair>
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512i codes(const uint8_t* p) {
    static constexpr Mxfp4::Table kTable = Mxfp4::shifted();
    return codes64<kPair>(p, _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kTable.v))));
  }
  template <bool kPair>
  QB_TARGET_AVX512VNNI static inline __attribute__((always_inline)) __m512 scale(const uint8_t* p) {
    // Lanes 0-7 block k's scale, 8-15 block k + 1's.
    const __m512 lo = _mm512_set1_ps(kE8m0.v[p[0]]);
    if constexpr (kPair) return _mm512_mask_broadcastss_ps(lo, 0xFF00, _mm_load_ss(&kE8m0.v[p[kBlock]]));
    return lo;
  }
};

}  // namespace

QB_TARGET_AVX512VNNI void mxfp4_gemv_avx512vnni(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1,
                                                float* y) {
  block_pair::gemv<Mxfp4Pair>(w, act, r0, r1, y);
}

}  // namespace qb::x86

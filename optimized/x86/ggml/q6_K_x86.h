// The q6_K x q8_K GEMV block term at AVX-512 (specs/ggml.md 3.16; reference/ggml/q6_K.cpp),
// shared by the avx512 and avx512vbmi kernel files, which differ only in how a register's 6-bit
// codes leave ql and qh and how the scaled int16 pairs reach the int32 lanes.
//
// One 64-byte register per two 32-element groups. Within half h the 64 bytes ql[64h..64h+63] hold
// elements 128h + 0..63 in their low nibbles (t = 0: groups s = 0, 1) and 128h + 64..127 in their
// high nibbles (t = 1: s = 2, 3), in element order, so each pairs with one 64-byte activation
// load; the bit pairs of group s are bits 2s, 2s + 1 of qh[32h..] (its 32 bytes repeated in both
// halves of a register: s = 2t below, 2t + 1 above). Codes::codes(ql, qh, t) returns the unsigned
// codes q + 32 (0..63) as bytes. vpmaddubsw against the int8 activation (|pair sum| <= 2*63*128 =
// 16128) and the 16-element sub-blocks' int8 scales (one vpermw) summed into int32 lanes by
// vpmaddwd and vpaddd or (kVbmi) one vpdpwssd give exact lanes; the +32 offset comes off as
// 32 * sum_j scale_j * bsums_j; one FMA with d*yd per block and a 4-level lane tree, within
// kquant_rounding_depth (reference/ggml/kquant_common.cpp). Four rows (eight at kVbmi) share
// every activation load.
//
// The including kernel file defines QB_KERNEL_TARGET and includes kquant_gemv.h first.
// Everything is in an unnamed namespace: each kernel file's copy carries its own target and
// mutant switches.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/kquant_x86.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q6_K.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86::q6_K {
namespace {

template <class Codes, bool kVbmi>
struct Term512 {
  using Acc = __m512;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ6_K);
  static constexpr bool kMin = false;
  // Eight rows per activation block at the VBMI level (11008x4096 from DRAM, 1 thread, medians of
  // 5 against the row's probe: 0.88-0.94 with eight, 0.77-0.90 with four).
  static constexpr int kRows = kVbmi ? 8 : 4;
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk, const uint8_t* xb,
                                                                             __m512 acc) {
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const int8_t* scales = reinterpret_cast<const int8_t*>(blk + 192);
    // The 16 sub-block scales as int16 lanes 0..15; vpermw spreads four of them over 8 lanes each
    // (no per-block store and reload of a scale table: a store-forwarding stall per group).
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
    const __m512i sc_all = _mm512_castsi256_si512(sc16);
    const __m512i lane_group = kquant::word_group<3>();
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
#pragma GCC unroll 2
      for (int t = 0; t < 2; ++t) {
        const __m512i x = _mm512_loadu_si512(x8 + 128 * h + 64 * t);
        // int16 lanes 8i..8i+7 hold 16 elements of sub-block 8h + 4t + i.
        const __m512i sc = _mm512_permutexvar_epi16(
            _mm512_add_epi16(lane_group, _mm512_set1_epi16(static_cast<int16_t>(8 * h + 4 * t))), sc_all);
        const __m512i prod = _mm512_maddubs_epi16(Codes::codes(ql, qh, t), x);
        if constexpr (kVbmi)
          isum = _mm512_dpwssd_epi32(isum, prod, sc);
        else
          isum = _mm512_add_epi32(isum, _mm512_madd_epi16(prod, sc));
      }
    }
    const __m256i bsums = kquant::q8_K_bsums16(xb);
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5);  // 32 * scale * bsum
    if constexpr (!QB_MUTANT_ON(q6_K_gemv512_offset_dropped))
      isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(offset));
    const float dall = _cvtsh_ss(ggml::load_u16(blk + 208)) * ggml::q8_K_d(xb);
    return _mm512_fmadd_ps(_mm512_set1_ps(dall), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace
}  // namespace qb::x86::q6_K

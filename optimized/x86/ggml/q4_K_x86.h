// The q4_K x q8_K GEMV block term at AVX-512 (specs/ggml.md 3.14; reference/ggml/q4_K.cpp), shared
// by the avx512 and avx512vbmi kernel files, which differ only in how a chunk's nibbles are split
// (Nibbles::split: nibbles.h's split_nibbles_avx512 or split_nibbles_gfni) and how codes, activation
// and scales meet.
//
// One 64-byte register per 64-element chunk: the chunk's low nibbles (elements 64c..64c+31) and
// high nibbles (64c+32..64c+63) side by side are the chunk's elements in order, so one 64-byte
// activation load pairs with them. Without kVbmi, vpmaddubsw (|pair sum| <= 3840), then vpmaddwd
// by the two sub-blocks' 6-bit scales and vpaddd; with kVbmi, two chunks' vpdpbusd lane sums as
// the words of one register (kquant::pair_lane_sums), then one vpdpwssd by their scales. Either
// way the int32 lanes are exact; one FMA with d*yd per block; the scales and mins decoded in
// vector registers (k4_scales), the min term's eight lanes min_j*(bsums_2j + bsums_2j+1) through one FMA with
// dmin*yd into their own accumulator, subtracted after the lane sums (q5_K's way). Each term's
// path stays within kquant_rounding_depth (reference/ggml/kquant_common.cpp). Four rows share
// every activation load.
//
// The including kernel file defines QB_KERNEL_TARGET and includes kquant_gemv.h first.
// Everything is in an unnamed namespace: each kernel file's copy carries its own target and
// mutant switches.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q4_K.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86::q4_K {
namespace {

// kVbmi's scale words for chunk pair p: word 2i + h is lane i of chunk 2p + h, whose sub-block is
// 2(2p + h) + (i >= 8) (the split puts a chunk's high nibbles, sub-block 2c + 1, in lanes 8-15).
struct alignas(64) PairScaleIndex {
  int16_t w[2][32];
  constexpr PairScaleIndex() : w{} {
    // Mutant q4_K_vbmi_pair_scales_swapped: each chunk of a pair scaled by the other's sub-blocks.
    const int swap = QB_MUTANT_ON(q4_K_vbmi_pair_scales_swapped) ? 1 : 0;
    for (int p = 0; p < 2; ++p)
      for (int k = 0; k < 32; ++k) w[p][k] = static_cast<int16_t>(4 * p + 2 * ((k & 1) ^ swap) + k / 16);
  }
  const int16_t* operator[](int p) const { return w[p]; }
};
constexpr PairScaleIndex kPairScaleIndex;

template <class Nibbles, bool kVbmi>
struct Term512 {
  using Acc = __m512;
  using MinAcc = __m256;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ4_K);
  static constexpr bool kMin = true;
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) void block(const uint8_t* blk, const uint8_t* xb,
                                                                           __m512& acc, __m256& mins) {
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const kquant::K4Scales ks = kquant::k4_scales(blk + 4, xb);
    const __m128 dd = kquant::scale_pair(blk, ggml::q8_K_d(xb));
    // Scale words for the chunks (sub-block 2c under chunk c's low nibbles, 2c + 1 under its
    // high ones) by one vpermw each from the eight scale words.
    const __m512i sc_all = _mm512_castsi128_si512(ks.sc16);
    __m512i isum = _mm512_setzero_si512();
    if constexpr (kVbmi) {
      // Chunks 2p and 2p + 1 through kquant::pair_lane_sums (|sum| <= 4*15*128).
#pragma GCC unroll 2
      for (int p = 0; p < 2; ++p) {
        const __m512i sums = kquant::pair_lane_sums(Nibbles::split(blk + 16 + 64 * p), _mm512_loadu_si512(x8 + 128 * p),
                                                    Nibbles::split(blk + 48 + 64 * p),
                                                    _mm512_loadu_si512(x8 + 128 * p + 64));
        const __m512i sc = _mm512_permutexvar_epi16(_mm512_load_si512(kPairScaleIndex[p]), sc_all);
        isum = _mm512_dpwssd_epi32(isum, sums, sc);
      }
    } else {
      const __m512i half = kquant::word_group<4>();
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        const __m512i q = Nibbles::split(blk + 16 + 32 * c);
        const __m512i x = _mm512_loadu_si512(x8 + 64 * c);
        // Mutant q4_K_gemv512_scale_pair: the high nibbles scaled by sub-block 2c's scale too.
        const __m512i pick = QB_MUTANT_ON(q4_K_gemv512_scale_pair) ? _mm512_setzero_si512() : half;
        const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(pick, _mm512_set1_epi16(static_cast<int16_t>(2 * c))), sc_all);
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(_mm512_maddubs_epi16(q, x), s));
      }
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(_mm_cvtss_f32(dd)), _mm512_cvtepi32_ps(isum), acc);
    mins = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(ks.min_lanes), mins);
  }
};

}  // namespace
}  // namespace qb::x86::q4_K

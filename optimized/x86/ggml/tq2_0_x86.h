// The tq2_0 x q8_K GEMV block term at AVX-512 (specs/ggml.md 3.19; reference/ggml/tq2_0.cpp),
// shared by the avx512, avx512vnni and avx512vbmi kernel files, which differ only in how a
// chunk's codes leave the stored bytes and how they meet the activation.
//
// One register per 64 elements: chunk k (k = 0..3) of all 64 qs bytes, bits 2k and 2k + 1, holds
// the codes (0..3) of elements 32k..32k+31 (from qs[0..31]) and 128+32k..128+32k+31 (from
// qs[32..63]); the activation is regrouped in that order once per call (kquant_gemv.h's
// W16::pair_halves, as q2_K's), so one load pairs with each chunk. The stored value is code - 1;
// the +1 offset is removed through the 16 q8_K bsums. Summed either
//  - in int16 lanes (kVnni false): vpmaddubsw of codes against the int8 activation (|pair sum|
//    <= 2*3*128), four chunks added (<= 3072), the bsums subtracted (|lane| <= 3072 + 16*128),
//    vpmaddwd by ones to int32; or
//  - in int32 lanes (kVnni true): one vpdpbusd per chunk (unsigned codes times int8, |lane| <=
//    4*4*3*128 + 16*128), started from the prepared seeds, minus the sum of each lane's 16
//    activation codes over the four chunks (SeededActivation; every lane meets the same scale, so
//    only their total matters, and it is -sum x8: the offset, with no per-block vpdpwssd).
// Either way the lanes hold the block's exact sum (code - 1)*x8; one FMA with yd*d per block and
// kquant_gemv.h's 4-level lane tree stay within tq2_0's rounding depth. Eight rows share every
// activation load (Term::kRows).
//
// The including kernel file defines QB_KERNEL_TARGET and includes kquant_gemv.h first; it passes
// Codes, whose static codes(raw, k) returns chunk k's codes as bytes 0..3. Everything is in an
// unnamed namespace: each kernel file's copy carries its own target and mutant switches.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/kquant_x86.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/tq2_0.h"

namespace qb::x86::tq2_0 {
namespace {

// The regrouped activation (W16::pair_halves) with 16 int32 seeds after each q8_K block.
struct SeededActivation {
  static constexpr int64_t kSeeds = sizeof(ggml::BlockQ8_K), kActBlock = kSeeds + 64;
  static const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
    kquant::W16::pair_halves(act, nb, buf, kActBlock);
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* dst = buf.data() + b * kActBlock;
      const int8_t* x8 = ggml::q8_K_qs(dst);
      // Mutant tq2_0_vnni_seed_half: the seeds take chunks 0 and 1 only, so elements of chunks 2
      // and 3 count as code, not code - 1.
      const int chunks = QB_MUTANT_ON(tq2_0_vnni_seed_half) ? 2 : 4;
      for (int lane = 0; lane < 16; ++lane) {
        int32_t seed = 0;
        for (int k = 0; k < chunks; ++k)
          for (int j = 0; j < 4; ++j) seed -= x8[64 * k + 4 * lane + j];
        std::memcpy(dst + kSeeds + 4 * lane, &seed, 4);
      }
    }
    return buf.data();
  }
};

template <bool kVnni>
using Tq2Activation = std::conditional_t<kVnni, SeededActivation, kquant::TwoBitActivation<kquant::W16>>;

template <class Codes, bool kVnni>
struct Term512 : Tq2Activation<kVnni> {
  using Acc = __m512;
  static constexpr int64_t kBlock = sizeof(ggml::BlockTQ2_0);
  static constexpr bool kMin = false;
  static constexpr int kRows = 8;
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk, const uint8_t* xb,
                                                                             __m512 acc) {
    const int8_t* x8 = ggml::q8_K_qs(xb);
    const __m512i raw = _mm512_loadu_si512(blk);
    __m512i isum;
    if constexpr (kVnni) {
      isum = _mm512_loadu_si512(xb + SeededActivation::kSeeds);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        isum = _mm512_dpbusd_epi32(isum, Codes::codes(raw, k), _mm512_loadu_si512(x8 + 64 * k));
      }
    } else {
      const __m256i bsums = kquant::q8_K_bsums16(xb);
      __m512i s16 = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        s16 = _mm512_add_epi16(s16, _mm512_maddubs_epi16(Codes::codes(raw, k), _mm512_loadu_si512(x8 + 64 * k)));
      }
      isum = _mm512_madd_epi16(_mm512_sub_epi16(s16, _mm512_zextsi256_si512(bsums)), _mm512_set1_epi16(1));
    }
    const float d = ggml::q8_K_d(xb) * _cvtsh_ss(ggml::load_u16(blk + 64));
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};

// Chunk k's codes by a word shift by 2k and a mask (AVX-512BW).
struct ShiftCodes {
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512i codes(__m512i raw, int k) {
    // Mutant tq2_0_gemv512_shift_k: the codes of chunk k taken from bits k, not 2k.
    const int shift = QB_MUTANT_ON(tq2_0_gemv512_shift_k) ? k : 2 * k;
    return _mm512_and_si512(_mm512_srli_epi16(raw, shift), _mm512_set1_epi8(0x03));
  }
};

}  // namespace
}  // namespace qb::x86::tq2_0

// The iq4_xs x q8_K GEMV block term at AVX-512 (specs/ggml.md 3.21; reference/ggml/iq4_xs.cpp),
// shared by the avx512 and avx512vbmi kernel files, which differ only in how a chunk's nibbles are
// split (Nibbles: nibbles.h's SplitNibblesAvx512 or SplitNibblesGfni), how the levels take the
// activation's sign and how the scaled int16 pairs reach the int32 lanes.
//
// 64 elements per register. The 32 qs bytes of sub-blocks 2p, 2p+1 give their low nibbles then
// their high nibbles, so the 16-byte lanes of one register hold the elements
// 64p + {0..15, 32..47, 16..31, 48..63}; vpshufb maps the nibbles to kvalues_iq4nl levels
// (signed, -127..113). The activation is prepared once per call in that order (prepare_act): |x8|
// as unsigned bytes (|-128| = 128 included) and the signs of x8, which flip the level's sign
// instead (-level stays in -113..127): a mask and a masked subtract, or (kVbmi) 16 or-ed into the
// nibble of a negative x8 and one vpermb from the 32 levels and negated levels; so vpmaddubsw(|x8|, +-level) is level*x8 per byte
// exactly (|pair sum| <= 2*128*127 = 32512, no saturation). The pairs times the sub-block's signed
// scale ls - 32 (one vpermw from the eight scale words, signed_scales) are summed into 16 int32
// lanes, by vpmaddwd and vpaddd or (kVbmi) by one vpdpwssd: the lanes hold the exact
// sums of their own elements (|lane| <= 4*2*32512*32 < 2^24, an exact conversion). One FMA with
// d_w*d_x per block, the 4-level lane tree after the row: 6 + cols/256 roundings, within
// iq_q8_K_rounding_depth. Four rows share every activation load (kquant_gemv.h's row loop and
// prefetch).
//
// The including kernel file defines QB_KERNEL_TARGET and includes kquant_gemv.h first.
// Everything is in an unnamed namespace: each kernel file's copy carries its own target and
// mutant switches.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq4_xs.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86::iq4_xs {
namespace {

// Prepared activation block: four 64-byte chunks of |x8| in the register order above, then the
// chunks' signs: without kSignBytes four uint64 masks (bit e = x8 < 0), with it four 64-byte
// chunks of 16 under each negative x8 (0 elsewhere); then q8_K's fp32 d.
template <bool kSignBytes>
struct Prepared {
  static constexpr int64_t kSigns = 4 * 64, kDx = kSigns + (kSignBytes ? 4 * 64 : 32);
  static constexpr int64_t kBytes = (kDx + 4 + 63) / 64 * 64;  // blocks stay 64-byte aligned
};

template <bool kSignBytes>
inline const uint8_t* prepare_act(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
  using P = Prepared<kSignBytes>;
  buf.assign(static_cast<std::size_t>(nb * P::kBytes + 64), 0);
  uint8_t* base = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  static constexpr int kLaneStart[4] = {0, 32, 16, 48};
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* xb = act + k * int64_t(sizeof(ggml::BlockQ8_K));
    const int8_t* x8 = ggml::q8_K_qs(xb);
    uint8_t* p = base + k * P::kBytes;
    for (int c = 0; c < 4; ++c) {
      uint64_t mask = 0;
      for (int e = 0; e < 64; ++e) {
        const int v = x8[64 * c + kLaneStart[e / 16] + e % 16];
        p[64 * c + e] = static_cast<uint8_t>(v < 0 ? -v : v);
        if (v < 0) mask |= uint64_t{1} << e;
        // Mutant iq4_xs_vbmi_sign_bit_8: the sign selects table entries 8 apart, not 16.
        if constexpr (kSignBytes) p[P::kSigns + 64 * c + e] = v < 0 ? (QB_MUTANT_ON(iq4_xs_vbmi_sign_bit_8) ? 8 : 16) : 0;
      }
      if constexpr (!kSignBytes) std::memcpy(p + P::kSigns + 8 * c, &mask, 8);
    }
    std::memcpy(p + P::kDx, xb, 4);
  }
  return base;
}

// The eight signed sub-block scales ls - 32 as int16 words 0..7: the low nibbles of scales_l
// (sub-block 2j in byte j's low nibble, 2j + 1 in its high one) and bits 2ib..2ib+1 of scales_h.
// kPdep: deposited into bytes by two pdep (one cycle from Ice Lake and Zen 3 on; microcoded on
// Zen 1/2), else unpacked in vector registers.
template <bool kPdep>
QB_TARGET_AVX512 inline __attribute__((always_inline)) __m128i signed_scales(const uint8_t* blk) {
  uint32_t l;
  std::memcpy(&l, blk + 4, 4);
  if constexpr (kPdep) {
    // Mutant iq4_xs_vbmi_scale_high_bits: the two high bits land on bits 5-6 instead of 4-5.
    constexpr uint64_t kHigh = QB_MUTANT_ON(iq4_xs_vbmi_scale_high_bits) ? 0x6060606060606060ull : 0x3030303030303030ull;
    const uint64_t b = _pdep_u64(l, 0x0F0F0F0F0F0F0F0Full) | _pdep_u64(ggml::load_u16(blk + 2), kHigh);
    return _mm_sub_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(b))), _mm_set1_epi16(32));
  }
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i v = _mm_cvtsi32_si128(static_cast<int32_t>(l));
  const __m128i low = _mm_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(v, m4), _mm_and_si128(_mm_srli_epi16(v, 4), m4)));
  const __m128i high = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16(static_cast<int16_t>(ggml::load_u16(blk + 2))),
                                                    _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)),
                                     _mm_set1_epi16(3));
  return _mm_sub_epi16(_mm_or_si128(low, _mm_slli_epi16(high, 4)), _mm_set1_epi16(32));
}

// kVbmi: the VBMI level's sums (vpdpwssd) and scales (signed_scales<true>).
template <class Nibbles, bool kVbmi>
struct Term512 {
  using Acc = __m512;
  static constexpr int64_t kBlock = sizeof(ggml::BlockIQ4_XS);
  static constexpr bool kMin = false;
  using P = Prepared<kVbmi>;
  static constexpr int64_t kActBlock = P::kBytes;
  static const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
    return prepare_act<kVbmi>(act, nb, buf);
  }

  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk, const uint8_t* xb,
                                                                             __m512 acc) {
    const __m512i table =
        _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kvalues_iq4nl)));
    const __m512i signed_table = _mm512_mask_sub_epi8(table, 0xFFFF0000ull, _mm512_setzero_si512(), table);
    const __m512i sc_all = _mm512_castsi128_si512(signed_scales<kVbmi>(blk));
    // Word w of a chunk's products belongs to 16-byte lane w / 8: sub-block 2p + (w / 8) % 2.
    const __m512i odd = _mm512_and_si512(kquant::word_group<3>(), _mm512_set1_epi16(1));
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      __m512i signed_level;
      if constexpr (kVbmi) {
        // Index 16 + n (a negative x8): -kvalues_iq4nl[n], one vpermb for level and sign.
        signed_level = _mm512_permutexvar_epi8(
            _mm512_or_si512(Nibbles::split(blk + 8 + 32 * c), _mm512_load_si512(xb + P::kSigns + 64 * c)), signed_table);
      } else {
        const __m512i level = _mm512_shuffle_epi8(table, Nibbles::split(blk + 8 + 32 * c));
        uint64_t neg;
        std::memcpy(&neg, xb + P::kSigns + 8 * c, 8);
        // Mutant iq4_xs_gemv512_sign_dropped: the levels never take the activation's sign.
        signed_level = QB_MUTANT_ON(iq4_xs_gemv512_sign_dropped)
                           ? level
                           : _mm512_mask_sub_epi8(level, neg, _mm512_setzero_si512(), level);
      }
      // Mutant iq4_xs_vbmi_scale_pair: both sub-blocks of a chunk scaled by the even one's scale.
      const __m512i sub = QB_MUTANT_ON(iq4_xs_vbmi_scale_pair) ? _mm512_setzero_si512() : odd;
      const __m512i s =
          _mm512_permutexvar_epi16(_mm512_add_epi16(sub, _mm512_set1_epi16(static_cast<int16_t>(2 * c))), sc_all);
      const __m512i prod = _mm512_maddubs_epi16(_mm512_load_si512(xb + 64 * c), signed_level);
      if constexpr (kVbmi)
        isum = _mm512_dpwssd_epi32(isum, prod, s);
      else
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(prod, s));
    }
    float dx;
    std::memcpy(&dx, xb + P::kDx, 4);
    const float dall = _cvtsh_ss(ggml::load_u16(blk)) * dx;
    return _mm512_fmadd_ps(_mm512_set1_ps(dall), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace
}  // namespace qb::x86::iq4_xs

// The row loop of the k-quant (q2_K..q6_K), tq1_0, tq2_0, iq4_xs and iq2_xxs GEMVs against the q8_K
// activation (AVX2 and AVX-512; iq4_xs and iq2_xxs AVX-512 only), templated on the kernel's block term:
// Term::kBlock (stored bytes per weight block), Term::Acc (the row's fp32 vector accumulator,
// __m256 or __m512), Term::kMin, and
// Term::block, which accumulates one weight block against one activation block (for kMin formats
// with the min term beside it, in one float or, where the term names Term::MinAcc, in a vector of
// lanes; subtracted after the lane sums). A term that reads the activation regrouped also has
// Term::kActBlock (bytes per prepared block) and Term::prepare(act, nb, buf), which writes the nb
// prepared blocks into buf once per call (scalar, O(cols), amortized over the call's rows) and
// returns them; Term::block then gets prepared blocks. Term::kRowScale, where named, multiplies
// each row's sum. Four rows (eight where the term says so in
// Term::kRows) share every activation block, their accumulators stay in registers, and every
// cache line of the next row group's block is prefetched into L2 (hardware prefetchers barely
// train on four interleaved short streams; a block spans two to five lines).
//
// The block terms of q2_K, q3_K and q5_K are written once here over the vector width (W8: AVX2,
// W16: AVX-512, which differ only in how a block's codes are paired with 32- or 64-byte
// activation loads; for q2_K and q3_K, W16 prepares the activation regrouped so that one shift
// serves both halves of a block's codes); their kernel files pick the width (and W16Vbmi, W16's
// VBMI-level forms). The AVX-512 terms
// of q4_K, q6_K, tq2_0 and iq4_xs live in <format>_x86.h, shared by the kernel files that differ
// in ISA level; the others in their kernel files.
//
// Every function here carries the including kernel's ISA target, so the including file defines
// QB_KERNEL_TARGET (QB_TARGET_AVX2 or QB_TARGET_AVX512) first and includes this header once.
// Everything is in an unnamed namespace: each kernel file's copy is its own, compiled for its
// target and with its own mutant switches (a mutant plugin compiles one kernel file).
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/kquant_x86.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/nibbles.h"
#include "optimized/x86/reduce.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/kquant_common.h"
#include "reference/ggml/q2_K.h"
#include "reference/ggml/q3_K.h"
#include "reference/ggml/q4_K.h"
#include "reference/ggml/q5_K.h"
#include "reference/ggml/q8_K_activation.h"

#ifndef QB_KERNEL_TARGET
#error "define QB_KERNEL_TARGET (the kernel's ISA target) before including kquant_gemv.h"
#endif

namespace qb::x86::kquant {
namespace {

// Word w of a 512-bit register holds w >> kShift: the index of its group of 2^kShift words, which
// the AVX-512 terms turn into vpermw indices of their sub-block scales.
template <int kShift>
QB_TARGET_AVX512 inline __attribute__((always_inline)) __m512i word_group() {
  return _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13,
                                            12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                           kShift);
}

// Two chunks' vpdpbusd lane sums (unsigned codes u0, u1 against int8 x0, x1) as the low (u0) and
// high (u1) words of each int32 lane, for one vpdpwssd by both chunks' scale words: three
// multiply-pipe ops per two chunks where vpmaddubsw and vpdpwssd per chunk take four. Exact where
// every lane sum fits int16 (the caller's codes bound it).
QB_TARGET_AVX512VNNI inline __attribute__((always_inline)) __m512i pair_lane_sums(__m512i u0, __m512i x0, __m512i u1,
                                                                                   __m512i x1) {
  const __m512i zero = _mm512_setzero_si512();
  return _mm512_mask_blend_epi16(0xAAAAAAAA, _mm512_dpbusd_epi32(zero, u0, x0),
                                 _mm512_slli_epi32(_mm512_dpbusd_epi32(zero, u1, x1), 16));
}

QB_TARGET_AVX2 inline __attribute__((always_inline)) void set_zero(__m256& v) { v = _mm256_setzero_ps(); }
QB_TARGET_AVX512 inline __attribute__((always_inline)) void set_zero(__m512& v) { v = _mm512_setzero_ps(); }

// The scalar part of a q4_K block term at either width: the 8 sub-blocks' 6-bit scales sc and
// mins, summs = sum_j min_j * (activation sum of sub-block j's 32 elements) (exact in int32),
// dall = d*yd and dmin = dmin_w*yd (the reference's products).
struct Q4_KScalars {
  uint8_t sc[8];
  int32_t summs;
  float dall, dmin;
};

QB_TARGET_AVX2 inline __attribute__((always_inline)) Q4_KScalars q4_K_scalars(const uint8_t* blk, const uint8_t* xb) {
  Q4_KScalars s;
  uint8_t mn[8];
  for (int j = 0; j < 8; ++j) ggml::get_scale_min_k4(j, blk + 4, s.sc[j], mn[j]);
  s.summs = 0;
  for (int j = 0; j < 8; ++j) s.summs += (ggml::q8_K_bsum(xb, 2 * j) + ggml::q8_K_bsum(xb, 2 * j + 1)) * mn[j];
  const float yd = ggml::q8_K_d(xb);
  s.dall = _cvtsh_ss(ggml::load_u16(blk)) * yd;
  s.dmin = _cvtsh_ss(ggml::load_u16(blk + 2)) * yd;
  return s;
}

// Whether Term prepares the activation (has kActBlock and prepare), and the bytes per activation
// block Term::block reads: Term::kActBlock then, the q8_K block otherwise.
template <class Term, class = void>
struct Prepares : std::false_type {};
template <class Term>
struct Prepares<Term, std::void_t<decltype(Term::kActBlock)>> : std::true_type {};
template <class Term>
constexpr int64_t act_block() {
  if constexpr (Prepares<Term>::value)
    return Term::kActBlock;
  else
    return sizeof(ggml::BlockQ8_K);
}

// Rows per group: Term::kRows (4 or 8) where the term names it, else 4. Eight pay where a block
// term is short (tq2_0: more loads in flight per activation block), four where its registers
// would spill.
template <class Term, class = void>
struct RowGroup : std::integral_constant<int, 4> {};
template <class Term>
struct RowGroup<Term, std::void_t<decltype(Term::kRows)>> : std::integral_constant<int, Term::kRows> {};
template <class Term>
constexpr int row_group() {
  static_assert(RowGroup<Term>::value == 4 || RowGroup<Term>::value == 8, "kquant::gemv: kRows is 4 or 8");
  return RowGroup<Term>::value;
}

// A factor on each row's sum where the term names one (Term::kRowScale: iq2_xxs's 0.125f, applied
// to the row sum as upstream does), else none.
template <class Term, class = void>
struct HasRowScale : std::false_type {};
template <class Term>
struct HasRowScale<Term, std::void_t<decltype(Term::kRowScale)>> : std::true_type {};

QB_TARGET_AVX2 inline __attribute__((always_inline)) void set_zero(float& v) { v = 0.0f; }
QB_TARGET_AVX2 inline __attribute__((always_inline)) float hsum(float v) { return v; }
using x86::hsum;

// The min accumulator of a kMin term: Term::MinAcc (a vector of min-term lanes, summed by the same
// tree as the scale term's lanes) where the term names one, else one float.
template <class Term>
auto min_acc_of(int) -> typename Term::MinAcc;
template <class Term>
float min_acc_of(long);

// Every cache line of the kBytes-byte block at p into L2 (a block spans up to kBytes / 64 + 2 lines).
template <int64_t kBytes>
QB_TARGET_AVX2 inline __attribute__((always_inline)) void prefetch_block(const uint8_t* p) {
  for (int64_t off = 0; off < kBytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T1);
  _mm_prefetch(reinterpret_cast<const char*>(p + kBytes - 1), _MM_HINT_T1);
}

template <class Term, int R>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void rows(const uint8_t* w0, int64_t row_stride,
                                                                 const uint8_t* act, int64_t nb, float* y) {
  constexpr int64_t kActBlock = act_block<Term>();
  typename Term::Acc acc[R];
  decltype(min_acc_of<Term>(0)) mins[R];
  for (int r = 0; r < R; ++r) {
    set_zero(acc[r]);
    set_zero(mins[r]);
  }
  for (int64_t k = 0; k < nb; ++k)
    // Unrolled, so that the accumulators stay in registers.
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w0 + r * row_stride + k * Term::kBlock;
      prefetch_block<Term::kBlock>(p + R * row_stride);
      if constexpr (Term::kMin)
        Term::block(p, act + k * kActBlock, acc[r], mins[r]);
      else
        acc[r] = Term::block(p, act + k * kActBlock, acc[r]);
    }
  for (int r = 0; r < R; ++r) {
    if constexpr (Term::kMin)
      y[r] = hsum(acc[r]) - hsum(mins[r]);
    else
      y[r] = hsum(acc[r]);
    if constexpr (HasRowScale<Term>::value) y[r] *= Term::kRowScale;
  }
}

// Op::gemv rows [r0, r1) of w against act (the q8_K activation of w->cols values, spec section
// 3.17): y[r] for each row r.
template <class Term>
QB_KERNEL_TARGET inline __attribute__((always_inline)) void gemv(const qb_weight* w, const uint8_t* act, int64_t r0,
                                                                 int64_t r1, float* y) {
  const int64_t nb = w->cols / ggml::kQK_K, row_bytes = nb * Term::kBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w->tensors[0].data);
  if constexpr (Prepares<Term>::value) {  // once per call, per thread
    thread_local std::vector<uint8_t> buf;
    act = Term::prepare(act, nb, buf);
  }
  int64_t r = r0;
  if constexpr (row_group<Term>() == 8)
    for (; r + 8 <= r1; r += 8) rows<Term, 8>(data + r * row_bytes, row_bytes, act, nb, y + r);
  for (; r + 4 <= r1; r += 4) rows<Term, 4>(data + r * row_bytes, row_bytes, act, nb, y + r);
  for (; r < r1; ++r) rows<Term, 1>(data + r * row_bytes, row_bytes, act, nb, y + r);
}


// ---- q2_K, q3_K, q5_K block terms over the vector width ----
//
// Integer part, exact: vpmaddubsw of unsigned codes u (q2_K 0..3, q3_K q + 4 in 0..7, q5_K 0..31)
// against the int8 activation (|pair sum| <= 2*31*128 = 7936 < 2^15 for any int8, -128 included),
// vpmaddwd by the sub-block's scale (q2_K 0..15, q3_K -32..31, q5_K 0..63; |lane| < 2^20) and
// int32 lane sums over the block (< 2^24): the lanes hold sum_e scale_e*u_e*x8_e exactly. q3_K's
// +4 comes off as 4*sum_j scale_j*bsums_j (q6_K's offset trick), so the lanes hold the exact
// sum scale*q*x8 of spec 4.2 for every int8 activation. The min terms of q2_K and q5_K are exact
// int32 lanes too: min_j * bsums by vpmaddwd (|lane| <= 2*63*2048 < 2^20).
// Float part: one FMA of the lanes with d*yd per block; the min lanes (sum_j bsums_j*min_j split
// over eight lanes, as q4_K's scalar summs) take one FMA with dmin*yd into a second, 8-lane
// accumulator, whose lane sum is subtracted from the scale term's at the end. Each term's path:
// d*yd or dmin*yd, the FMA, the block chain, a 3-level (8 lanes) or 4-level (16) tree and the
// final subtraction: within kquant_rounding_depth (reference/ggml/kquant_common.cpp), as every
// correct evaluation order is.

// vpshufb indices that fill 128-bit lane i of a register with word w[i] of the same lane of the
// source (a source holding the same 8 words in every lane).
QB_TARGET_AVX2 inline __attribute__((always_inline)) __m128i word_index(int w) {
  return _mm_set1_epi16(static_cast<int16_t>(2 * w | (2 * w + 1) << 8));
}

// Where a 2-bit term's 16 sub-block scales sit: in two 16-byte tables (table(j) of sub-block j;
// the low and high 128 bits of the __m256i the term passes), picked as int16 words by the vpshufb
// indices index(j).
// q2_K: the scale nibbles as bytes (zero-extended: index byte 0x80 gives 0), one table.
struct NibbleScales {
  static constexpr int table(int) { return 0; }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m128i index(int j) {
    return _mm_set1_epi16(static_cast<int16_t>(j | 0x8000));
  }
};
// q3_K: int16 words, sub-blocks 0..7 in table 0 and 8..15 in table 1 (q3_K_scales16's halves).
struct WordScales {
  static constexpr int table(int j) { return j / 8; }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m128i index(int j) { return word_index(j % 8); }
};

struct W8 {
  using Acc = __m256;
  using Int = __m256i;

  // int32 lanes of sum_e scale_(e/16)*u_e*x8_e over the block: u_e the 2-bit code of element e =
  // 128h + 32k + l (bits 2k of qs[32h + l], spec 3.12) plus, with kHigh, 4 * bit 4h + k of
  // hmask[l] (spec 3.13); the scales as Sc places them in tab. One register per 32
  // elements (sub-blocks j = 8h + 2k in int16 lanes 0-7, j + 1 in 8-15), scales picked by vpshufb
  // from the table repeated in both 128-bit lanes.
  template <bool kHigh, class Sc>
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i dot_2bit(const uint8_t* qs,
                                                                               const uint8_t* hmask,
                                                                               __m256i tab, const int8_t* x8) {
    const __m256i m2 = _mm256_set1_epi8(0x03), bit2 = _mm256_set1_epi8(0x04);
    const __m256i tabs[2] = {_mm256_permute4x64_epi64(tab, 0x44), _mm256_permute4x64_epi64(tab, 0xEE)};
    __m256i hm = _mm256_setzero_si256();
    if constexpr (kHigh) hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hmask));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * h));
      for (int k = 0; k < 4; ++k) {
        // Mutant q2_K_gemv2_shift_k: the codes of group k taken from bits k, not 2k.
        const int shift = QB_MUTANT_ON(q2_K_gemv2_shift_k) ? k : 2 * k;
        __m256i u = _mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(shift)), m2);
        // Mutant q3_K_gemv2_hmask_half: both halves read the hmask bits of half 0 (bit k).
        const int hbit = QB_MUTANT_ON(q3_K_gemv2_hmask_half) ? k : 4 * h + k;
        if constexpr (kHigh) u = _mm256_or_si256(u, _mm256_and_si256(move_bit(hm, hbit, 2), bit2));
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 128 * h + 32 * k));
        const int j = 8 * h + 2 * k;  // Sc::table(j) == Sc::table(j + 1)
        const __m256i sc =
            _mm256_shuffle_epi8(tabs[Sc::table(j)], _mm256_set_m128i(Sc::index(j + 1), Sc::index(j)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), sc));
      }
    }
    return isum;
  }

  // int32 lanes of sum_e sc_(e/32)*u_e*x8_e over the block: u_e = q5_K's nibble of element e =
  // 64c + l (low nibble of qs[32c + l]) or 64c + 32 + l (high nibble) plus 16 * bit 2c or 2c + 1
  // of qh[l] (spec 3.15); sc16 the 8 sub-block scales as words. One register per 32 elements.
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i dot_5bit(const uint8_t* qs, const uint8_t* qh,
                                                                               __m128i sc16, const int8_t* x8) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
    const __m256i sc2 = _mm256_broadcastsi128_si256(sc16);
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
      // Mutant q5_K_gemv2_fifth_bit_c: the fifth bits of chunk c taken from bits c and c + 1, not 2c, 2c + 1.
      const int b = QB_MUTANT_ON(q5_K_gemv2_fifth_bit_c) ? c : 2 * c;
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(raw, m4), _mm256_and_si256(move_bit(hb, b, 4), bit4));
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4),
                                         _mm256_and_si256(move_bit(hb, b + 1, 4), bit4));
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 64 * c));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x8 + 64 * c + 32));
      const __m256i s0 = _mm256_shuffle_epi8(sc2, _mm256_broadcastsi128_si256(word_index(2 * c)));
      const __m256i s1 = _mm256_shuffle_epi8(sc2, _mm256_broadcastsi128_si256(word_index(2 * c + 1)));
      const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x0), s0);
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x1), s1);
      isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
    }
    return isum;
  }

  // isum minus eight int32 lanes v.
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i sub8(__m256i isum, __m256i v) {
    return _mm256_sub_epi32(isum, v);
  }
  QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 fma(float d, __m256i isum, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
  }
};

// kVbmi: the VBMI level's forms (Ice Lake / Zen 4, GFNI and VNNI): codes out of the stored bytes
// by one vgf2p8affineqb (nibbles.h) instead of shifts and masks, and the scaled int16 pairs summed
// into the int32 lanes by one vpdpwssd instead of vpmaddwd and vpaddd. Same exact lanes.
template <bool kVbmi>
struct W16T {
  using Acc = __m512;
  using Int = __m512i;

  // The q8_K activation of the 2-bit terms with each block's 256 int8 regrouped (the rest as
  // stored): 64-byte chunk k holds elements 32k..32k+31 then 128+32k..128+32k+31, the elements
  // whose codes share the shift 2k in the two 32-byte halves of qs. Prepared once per call.
  // Prepared block b starts at b * stride (stride >= the q8_K block; the bytes past it are the
  // caller's).
  static const uint8_t* pair_halves(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf,
                                    int64_t stride = sizeof(ggml::BlockQ8_K)) {
    constexpr int64_t kAct = sizeof(ggml::BlockQ8_K);
    buf.resize(static_cast<std::size_t>(nb * stride));
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* src = act + b * kAct;
      uint8_t* dst = buf.data() + b * stride;
      std::memcpy(dst, src, kAct);
      for (int k = 0; k < 4; ++k)
        for (int h = 0; h < 2; ++h) std::memcpy(dst + 4 + 64 * k + 32 * h, src + 4 + 128 * h + 32 * k, 32);
    }
    return buf.data();
  }

  // W8::dot_2bit against the regrouped activation (pair_halves), one register per 64 elements:
  // all 64 bytes of qs shifted right by 2k (one shift for both halves) and masked give chunk k's
  // codes in its element order, sub-block 2k + (i & 1) + 8(i >> 1) in 128-bit lane i (lanes 0-1
  // from half 0, 2-3 from half 1: Sc's table of each half in those lanes); hmask repeated in both
  // halves, its bit k (below) or 4 + k (above) tested into a mask that adds the 4.
  template <bool kHigh, class Sc>
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512i dot_2bit(const uint8_t* qs,
                                                                                 const uint8_t* hmask,
                                                                                 __m256i tab, const int8_t* x8) {
    const __m512i bit2 = _mm512_set1_epi8(0x04);
    // Sub-blocks 0..7 (the lower 32 elements of every chunk) look up table(0), 8..15 table(8).
    static_assert(Sc::table(0) == 0 && (Sc::table(8) == 0 || Sc::table(8) == 1), "W16::dot_2bit: table layout");
    const __m512i tabs = _mm512_shuffle_i64x2(_mm512_castsi256_si512(tab), _mm512_castsi256_si512(tab),
                                              Sc::table(8) ? 0x50 : 0x00);  // 128-bit lanes 0 0 1 1 or 0 0 0 0
    __m512i hm = _mm512_setzero_si512();
    if constexpr (kHigh) hm = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(hmask)));
    const __m512i q = _mm512_loadu_si512(qs);
    // Chunk k's codes (0..7), its activation and the vpshufb index of its scale words.
    auto codes = [&](int k) QB_KERNEL_TARGET __attribute__((always_inline)) {
      __m512i u;
      if constexpr (kVbmi) {
        // Mutant q2_K_vbmi_code_bits: chunk k's codes taken from bits k and k + 1, not 2k and 2k + 1.
        const int b = QB_MUTANT_ON(q2_K_vbmi_code_bits) ? k : 2 * k;
        const int src[8] = {b, b + 1, -1, -1, -1, -1, -1, -1};
        u = _mm512_gf2p8affine_epi64_epi8(q, _mm512_set1_epi64(bit_matrix(src)), 0);
      } else {
        u = _mm512_and_si512(_mm512_srl_epi16(q, _mm_cvtsi32_si128(2 * k)), _mm512_set1_epi8(0x03));
      }
      if constexpr (kHigh) {
        // Mutants q3_K_gemv512_hmask_upper, q3_K_vbmi_hmask_upper: the upper 32 elements test bit
        // k, like the lower ones.
        const bool same = kVbmi ? QB_MUTANT_ON(q3_K_vbmi_hmask_upper) : QB_MUTANT_ON(q3_K_gemv512_hmask_upper);
        const int upper = same ? k : 4 + k;
        const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << k)),
                                                _mm256_set1_epi8(static_cast<char>(1 << upper)), 1);
        u = _mm512_mask_add_epi8(u, _mm512_test_epi8_mask(hm, bits), u, bit2);  // u < 4: the add is an or
      }
      return u;
    };
    auto x = [&](int k) QB_KERNEL_TARGET __attribute__((always_inline)) { return _mm512_loadu_si512(x8 + 64 * k); };
    auto scale_index = [&](int k) QB_KERNEL_TARGET __attribute__((always_inline)) {
      // Mutant q2_K_gemv512_scale_lanes: lane i scaled by the sub-block of lane 3 - i.
      const int r = QB_MUTANT_ON(q2_K_gemv512_scale_lanes) ? 3 : 0;
      __m128i index[4];  // lane i: sub-block 2k + (i & 1) + 8(i >> 1)
      for (int i = 0; i < 4; ++i) index[i] = Sc::index(2 * k + ((i ^ r) & 1) + 8 * ((i ^ r) >> 1));
      return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(index[1], index[0])),
                                _mm256_set_m128i(index[3], index[2]), 1);
    };
    __m512i isum = _mm512_setzero_si512();
    if constexpr (kVbmi) {
      // Chunks k and k + 1 through pair_lane_sums (|sum| <= 4*7*128; a lane's four elements share
      // a sub-block).
      for (int k = 0; k < 4; k += 2) {
        const __m512i sums = pair_lane_sums(codes(k), x(k), codes(k + 1), x(k + 1));
        // Mutant q2_K_vbmi_pair_scales_swapped: each chunk of a pair scaled by the other's sub-blocks.
        constexpr __mmask32 kOdd = QB_MUTANT_ON(q2_K_vbmi_pair_scales_swapped) ? 0x55555555 : 0xAAAAAAAA;
        const __m512i idx = _mm512_mask_blend_epi16(kOdd, scale_index(k), scale_index(k + 1));
        isum = _mm512_dpwssd_epi32(isum, sums, _mm512_shuffle_epi8(tabs, idx));
      }
    } else {
      for (int k = 0; k < 4; ++k)
        isum = sum_pairs(isum, _mm512_maddubs_epi16(codes(k), x(k)), _mm512_shuffle_epi8(tabs, scale_index(k)));
    }
    return isum;
  }

  // W8::dot_5bit with one register per 64-element chunk c: the 32 bytes qs[32c..] repeated in
  // both halves, shifted right by 0 below and 4 above and masked, are the chunk's elements in
  // order; qh repeated the same way, its bit 2c (below) or 2c + 1 (above) tested into a mask that
  // adds the 16; int16 lanes 0-15 scaled by sub-block 2c's scale, 16-31 by 2c + 1's.
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512i dot_5bit(const uint8_t* qs,
                                                                                 const uint8_t* qh, __m128i sc16,
                                                                                 const int8_t* x8) {
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)));
    const __m512i sc4 = _mm512_broadcast_i32x4(sc16);
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      // Mutant q5_K_vbmi_fifth_bit_upper: the upper 32 elements test bit 2c, like the lower ones.
      const int upper_bit = kVbmi && QB_MUTANT_ON(q5_K_vbmi_fifth_bit_upper) ? 2 * c : 2 * c + 1;
      const __m512i bits =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(static_cast<char>(1 << (2 * c)))),
                             _mm256_set1_epi8(static_cast<char>(1 << upper_bit)), 1);
      __m512i u;
      if constexpr (kVbmi) {
        u = split_nibbles_gfni(qs + 32 * c);
      } else {
        const __m512i shifts = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
        const __m512i raw = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c)));
        u = _mm512_and_si512(_mm512_srlv_epi16(raw, shifts), _mm512_set1_epi8(0x0F));
      }
      u = _mm512_mask_add_epi8(u, _mm512_test_epi8_mask(hb, bits), u, bit4);  // u < 16: the add is an or
      const __m512i x = _mm512_loadu_si512(x8 + 64 * c);
      // Mutant q5_K_gemv512_scale_pair: the upper sub-block of each chunk scaled by the lower one's scale.
      const int upper = QB_MUTANT_ON(q5_K_gemv512_scale_pair) ? 2 * c : 2 * c + 1;
      const __m512i s = _mm512_shuffle_epi8(
          sc4, _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(word_index(2 * c))),
                                  _mm256_broadcastsi128_si256(word_index(upper)), 1));
      isum = sum_pairs(isum, _mm512_maddubs_epi16(u, x), s);
    }
    return isum;
  }

  // isum plus the int16 pairs of prod times the int16 scales s, summed into its int32 lanes.
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512i sum_pairs(__m512i isum, __m512i prod, __m512i s) {
    if constexpr (kVbmi)
      return _mm512_dpwssd_epi32(isum, prod, s);
    else
      return _mm512_add_epi32(isum, _mm512_madd_epi16(prod, s));
  }

  // isum minus eight int32 lanes v (in its lower half).
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512i sub8(__m512i isum, __m256i v) {
    return _mm512_sub_epi32(isum, _mm512_zextsi256_si512(v));
  }
  QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 fma(float d, __m512i isum, __m512 acc) {
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};
using W16 = W16T<false>;
using W16Vbmi = W16T<true>;

// fp16 pair (d, dmin) at p times yd: {d*yd, dmin*yd} in lanes 0 and 1, the reference's products.
QB_TARGET_AVX2 inline __attribute__((always_inline)) __m128 scale_pair(const uint8_t* p, float yd) {
  uint32_t dd;
  std::memcpy(&dd, p, 4);
  return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int32_t>(dd))), _mm_set1_ps(yd));
}

// q4_K/q5_K's eight 6-bit scales and mins (spec 3.11 get_scale_min_k4) from scales[12] at p: the
// scales as words 0..7 of sc16; min_lanes[j] = min_j * (bsums[2j] + bsums[2j + 1]), exact. With a
// = p[0..3], b = p[4..7], c = p[8..11] as little-endian words, sub-blocks 0-3 keep the low six
// bits of a (scales) and b (mins); 4-7 take c's low (scales) or high (mins) nibbles, with the top
// two bits of a or b above them.
struct K4Scales {
  __m128i sc16;
  __m256i min_lanes;
};
QB_TARGET_AVX2 inline __attribute__((always_inline)) K4Scales k4_scales(const uint8_t* p, const uint8_t* xb) {
  uint32_t a, b, c;
  std::memcpy(&a, p, 4);
  std::memcpy(&b, p + 4, 4);
  std::memcpy(&c, p + 8, 4);
  const uint32_t sc_hi = (c & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((c >> 4) & 0x0F0F0F0Fu) | ((b >> 2) & 0x30303030u);
  // Bytes 0-7: scales of sub-blocks 0..7; bytes 8-15: their mins.
  const __m128i v = _mm_setr_epi32(static_cast<int32_t>(a & 0x3F3F3F3Fu), static_cast<int32_t>(sc_hi),
                                   static_cast<int32_t>(b & 0x3F3F3F3Fu), static_cast<int32_t>(mn_hi));
  const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(v, v));  // min_j in words 2j, 2j + 1
  const __m256i bsums = q8_K_bsums16(xb);
  return {_mm_cvtepu8_epi16(v), _mm256_madd_epi16(mn16, bsums)};
}

// How the 2-bit terms (q2_K, q3_K; tq2_0 at AVX-512) read the activation: as stored (W8), or
// prepared by W16::pair_halves.
template <class W>
struct TwoBitActivation {};
template <bool kVbmi>
struct TwoBitActivation<W16T<kVbmi>> {
  static constexpr int64_t kActBlock = sizeof(ggml::BlockQ8_K);
  static const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
    return W16T<kVbmi>::pair_halves(act, nb, buf);
  }
};

// q2_K (spec 3.12): 4-bit scales and mins per 16-element sub-block in scales[16] at 0, 2-bit codes
// at 16, d at 80, dmin at 82. The min term's eight lanes min_(2i)*bsums_(2i) + min_(2i+1)*bsums_(2i+1)
// go through one FMA with dmin*yd into their own accumulator.
template <class W>
struct Q2_KTerm : TwoBitActivation<W> {
  using Acc = typename W::Acc;
  using MinAcc = __m256;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ2_K);
  static constexpr bool kMin = true;
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) void block(const uint8_t* blk, const uint8_t* xb,
                                                                           Acc& acc, __m256& mins) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
    const __m256i mn16 = _mm256_srli_epi16(_mm256_cvtepu8_epi16(sc8), 4);  // the min nibbles as words
    const __m128i nib = _mm_and_si128(sc8, _mm_set1_epi8(0x0F));             // the scale nibbles as bytes
    const auto isum = W::template dot_2bit<false, NibbleScales>(blk + 16, nullptr, _mm256_castsi128_si256(nib),
                                                                ggml::q8_K_qs(xb));
    const __m256i bsums = q8_K_bsums16(xb);
    const __m128 dd = scale_pair(blk + 80, ggml::q8_K_d(xb));
    acc = W::fma(_mm_cvtss_f32(dd), isum, acc);
    mins = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)),
                           _mm256_cvtepi32_ps(_mm256_madd_epi16(mn16, bsums)), mins);
  }
};

// q3_K (spec 3.13): hmask at 0, 2-bit codes at 32, 16 signed 6-bit scales in scales[12] at 96, d
// at 108; codes q + 4 = low | 4*bit in 0..7, the +4 removed through bsums.
template <class W>
struct Q3_KTerm : TwoBitActivation<W> {
  using Acc = typename W::Acc;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ3_K);
  static constexpr bool kMin = false;
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) Acc block(const uint8_t* blk, const uint8_t* xb,
                                                                          Acc acc) {
    const __m256i sc16 = q3_K_scales16(blk + 96);
    auto isum = W::template dot_2bit<true, WordScales>(blk + 32, blk, sc16, ggml::q8_K_qs(xb));
    const __m256i bsums = q8_K_bsums16(xb);
    isum = W::sub8(isum, _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 2));  // 4 * scale * bsum
    return W::fma(_cvtsh_ss(ggml::load_u16(blk + 108)) * ggml::q8_K_d(xb), isum, acc);
  }
};

// q5_K (spec 3.15): d at 0, dmin at 2, scales[12] at 4 (q4_K's packing), qh at 16, low nibbles at
// 48. The min term as q2_K's: eight lanes min_j*(bsums_2j + bsums_2j+1), one FMA with dmin*yd.
template <class W>
struct Q5_KTerm {
  using Acc = typename W::Acc;
  using MinAcc = __m256;
  static constexpr int64_t kBlock = sizeof(ggml::BlockQ5_K);
  static constexpr bool kMin = true;
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) void block(const uint8_t* blk, const uint8_t* xb,
                                                                           Acc& acc, __m256& mins) {
    const K4Scales ks = k4_scales(blk + 4, xb);
    const __m128 dd = scale_pair(blk, ggml::q8_K_d(xb));
    acc = W::fma(_mm_cvtss_f32(dd), W::dot_5bit(blk + 48, blk + 16, ks.sc16, ggml::q8_K_qs(xb)), acc);
    mins = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(ks.min_lanes), mins);
  }
};

}  // namespace
}  // namespace qb::x86::kquant

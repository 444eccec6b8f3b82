// What the VBMI GEMVs of the grid iq types (iq2_xxs, iq3_s; specs/ggml.md 3.23, 3.27) share: grid
// tables held in registers and read by byte permutes, and the exact dot of one register of 64
// weights against the q8_K activation.
//
// Each kernel turns a register's grid entries into level numbers (one per byte, in the low bits;
// the bits above index copies of the same entries) and vpermb maps them to 64 + magnitude. The
// element signs, as a 64-bit mask, map 64 + m to 64 - m (128 - (64 + m)), so every weight byte is
// 64 + w, unsigned (w = +-m, |m| <= 43: 21..107), and vpdpbusd against the int8 activation, started
// from the prepared seed -64 * (the lane's four activation codes), leaves in each int32 lane the
// exact sum of w*x8 over its 4 elements (|v| <= 4*43*128 < 2^15; any int8, -128 included). A
// lane's elements share one 32-group, so vpdpwssd with the group's odd scale 2s + 1 in the lane's
// low word (high word 0) adds v*(2s + 1) exactly: the low word of v is v. Over a block, |lane| <=
// 2 * 8 * 22016 * 31 < 2^24: exact in fp32.
//
// The including kernel file defines QB_KERNEL_TARGET (QB_TARGET_AVX512VBMI) and includes
// kquant_gemv.h first. Everything is in an unnamed namespace: each kernel file's copy is its own.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86::iq_vbmi {
namespace {

// Prepared activation block: q8_K's 256 codes as stored, 64 int32 seeds (-64 times the sum of each
// lane's 4 codes), q8_K's fp32 d.
constexpr int64_t kSeeds = 256, kDx = 512, kPrepared = 576;

inline const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
  buf.resize(static_cast<std::size_t>(nb * kPrepared));
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* xb = act + k * static_cast<int64_t>(sizeof(ggml::BlockQ8_K));
    uint8_t* p = buf.data() + k * kPrepared;
    const int8_t* x8 = ggml::q8_K_qs(xb);
    std::memcpy(p, x8, 256);
    for (int lane = 0; lane < 64; ++lane) {
      const int32_t seed = -64 * (x8[4 * lane] + x8[4 * lane + 1] + x8[4 * lane + 2] + x8[4 * lane + 3]);
      std::memcpy(p + kSeeds + 4 * lane, &seed, 4);
    }
    const float d = ggml::q8_K_d(xb);
    std::memcpy(p + kDx, &d, 4);
  }
  return buf.data();
}

inline float act_d(const uint8_t* xb) {
  float d;
  std::memcpy(&d, xb + kDx, 4);
  return d;
}

QB_KERNEL_TARGET inline __attribute__((always_inline)) __m512i load(const void* p) { return _mm512_load_si512(p); }

// Byte idx of the 256-byte table t for every index byte of idx (upper: their bit 7).
QB_KERNEL_TARGET inline __attribute__((always_inline)) __m512i lookup256(const uint8_t* t, __m512i idx,
                                                                          __mmask64 upper) {
  return _mm512_mask_blend_epi8(upper, _mm512_permutex2var_epi8(load(t), idx, load(t + 64)),
                                _mm512_permutex2var_epi8(load(t + 128), idx, load(t + 192)));
}

// isum + (2s + 1) * (exact lane sums of w*x8) for register q (elements 64q..64q+63) of the block:
// level numbers `codes` (vpermb indices into level, 64 + magnitude), element signs `neg`, the
// lanes' odd scales in `scale` (dwords).
QB_KERNEL_TARGET inline __attribute__((always_inline)) __m512i dot64(__m512i isum, __m512i codes, const uint8_t* level,
                                                                      __mmask64 neg, __m512i scale, const uint8_t* xb,
                                                                      int q) {
  const __m512i mag = _mm512_permutexvar_epi8(codes, load(level));
  const __m512i w = _mm512_mask_sub_epi8(mag, neg, _mm512_set1_epi8(static_cast<char>(128)), mag);
  const __m512i v = _mm512_dpbusd_epi32(_mm512_loadu_si512(xb + kSeeds + 64 * q), w, _mm512_loadu_si512(xb + 64 * q));
  return _mm512_dpwssd_epi32(isum, v, scale);
}

// What the two kernels' block terms share for kquant_gemv.h's row loop: the accumulator, the
// prepared activation, and the block's closing FMA of its exact lanes with d_w * d_x (the
// reference's product: fp16 d_w at byte 0 of the weight block, times q8_K's d).
struct TermBase {
  using Acc = __m512;
  static constexpr bool kMin = false;
  static constexpr int64_t kActBlock = kPrepared;
  static const uint8_t* prepare(const uint8_t* act, int64_t nb, std::vector<uint8_t>& buf) {
    return iq_vbmi::prepare(act, nb, buf);
  }
  QB_KERNEL_TARGET static inline __attribute__((always_inline)) __m512 finish(const uint8_t* blk, const uint8_t* xb,
                                                                              __m512i isum, __m512 acc) {
    const float d = _cvtsh_ss(ggml::load_u16(blk)) * act_d(xb);
    return _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
  }
};

}  // namespace
}  // namespace qb::x86::iq_vbmi

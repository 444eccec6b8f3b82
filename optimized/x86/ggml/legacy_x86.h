// Pieces the q4_1, q5_0, q5_1 and mxfp4 x86 kernels share: unpacking 32 codes of a block into one
// vector in element order, and the q8_1 activation laid out for the q8_1-paired GEMVs.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/x86/target.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86::legacy {

// The 16 bytes at qs as 32 unsigned nibbles in element order: byte j's low nibble is element j
// (lanes 0..15), its high nibble element j + 16 (lanes 16..31).
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i nibbles(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1),
                          _mm256_set1_epi8(0x0F));
}

// The 32 bits of q5's qh (bit k: bit 4 of element k) as bytes 0x10 where set, 0 elsewhere: byte k
// takes qh's byte k / 8 (vpshufb within each 128-bit half), keeps bit k % 8, and compares.
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i fifth_bits(const uint8_t* qh_bytes) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int32_t>(qh)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Codes 8k..8k+7 (int8 in a 256-bit vector) as 8 exact floats.
template <int k>
QB_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 codes_ps(__m256i q) {
  const __m128i half = _mm256_extracti128_si256(q, k / 2);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(k % 2 ? _mm_srli_si128(half, 8) : half));
}

// Codes 16k..16k+15 (int8 in a 256-bit vector) as 16 exact floats.
template <int k>
QB_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 codes_ps512(__m256i q) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, k)));
}

// The q8_1 activation for the q8_1-paired GEMVs: per block its 32 levels (32-byte aligned), d_x
// and s_x widened to fp32 (exact, NaN payloads kept).
struct Q8_1Act {
  const int8_t* x = nullptr;
  const float* dx = nullptr;
  const float* sx = nullptr;
};

inline Q8_1Act prepare_q8_1(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf) {
  constexpr int64_t kActBlock = 36;  // fp16 d, fp16 s, 32 int8
  const int64_t nb = cols / 32;
  buf.resize(static_cast<std::size_t>(nb * (32 + 4 + 4) + 64));
  uint8_t* base = buf.data() + (32 - reinterpret_cast<uintptr_t>(buf.data()) % 32) % 32;
  int8_t* x = reinterpret_cast<int8_t*>(base);
  float* dx = reinterpret_cast<float*>(base + nb * 32);
  float* sx = dx + nb;
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* blk = act + k * kActBlock;
    std::memcpy(x + k * 32, blk + 4, 32);
    dx[k] = fp16_to_f32(ggml::load_u16(blk));
    sx[k] = fp16_to_f32(ggml::load_u16(blk + 2));
  }
  return {x, dx, sx};
}

}  // namespace qb::x86::legacy

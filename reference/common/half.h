// IEEE binary16 <-> binary32 in software, with ggml's semantics (specs/ggml.md section 1):
// widening is exact, NaN keeps sign and payload (shifted by 13) and gets the quiet bit forced;
// narrowing rounds to nearest even with gradual underflow, overflows to Inf, and maps any NaN to
// sign|0x7E00.
#pragma once
#include <cstdint>
#include <cstring>

namespace qb {

inline float bits_to_f32(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

inline float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return bits_to_f32(sign | 0x7F800000u | (man << 13) | (man ? 0x00400000u : 0u));
  if (exp != 0) return bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
  // Zero or subnormal: man * 2^-24 is exact in fp32.
  const float mag = static_cast<float>(man) * bits_to_f32(0x33800000u);
  return sign ? -mag : mag;
}

inline uint16_t f32_to_fp16(float f) {
  const uint32_t x = f32_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return sign | 0x7E00u;
  if (ax >= 0x47800000u) return sign | 0x7C00u;  // >= 65536 rounds to Inf (and Inf itself)
  if (ax < 0x38800000u) {                         // below fp16's smallest normal 2^-14
    // Round |f| / 2^-24 to nearest even: the fp32 add of 0.5 (2^-1) performs exactly that rounding.
    const float scaled = bits_to_f32(ax) * bits_to_f32(0x4B800000u);  // * 2^24, exact
    const uint32_t r = f32_to_bits(scaled + bits_to_f32(0x4B000000u)) - 0x4B000000u;  // + 2^23
    return sign | static_cast<uint16_t>(r);
  }
  // Normal range: drop 13 mantissa bits with round-to-nearest-even; a carry may reach Inf.
  const uint32_t rebased = ax - (112u << 23);
  const uint32_t lsb = (rebased >> 13) & 1u;
  return sign | static_cast<uint16_t>((rebased + 0xFFFu + lsb) >> 13);
}

// fp32 -> fp16 as F16C's vcvtps2ph (imm 0) rounds, and as a 16-bit decode (Op::dequant_f16)
// must: like f32_to_fp16, except that a NaN keeps its sign and the top 10 bits of its payload,
// quiet bit forced (IEEE 754's recommended payload preservation; ggml's software path does not).
inline uint16_t f32_to_fp16_rne(float f) {
  const uint32_t b = f32_to_bits(f);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>(((b >> 16) & 0x8000u) | 0x7E00u | ((b >> 13) & 0x3FFu));
  return f32_to_fp16(f);
}

// fp32 -> bfloat16 (Op::dequant_bf16): the top 16 bits rounded to nearest even on the 16 dropped
// ones; subnormals round like any value (no flush to zero, unlike AVX512-BF16's vcvtneps2bf16) and
// a carry may reach Inf; a NaN keeps sign and top payload bits, quiet bit forced.
inline uint16_t f32_to_bf16_rne(float f) {
  const uint32_t b = f32_to_bits(f);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((b >> 16) | 0x0040u);
  return static_cast<uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

}  // namespace qb

// The FP4 (E2M1) values and the block scales of mxfp4 (E8M0) and nvfp4 (UE4M3), specs/ggml.md
// sections 1, 3.9 and 3.10. Upstream's table holds twice the E2M1 values (integers), so both
// scale decoders return half the scale: value = kValuesFp4[code] * scale_half.
#pragma once
#include <cmath>
#include <cstdint>

#include "reference/common/half.h"

namespace qb::ggml {

// kvalues_fp4: code 8 is E2M1's -0, stored as the integer 0 (decodes to +0 under a positive scale).
constexpr int8_t kValuesFp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// ggml_e8m0_to_fp32_half: 2^(e-128) as bits. e >= 2 is the normal (e-1) << 23; e = 1 and e = 0
// are the subnormals 2^-127 and 2^-128; e = 255 is 2^127 (E8M0's NaN code is not special here).
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e >= 2 ? static_cast<uint32_t>(e - 1) << 23 : (e == 1 ? 0x00400000u : 0x00200000u);
  return bits_to_f32(bits);
}

// ggml_ue4m3_to_fp32: half the UE4M3 value. The byte 0 and 0x7F (E4M3's NaN) read as 0; bit 7 is
// ignored otherwise (0x80 is 0, 0xFF is 240). Exponent field 0 is subnormal, man * 2^-9; else
// (1 + man/8) * 2^(exp-7). Every value is exact in fp32, so the order of the steps is immaterial.
inline float ue4m3_half(uint8_t x) {
  if (x == 0 || x == 0x7F) return 0.0f;
  const int exp = (x >> 3) & 15, man = x & 7;
  const float v = exp == 0 ? std::ldexp(static_cast<float>(man), -9) : std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  return v * 0.5f;
}

// ggml_fp32_to_ue4m3 (spec section 1): 0 unless x > 0 (NaN too); clamped to 448; with
// e = fp32 exponent + 7: e <= 0 gives the subnormal man = (int)(x*512 + 0.5) capped at 7 (0 when
// below 1); e >= 15 gives 0x7E; otherwise the top three fp32 mantissa bits plus bit 19 (round half
// up on the magnitude), a carry moving into the exponent and an exponent of 15 giving 0x7E.
inline uint8_t f32_to_ue4m3(float x) {
  if (!(x > 0.0f)) return 0;
  if (x > 448.0f) x = 448.0f;
  const uint32_t bits = f32_to_bits(x);
  int e = static_cast<int>((bits >> 23) & 0xFFu) - 127 + 7;
  if (e <= 0) {
    const int man = static_cast<int>(x * 512.0f + 0.5f);  // x < 2^-6: at most 8.5
    if (man < 1) return 0;
    return static_cast<uint8_t>(man < 7 ? man : 7);
  }
  if (e >= 15) return 0x7E;
  int man = static_cast<int>((bits >> 20) & 7u) + static_cast<int>((bits >> 19) & 1u);
  if (man > 7) {
    man = 0;
    if (++e >= 15) return 0x7E;
  }
  return static_cast<uint8_t>(e << 3 | man);
}

// best_index_mxfp4: the code i minimising |kValuesFp4[i]*d - x| in fp32, strict < so the lowest
// index wins ties (+0 over -0, and code 0 for a NaN x or NaN errors).
inline uint8_t best_fp4_index(float x, float d) {
  uint8_t best = 0;
  float best_err = std::fabs(static_cast<float>(kValuesFp4[0]) * d - x);
  for (uint8_t i = 1; i < 16; ++i) {
    const float err = std::fabs(static_cast<float>(kValuesFp4[i]) * d - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

}  // namespace qb::ggml

// fp16 conversions against first principles: exhaustive over all 65536 fp16 patterns, checked
// with an fp64 computation of each value, and round-trips through the narrowing direction.
#include <cmath>
#include <cstdint>

#include <gtest/gtest.h>

#include "reference/common/half.h"

namespace qb {
namespace {

double fp16_value(uint16_t h) {
  const int exp = (h >> 10) & 31, man = h & 1023;
  const double mag = exp == 0 ? std::ldexp(man, -24) : std::ldexp(1024 + man, exp - 25);
  return (h & 0x8000) ? -mag : mag;
}

TEST(Half, WideningIsExactAndQuietsNaN) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint32_t bits = f32_to_bits(fp16_to_f32(static_cast<uint16_t>(h)));
    const int exp = (h >> 10) & 31, man = h & 1023;
    if (exp == 31 && man != 0) {
      const uint32_t want = (static_cast<uint32_t>(h & 0x8000) << 16) | 0x7FC00000u | (man << 13);
      EXPECT_EQ(bits, want) << "fp16 NaN 0x" << std::hex << h;
    } else if (exp == 31) {
      EXPECT_EQ(bits, (h & 0x8000) ? 0xFF800000u : 0x7F800000u);
    } else {
      EXPECT_EQ(static_cast<double>(bits_to_f32(bits)), fp16_value(static_cast<uint16_t>(h))) << h;
      EXPECT_EQ(bits >> 31, h >> 15u) << "sign of " << h;
    }
  }
}

TEST(Half, NarrowingRoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x7C00; ++h) {  // every finite non-negative fp16 and the midpoints above it
    EXPECT_EQ(f32_to_fp16(fp16_to_f32(static_cast<uint16_t>(h))), h);
    EXPECT_EQ(f32_to_fp16(-fp16_to_f32(static_cast<uint16_t>(h))), h | 0x8000u);
    const double lo = fp16_value(static_cast<uint16_t>(h));
    const double hi = h + 1 == 0x7C00 ? 65536.0 : fp16_value(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact: midpoints need <= 12 bits
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    EXPECT_EQ(f32_to_fp16(mid), even) << "midpoint above 0x" << std::hex << h;
    EXPECT_EQ(f32_to_fp16(std::nextafter(mid, 0.0f)), h) << "just below midpoint above 0x" << std::hex << h;
  }
  EXPECT_EQ(f32_to_fp16(1e6f), 0x7C00);
  EXPECT_EQ(f32_to_fp16(-INFINITY), 0xFC00);
  EXPECT_EQ(f32_to_fp16(std::nanf("")) & 0x7FFF, 0x7E00);
  EXPECT_EQ(f32_to_fp16(1e-9f), 0x0000);  // below half the smallest subnormal
}

// The 16-bit decode roundings (Op::dequant_f16 / dequant_bf16) against an fp64 oracle: for every
// pair of adjacent positive fp16 values a < b, fp32 inputs at a, b, their midpoint (exact in fp32)
// and one fp32 ulp either side of it must round to the nearer, ties to the even pattern; past
// 65504 the midpoint to 65536 (65520) is where Inf starts. NaNs keep sign and top payload bits.
TEST(Half, OutputNarrowingToFp16RoundsOnceToNearestEven) {
  for (uint16_t h = 0; h < 0x7BFF; ++h) {
    const double a = fp16_value(h), b = fp16_value(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((a + b) / 2);
    ASSERT_EQ(static_cast<double>(mid), (a + b) / 2);
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    for (const uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
      const float s = sign ? -1.0f : 1.0f;
      EXPECT_EQ(f32_to_fp16_rne(s * static_cast<float>(a)), h | sign);
      EXPECT_EQ(f32_to_fp16_rne(s * std::nextafter(mid, 0.0f)), h | sign);
      EXPECT_EQ(f32_to_fp16_rne(s * mid), even | sign);
      EXPECT_EQ(f32_to_fp16_rne(s * std::nextafter(mid, 1e9f)), (h + 1) | sign);
    }
  }
  EXPECT_EQ(f32_to_fp16_rne(65519.996f), 0x7BFF);
  EXPECT_EQ(f32_to_fp16_rne(65520.0f), 0x7C00);
  EXPECT_EQ(f32_to_fp16_rne(-INFINITY), 0xFC00);
  EXPECT_EQ(f32_to_fp16_rne(bits_to_f32(0x7F800001u)), 0x7E00);  // payload below the kept 10 bits
  EXPECT_EQ(f32_to_fp16_rne(bits_to_f32(0xFFA02000u)), 0xFF01);  // sNaN: top payload bits 0x101, quiet bit 0x200 set
}

TEST(Half, OutputNarrowingToBf16RoundsOnceToNearestEven) {
  // Every top half with low halves around the tie: the result is the top half, or the next
  // pattern up when the low half exceeds 0x8000 or equals it with an odd top half.
  for (uint32_t top = 0; top < 0x10000; ++top) {
    if ((top & 0x7F80u) == 0x7F80u) continue;  // Inf/NaN tops: below
    for (const uint32_t low : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu}) {
      const float f = bits_to_f32(top << 16 | low);
      const bool up = low > 0x8000u || (low == 0x8000u && (top & 1u));
      // fp64 cross-check of the tie rule on the values themselves (the top+1 pattern is the next
      // bf16 value in magnitude, Inf past the largest finite one).
      const double lo = static_cast<double>(bits_to_f32(top << 16)), x = static_cast<double>(f);
      const double hi = ((top + 1) & 0x7F80u) == 0x7F80u ? std::ldexp(std::copysign(1.0, lo), 128)
                                                         : static_cast<double>(bits_to_f32((top + 1) << 16));
      ASSERT_EQ(up, std::fabs(hi - x) < std::fabs(x - lo) || (std::fabs(hi - x) == std::fabs(x - lo) && (top & 1u)))
          << std::hex << (top << 16 | low);
      ASSERT_EQ(f32_to_bf16_rne(f), static_cast<uint16_t>(top + (up ? 1 : 0))) << std::hex << (top << 16 | low);
    }
  }
  EXPECT_EQ(f32_to_bf16_rne(INFINITY), 0x7F80);
  EXPECT_EQ(f32_to_bf16_rne(bits_to_f32(0x00000001u)), 0x0000);  // subnormal: rounded, not flushed
  EXPECT_EQ(f32_to_bf16_rne(bits_to_f32(0x00018000u)), 0x0002);  // subnormal tie, odd top: up
  EXPECT_EQ(f32_to_bf16_rne(bits_to_f32(0x7F800001u)), 0x7FC0);  // sNaN: quieted
  EXPECT_EQ(f32_to_bf16_rne(bits_to_f32(0xFFC12345u)), 0xFFC1);  // qNaN: top half kept
}

}  // namespace
}  // namespace qb

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

}  // namespace
}  // namespace qb

// The two fp32 roundings the EXL3 x86 kernels use in place of upstream's fp16 rounding
// (optimized/x86/exl3/exl3_x86_common.h), checked on every value they can meet: all 65536 states
// of each codebook. Expected values are the reference's codebook_value (itself checked against
// upstream's tables in exl3_reference_test.cpp); the input v is each codebook's exact fp32 value
// before rounding, formed from the spec (specs/exl3.md section 3), not by kernel code.
#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

#include "reference/common/half.h"
#include "reference/exl3/exl3.h"

namespace qb::exl3 {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The codebook value before its one rounding to fp16, exact in fp32.
float unrounded(Codebook cb, uint16_t state) {
  uint32_t x = state;
  if (cb == Codebook::mul1) {
    x *= kMul1Multiplier;
    const uint32_t s = (x & 0xFFu) + ((x >> 8) & 0xFFu) + ((x >> 16) & 0xFFu) + (x >> 24);
    const double v = static_cast<double>(1024u + s) * fp16_to_f32(0x1EEEu) + fp16_to_f32(0xC931u);
    const auto f = static_cast<float>(v);
    EXPECT_EQ(static_cast<double>(f), v) << "mul1 value not exact in fp32, state " << state;
    return f;
  }
  x = cb == Codebook::mcg ? x * kMcgMultiplier : x * k3instMultiplier + k3instIncrement;
  x = (x & 0x8FFF8FFFu) ^ 0x3B603B60u;
  return fp16_to_f32(static_cast<uint16_t>(x & 0xFFFFu)) + fp16_to_f32(static_cast<uint16_t>(x >> 16));
}

class Exl3Rounding : public ::testing::TestWithParam<Codebook> {};

// round_fp16_z / decode_st_y<CB, false>: c = v * 8193, c - (c - v) is Ŵ.
TEST_P(Exl3Rounding, VeltkampSplitIsFp16Rne) {
  const Codebook cb = GetParam();
  int bad = 0;
  for (uint32_t s = 0; s < 65536; ++s) {
    const float v = unrounded(cb, static_cast<uint16_t>(s));
    const volatile float c = v * 8193.0f;
    const float w = c - (c - v);
    const float want = fp16_to_f32(codebook_value(cb, static_cast<uint16_t>(s)));
    if (bits(w) != bits(want) && ++bad <= 5)
      ADD_FAILURE() << "state " << s << ": v " << v << " gives " << w << ", fp16 RNE is " << want;
  }
  EXPECT_EQ(bad, 0);
}

// round_fp16_scaled_z / decode_st_y<CB, true>: c = v * (1 + 2^-13), c - v is Ŵ * 2^-13 as bits.
TEST_P(Exl3Rounding, ScaledTwoOpRoundingIsFp16RneTimes2PowMinus13) {
  const Codebook cb = GetParam();
  const float up = 1.0f + 1.0f / 8192;
  ASSERT_EQ(bits(up), 0x3F800400u);  // 1 + 2^-13 exactly
  int bad = 0;
  for (uint32_t s = 0; s < 65536; ++s) {
    const float v = unrounded(cb, static_cast<uint16_t>(s));
    const volatile float c = v * up;
    const float w = c - v;
    const float want = fp16_to_f32(codebook_value(cb, static_cast<uint16_t>(s))) / 8192.0f;  // exact: normal
    if (bits(w) != bits(want) && ++bad <= 5)
      ADD_FAILURE() << "state " << s << ": v " << v << " gives " << w << ", Ŵ * 2^-13 is " << want;
  }
  EXPECT_EQ(bad, 0);
}

// What the two mutants of the AVX-512 GEMV (tests/mutants/mutants.inc) change, so that their
// being caught means something: each moves Ŵ on many states.
TEST_P(Exl3Rounding, WrongConstantAndSkippedRoundingDiffer) {
  const Codebook cb = GetParam();
  int digits = 0, skipped = 0;
  for (uint32_t s = 0; s < 65536; ++s) {
    const float v = unrounded(cb, static_cast<uint16_t>(s));
    const float want = fp16_to_f32(codebook_value(cb, static_cast<uint16_t>(s))) / 8192.0f;
    const volatile float c = v * 1.000122f;
    digits += bits(c - v) != bits(want);
    skipped += bits(v / 8192.0f) != bits(want);
  }
  EXPECT_GT(digits, 1000);
  EXPECT_GT(skipped, 1000);
}

INSTANTIATE_TEST_SUITE_P(AllCodebooks, Exl3Rounding, ::testing::Values(Codebook::inst3, Codebook::mcg, Codebook::mul1),
                         [](const auto& info) { return std::string(codebook_name(info.param)) == "3inst"
                                                    ? std::string("inst3")
                                                    : std::string(codebook_name(info.param)); });

}  // namespace
}  // namespace qb::exl3

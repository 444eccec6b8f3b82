// The 32/64/128-element GGML types of issue 10 (q4_1, q5_0, q5_1, q1_0, q2_0, mxfp4, nvfp4) and the
// q8_1 activation: hand-worked blocks for the encoder and decoder corners (expected values
// derived in the comments from specs/ggml.md, never from the code under test), and both q8_1
// quantizers against upstream's bytes (../shared/vectors/ggml/q8_1). The weight types' upstream
// vectors are checked by import-vectors + verify (their fixtures).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/prepared.h"
#include "harness/registry.h"
#include "reference/common/half.h"
#include "reference/ggml/fp4.h"
#include "reference/ggml/q8_1_activation.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> encode(const char* fmt, const std::vector<float>& x) {
  std::vector<std::vector<uint8_t>> t;
  find_format(fmt)->encode_ref(x.data(), 1, static_cast<int64_t>(x.size()), {}, t);
  return t[0];
}

std::vector<float> decode(const char* fmt, const std::vector<uint8_t>& blk) {
  QWeight w;
  w.format = find_format(fmt);
  w.rows = 1;
  w.cols = w.format->block_elems;
  w.tensors.push_back({"blocks", DType::U8, {1, w.format->block_bytes}, blk.data(), blk.size()});
  std::vector<float> y(static_cast<std::size_t>(w.cols));
  w.format->dequant_ref(PreparedWeight(w).get(), 0, 1, y.data());
  return y;
}

uint32_t bits(float f) { return f32_to_bits(f); }
uint16_t u16(const std::vector<uint8_t>& b, int off) { return static_cast<uint16_t>(b[off] | b[off + 1] << 8); }
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// --- q4_1 -------------------------------------------------------------------------------------

TEST(LegacyQ4_1, MinMaxScaleAndHalfUpLevels) {
  // min = -1, max = 14: d = 15/15 = 1 (0x3C00), m = -1 (0xBC00), id = 1. Levels (int8)((x+1)*1 + 0.5):
  // x0 = -1 -> 0; x1 = 14 -> 15; x2 = 0.5 -> 2.0 -> 2 (a tie rounds up); x3 = -0.5 -> 1.0 -> 1;
  // x16 = 3 -> 4; the rest 0 -> 1.
  std::vector<float> x(32, 0.0f);
  x[0] = -1, x[1] = 14, x[2] = 0.5f, x[3] = -0.5f, x[16] = 3;
  const auto b = encode("q4_1", x);
  ASSERT_EQ(b.size(), 20u);
  EXPECT_EQ(u16(b, 0), 0x3C00);
  EXPECT_EQ(u16(b, 2), 0xBC00);
  EXPECT_EQ(b[4 + 0], 0x0 | 4 << 4);
  EXPECT_EQ(b[4 + 1], 0xF | 1 << 4);
  EXPECT_EQ(b[4 + 2], 0x2 | 1 << 4);
  EXPECT_EQ(b[4 + 3], 0x1 | 1 << 4);
  EXPECT_EQ(b[4 + 4], 0x11);
}

TEST(LegacyQ4_1, ConstantBlockHasZeroScale) {
  // min = max = 2.5: d = 0, id = 0, every level (int8)(0 + 0.5) = 0; m = 2.5 (0x4100).
  const auto b = encode("q4_1", std::vector<float>(32, 2.5f));
  EXPECT_EQ(u16(b, 0), 0x0000);
  EXPECT_EQ(u16(b, 2), 0x4100);
  for (int j = 4; j < 20; ++j) EXPECT_EQ(b[j], 0x00) << j;
}

TEST(LegacyQ4_1, DecodeIsProductThenMinAndKeepsNaNPayloads) {
  // d = 0.5 (0x3800), m = -2 (0xC000): byte 0x5F: element 0 = 15*0.5 - 2 = 5.5, element 16 = 5*0.5 - 2 = 0.5.
  std::vector<uint8_t> blk(20, 0x00);
  blk[0] = 0x00, blk[1] = 0x38, blk[2] = 0x00, blk[3] = 0xC0, blk[4] = 0x5F;
  auto y = decode("q4_1", blk);
  EXPECT_EQ(y[0], 5.5f);
  EXPECT_EQ(y[16], 0.5f);
  EXPECT_EQ(y[1], -2.0f);  // 0*0.5 + (-2)
  // NaN d 0x7C01 widens to 0x7FC02000 (payload << 13, quiet bit): every product, so every value.
  blk[0] = 0x01, blk[1] = 0x7C;
  y = decode("q4_1", blk);
  for (float v : y) EXPECT_EQ(bits(v), 0x7FC02000u);
  // Finite d, NaN m 0xFE00 (-NaN, payload 0x200): the sum is m's NaN, 0xFFC00000.
  blk[0] = 0x00, blk[1] = 0x3C, blk[2] = 0x00, blk[3] = 0xFE;
  y = decode("q4_1", blk);
  for (float v : y) EXPECT_EQ(bits(v), 0xFFC00000u);
  // Both NaN: the product's (the first operand of the addition).
  blk[0] = 0x01, blk[1] = 0x7C;
  EXPECT_EQ(bits(decode("q4_1", blk)[3]), 0x7FC02000u);
  // Inf d with code 0: 0 * Inf is the default NaN 0xFFC00000, then + m keeps it.
  blk[0] = 0x00, blk[1] = 0x7C, blk[2] = 0x00, blk[3] = 0x3C;
  EXPECT_EQ(bits(decode("q4_1", blk)[1]), 0xFFC00000u);
  EXPECT_EQ(decode("q4_1", blk)[0], std::numeric_limits<float>::infinity());  // 15*Inf + 1
}

// --- q5_0 -------------------------------------------------------------------------------------

TEST(LegacyQ5_0, FirstExtremeWinsFifthBitInQh) {
  // x0 = -16 and x3 = +16 tie on |x|: the first is the signed max, d = -16/-16 = 1 (0x3C00), id = 1.
  // Levels MIN(31, (int8)(x + 16.5)): x0 -> 0; x3 = 16 -> 32 -> 31; x1 = 0.5 -> 17; x2 = -0.5 -> 16;
  // x17 = -9 -> 7; zeros -> 16 (low nibble 0, bit 4 set).
  std::vector<float> x(32, 0.0f);
  x[0] = -16, x[1] = 0.5f, x[2] = -0.5f, x[3] = 16, x[17] = -9;
  const auto b = encode("q5_0", x);
  ASSERT_EQ(b.size(), 22u);
  EXPECT_EQ(u16(b, 0), 0x3C00);
  uint32_t qh;
  std::memcpy(&qh, b.data() + 2, 4);
  // Bit 4 set for every level >= 16: all but element 0 (level 0) and element 17 (level 7).
  EXPECT_EQ(qh, ~(1u << 0 | 1u << 17));
  EXPECT_EQ(b[6 + 0], 0x0 | 0x0 << 4);  // level 0; element 16 = 16 -> nibble 0
  EXPECT_EQ(b[6 + 1], 0x1 | 0x7 << 4);  // 17 -> 1; element 17 = 7
  EXPECT_EQ(b[6 + 2], 0x0);              // 16 -> 0
  EXPECT_EQ(b[6 + 3], 0xF);              // 31 -> 15
  // Decode: (q - 16) * 1.
  const auto y = decode("q5_0", b);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[1], 1.0f);
  EXPECT_EQ(y[3], 15.0f);
  EXPECT_EQ(y[17], -9.0f);
}

TEST(LegacyQ5_0, ZeroBlockHasNegativeZeroScaleAndSignedZeros) {
  // max stays +0: d = +0 / -16 = -0 (0x8000); levels (int8)(0*0 + 16.5) = 16: qs nibbles 0, qh all
  // ones. Decoded (16 - 16) * -0 = 0 * -0 = -0.
  const auto b = encode("q5_0", std::vector<float>(32, 0.0f));
  EXPECT_EQ(u16(b, 0), 0x8000);
  for (int j = 2; j < 6; ++j) EXPECT_EQ(b[j], 0xFF) << j;
  for (int j = 6; j < 22; ++j) EXPECT_EQ(b[j], 0x00) << j;
  for (float v : decode("q5_0", b)) EXPECT_EQ(bits(v), 0x80000000u);
}

// --- q5_1 -------------------------------------------------------------------------------------

TEST(LegacyQ5_1, ThirtyOneStepsHalfUpNoCap) {
  // min = 0, max = 31: d = 1, m = 0, id = 1. Levels (uint8)(x + 0.5): x0 = 31 -> 31 (qh bit 0 set,
  // nibble 15); x1 = 2.5 -> 3; x2 = 16 -> 16 (qh bit 2, nibble 0); x16 = 0 -> 0; x18 = 17.49 -> 17.
  std::vector<float> x(32, 0.0f);
  x[0] = 31, x[1] = 2.5f, x[2] = 16, x[18] = 17.49f;
  const auto b = encode("q5_1", x);
  ASSERT_EQ(b.size(), 24u);
  EXPECT_EQ(u16(b, 0), 0x3C00);
  EXPECT_EQ(u16(b, 2), 0x0000);
  uint32_t qh;
  std::memcpy(&qh, b.data() + 4, 4);
  EXPECT_EQ(qh, 1u << 0 | 1u << 2 | 1u << 18);
  EXPECT_EQ(b[8 + 0], 0xF);
  EXPECT_EQ(b[8 + 1], 0x3);
  EXPECT_EQ(b[8 + 2], 0x0 | 0x1 << 4);  // element 18 = 17: nibble 1
  const auto y = decode("q5_1", b);
  EXPECT_EQ(y[0], 31.0f);
  EXPECT_EQ(y[1], 3.0f);
  EXPECT_EQ(y[18], 17.0f);
}

TEST(LegacyQ5_1, SubnormalScaleDecodesExactly) {
  // d = 0x0001 = 2^-24, m = 0x8001 = -2^-24: code 31 -> 31*2^-24 - 2^-24 = 30*2^-24, exact.
  std::vector<uint8_t> blk(24, 0x00);
  blk[0] = 0x01, blk[2] = 0x01, blk[3] = 0x80;
  blk[4] = 0x01;   // qh bit 0
  blk[8] = 0x0F;   // element 0 nibble 15
  const auto y = decode("q5_1", blk);
  EXPECT_EQ(y[0], std::ldexp(30.0f, -24));
  EXPECT_EQ(y[1], -std::ldexp(1.0f, -24));
}

// --- q1_0 -------------------------------------------------------------------------------------

TEST(LegacyQ1_0, MeanMagnitudeAndSignBits) {
  // 126 ones, x0 = -0, x1 = -3: sum|x| = 129, d = 129/128 = 1 + 2^-7 (fp16 0x3C08). Bits x >= 0:
  // -0 -> 1, -3 -> 0, ones -> 1. So byte 0 = 0b11111101.
  std::vector<float> x(128, 1.0f);
  x[0] = -0.0f, x[1] = -3;
  const auto b = encode("q1_0", x);
  ASSERT_EQ(b.size(), 18u);
  EXPECT_EQ(u16(b, 0), 0x3C08);
  EXPECT_EQ(b[2], 0xFD);
  for (int j = 3; j < 18; ++j) EXPECT_EQ(b[j], 0xFF) << j;
  const auto y = decode("q1_0", b);
  EXPECT_EQ(y[0], 1.0078125f);
  EXPECT_EQ(y[1], -1.0078125f);
}

TEST(LegacyQ1_0, NaNScaleIsSelectedNotComputed) {
  // NaN d 0x7C01 -> 0x7FC02000 for bit 1, its negation 0xFFC02000 for bit 0.
  std::vector<uint8_t> blk(18, 0x00);
  blk[0] = 0x01, blk[1] = 0x7C, blk[2] = 0x01;
  const auto y = decode("q1_0", blk);
  EXPECT_EQ(bits(y[0]), 0x7FC02000u);
  EXPECT_EQ(bits(y[1]), 0xFFC02000u);
  // -0 scale: bit 1 gives -0, bit 0 gives +0.
  blk[0] = 0x00, blk[1] = 0x80;
  const auto z = decode("q1_0", blk);
  EXPECT_EQ(bits(z[0]), 0x80000000u);
  EXPECT_EQ(bits(z[1]), 0x00000000u);
}

// --- q2_0 -------------------------------------------------------------------------------------

TEST(LegacyQ2_0, LevelsRoundHalfAwayAndNeverThree) {
  // x0 = -2 is the amax: d = 2 (0x4000), id = 0.5. Codes roundf(x*0.5) + 1: x0 -> -1 -> 0;
  // x1 = 1 -> 0.5 -> 1 (away from zero) -> 2; x2 = -1 -> -0.5 -> -1 -> 0; x3 = 0.9 -> 0.45 -> 0 -> 1;
  // x4 = 2 -> 2 (never 3); zeros -> 1 (0b01 in each 2-bit field: 0x55).
  std::vector<float> x(64, 0.0f);
  x[0] = -2, x[1] = 1, x[2] = -1, x[3] = 0.9f, x[4] = 2;
  const auto b = encode("q2_0", x);
  ASSERT_EQ(b.size(), 18u);
  EXPECT_EQ(u16(b, 0), 0x4000);
  EXPECT_EQ(b[2], 0 | 2 << 2 | 0 << 4 | 1 << 6);
  EXPECT_EQ(b[3], 2 | 1 << 2 | 1 << 4 | 1 << 6);
  for (int j = 4; j < 18; ++j) EXPECT_EQ(b[j], 0x55) << j;
  // Decode code 3 (never encoded) as +2d: byte 0xFF with d = 2 -> 4 for elements 0..3.
  std::vector<uint8_t> blk = b;
  blk[2] = 0xFF;
  const auto y = decode("q2_0", blk);
  EXPECT_EQ(y[0], 4.0f);
  EXPECT_EQ(y[4], 2.0f);   // code 2
  EXPECT_EQ(y[5], 0.0f);   // code 1
}

// --- mxfp4 ------------------------------------------------------------------------------------

TEST(LegacyMxfp4, E8M0HalfScaleCorners) {
  // 2^(e-128): e = 0 -> 2^-128 (subnormal 0x00200000), e = 1 -> 2^-127 (0x00400000),
  // e = 2 -> 2^-126 (0x00800000), e = 128 -> 1, e = 255 -> 2^127 (0x7F000000, not NaN).
  EXPECT_EQ(bits(ggml::e8m0_half(0)), 0x00200000u);
  EXPECT_EQ(bits(ggml::e8m0_half(1)), 0x00400000u);
  EXPECT_EQ(bits(ggml::e8m0_half(2)), 0x00800000u);
  EXPECT_EQ(ggml::e8m0_half(128), 1.0f);
  EXPECT_EQ(bits(ggml::e8m0_half(255)), 0x7F000000u);
  // Decode with e = 255: code 7 (12) * 2^127 overflows to +Inf, code 1 gives 2^127, code 8 (E2M1
  // -0) gives +0, code 15 (-12) -Inf.
  std::vector<uint8_t> blk(17, 0x00);
  blk[0] = 0xFF, blk[1] = 0x7 | 0x1 << 4, blk[2] = 0x8 | 0xF << 4;
  auto y = decode("mxfp4", blk);
  EXPECT_EQ(y[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(bits(y[16]), 0x7F000000u);
  EXPECT_EQ(bits(y[1]), 0x00000000u);
  EXPECT_EQ(y[17], -std::numeric_limits<float>::infinity());
  // e = 0: code 1 -> 2^-128, code 13 (-6) -> -6 * 2^-128 = -3 * 2^-127 (subnormal, exact).
  blk[0] = 0x00, blk[1] = 0x1 | 0xD << 4;
  y = decode("mxfp4", blk);
  EXPECT_EQ(bits(y[0]), 0x00200000u);
  EXPECT_EQ(y[16], -std::ldexp(3.0f, -127));
}

TEST(LegacyMxfp4, ExponentFromLog2AndLowestIndexWinsTies) {
  // amax = 6: floor(log2 6) = 2, e = 2 - 2 + 127 = 127, d = 2^-1: values kv*0.5 in
  // {0, .5, 1, 1.5, 2, 3, 4, 6}. x0 = 6 -> code 7; x1 = 0.25: 0 (code 0) and 0.5 (code 1) tie at 0.25
  // -> 0; x2 = -0.25: 0 (code 0) and -0.5 (code 9) tie -> 0; x3 = 5: 4 (code 6) and 6 (code 7) tie
  // -> 6; x4 = -3 -> code 13 (-6*0.5); x16 = -0 -> code 0 (|0 - -0| = 0 first).
  std::vector<float> x(32, 0.0f);
  x[0] = 6, x[1] = 0.25f, x[2] = -0.25f, x[3] = 5, x[4] = -3, x[16] = -0.0f;
  const auto b = encode("mxfp4", x);
  ASSERT_EQ(b.size(), 17u);
  EXPECT_EQ(b[0], 127);
  EXPECT_EQ(b[1 + 0], 7);
  EXPECT_EQ(b[1 + 1], 0);
  EXPECT_EQ(b[1 + 2], 0);
  EXPECT_EQ(b[1 + 3], 6);
  EXPECT_EQ(b[1 + 4], 13);
  // An all-zero block: amax = 0 gives e = 0 and every code 0.
  const auto z = encode("mxfp4", std::vector<float>(32, 0.0f));
  for (uint8_t v : z) EXPECT_EQ(v, 0);
}

// --- nvfp4 ------------------------------------------------------------------------------------

TEST(LegacyNvfp4, Ue4m3HalfScaleCorners) {
  // Half the UE4M3 value: 0x00 and 0x7F -> 0; bit 7 ignored otherwise: 0x80 -> exp 0, man 0 -> 0;
  // 0xFF -> (1 + 7/8) * 2^8 / 2 = 240; 0x38 -> 1/2; 0x01 -> 2^-9 / 2 = 2^-10; 0x7E -> 448 / 2 = 224.
  EXPECT_EQ(ggml::ue4m3_half(0x00), 0.0f);
  EXPECT_EQ(ggml::ue4m3_half(0x7F), 0.0f);
  EXPECT_EQ(ggml::ue4m3_half(0x80), 0.0f);
  EXPECT_EQ(ggml::ue4m3_half(0xFF), 240.0f);
  EXPECT_EQ(ggml::ue4m3_half(0x38), 0.5f);
  EXPECT_EQ(ggml::ue4m3_half(0x01), std::ldexp(1.0f, -10));
  EXPECT_EQ(ggml::ue4m3_half(0x7E), 224.0f);
  // Decoding a block with scale bytes 0x7F, 0x80, 0xFF, 0x38 and every code 7 (12): 0, 0, 2880, 6.
  std::vector<uint8_t> blk(36, 0x77);
  blk[0] = 0x7F, blk[1] = 0x80, blk[2] = 0xFF, blk[3] = 0x38;
  const auto y = decode("nvfp4", blk);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[32], 2880.0f);
  EXPECT_EQ(y[63], 6.0f);
}

TEST(LegacyNvfp4, Ue4m3EncoderRoundsHalfUpAndSaturates) {
  // Not > 0 -> 0 (zero, negatives, NaN). 448 and beyond -> 0x7E; so does any x >= 256 (exponent
  // field 15). 1 -> 0x38. 1.0625 = 1 + 2^-4: mantissa bits 000, next bit 1 -> rounds up to 0x39.
  // 1.9375 = 1.1111b: 111 + 1 carries into the exponent -> 2.0 = 0x40. 2^-10 (subnormal range):
  // (int)(2^-10 * 512 + 0.5) = 1 -> 0x01; 2^-11 -> (int)(0.75) = 0 -> 0.
  EXPECT_EQ(ggml::f32_to_ue4m3(0.0f), 0);
  EXPECT_EQ(ggml::f32_to_ue4m3(-1.0f), 0);
  EXPECT_EQ(ggml::f32_to_ue4m3(kNaN), 0);
  EXPECT_EQ(ggml::f32_to_ue4m3(448.0f), 0x7E);
  EXPECT_EQ(ggml::f32_to_ue4m3(1e9f), 0x7E);
  EXPECT_EQ(ggml::f32_to_ue4m3(300.0f), 0x7E);
  EXPECT_EQ(ggml::f32_to_ue4m3(1.0f), 0x38);
  EXPECT_EQ(ggml::f32_to_ue4m3(1.0625f), 0x39);
  EXPECT_EQ(ggml::f32_to_ue4m3(1.9375f), 0x40);
  EXPECT_EQ(ggml::f32_to_ue4m3(std::ldexp(1.0f, -10)), 0x01);
  EXPECT_EQ(ggml::f32_to_ue4m3(std::ldexp(1.0f, -11)), 0x00);
}

TEST(LegacyNvfp4, SubBlockScalesAndNibbleOrder) {
  // Sub-block 0: amax 6 -> scale byte ue4m3(1) = 0x38, half scale 0.5: x0 = 6 -> code 7,
  // x8 = -1 -> code 10 (-2*0.5), both in byte 0 (element j low, j+8 high). Sub-block 1: all zero
  // -> scale 0, codes 0. Sub-block 2: amax 12 -> ue4m3(2) = 0x40, half 1: x32 = -12 -> code 15.
  std::vector<float> x(64, 0.0f);
  x[0] = 6, x[8] = -1, x[32] = -12;
  const auto b = encode("nvfp4", x);
  ASSERT_EQ(b.size(), 36u);
  EXPECT_EQ(b[0], 0x38);
  EXPECT_EQ(b[1], 0x00);
  EXPECT_EQ(b[2], 0x40);
  EXPECT_EQ(b[3], 0x00);
  EXPECT_EQ(b[4 + 0], 0x7 | 0xA << 4);
  EXPECT_EQ(b[4 + 16], 0xF);
  const auto y = decode("nvfp4", b);
  EXPECT_EQ(y[0], 6.0f);
  EXPECT_EQ(y[8], -1.0f);
  EXPECT_EQ(y[32], -12.0f);
}

// --- q8_1 -------------------------------------------------------------------------------------

TEST(LegacyQ8_1, NativeTiesToEvenRefAwayAndTheirSums) {
  // amax = 127: d = 1 on both paths (id 1). x1 = 2.5: native 2, ref 3; x2 = 3.5: 4 on both.
  // s = fp16(d * sum): native 127 + 2 + 4 = 133 (0x5828), ref 127 + 3 + 4 = 134 (0x5830).
  std::vector<float> x(32, 0.0f);
  x[0] = 127, x[1] = 2.5f, x[2] = 3.5f;
  std::vector<uint8_t> native(36), ref(36);
  ggml::quantize_row_q8_1_native(x.data(), 32, native.data());
  ggml::quantize_row_q8_1_ref(x.data(), 32, ref.data());
  EXPECT_EQ(u16(native, 0), 0x3C00);
  EXPECT_EQ(u16(ref, 0), 0x3C00);
  EXPECT_EQ(u16(native, 2), 0x5828);
  EXPECT_EQ(u16(ref, 2), 0x5830);
  EXPECT_EQ(static_cast<int8_t>(native[4 + 1]), 2);
  EXPECT_EQ(static_cast<int8_t>(ref[4 + 1]), 3);
}

TEST(LegacyQ8_1, NativeSumCountsTheIndefiniteLevel) {
  // As above with x5 = NaN: lane 5's vmaxps chain drops it (elements 13, 21, 29 follow), so amax =
  // 127 and d = 1; its level is NaN -> 0x80000000, packed to -128. The sum is taken before the
  // packs, modulo 2^32: 133 - 2^31, which fp32 rounds to -2^31 + 128; times d = 1, fp16 gives -Inf.
  std::vector<float> x(32, 0.0f);
  x[0] = 127, x[1] = 2.5f, x[2] = 3.5f, x[5] = kNaN;
  std::vector<uint8_t> native(36);
  ggml::quantize_row_q8_1_native(x.data(), 32, native.data());
  EXPECT_EQ(u16(native, 0), 0x3C00);
  EXPECT_EQ(static_cast<int8_t>(native[4 + 5]), -128);
  EXPECT_EQ(u16(native, 2), 0xFC00);
}

TEST(LegacyQ8_1, ZeroBlockAndPartialLength) {
  // amax = 0: d = 0, id = 0, levels 0, s = fp16(0 * 0) = 0 on both paths.
  std::vector<float> x(32, 0.0f);
  std::vector<uint8_t> native(36, 0xA5), ref(36, 0xA5);
  ggml::quantize_row_q8_1_native(x.data(), 32, native.data());
  ggml::quantize_row_q8_1_ref(x.data(), 32, ref.data());
  EXPECT_EQ(native, std::vector<uint8_t>(36, 0));
  EXPECT_EQ(ref, std::vector<uint8_t>(36, 0));
  EXPECT_THROW(ggml::quantize_row_q8_1_native(x.data(), 31, native.data()), std::invalid_argument);
}

TEST(LegacyQ8_1, NonFiniteAndOverflowingLevelsAreDefined) {
  // All NaN: amax is NaN on both paths (the second operand wins every MAX/vmaxps), d = NaN/127
  // (fp16 0x7E00), id NaN, every level NaN -> -128. Native s: the int32 indefinite values sum to
  // 32 * -2^31 = 0 modulo 2^32, NaN * 0 = NaN (0x7E00); ref s: the int8 sum -4096 times NaN (0x7E00).
  std::vector<float> x(32, kNaN);
  std::vector<uint8_t> native(36), ref(36);
  ggml::quantize_row_q8_1_native(x.data(), 32, native.data());
  ggml::quantize_row_q8_1_ref(x.data(), 32, ref.data());
  for (const auto* b : {&native, &ref}) {
    EXPECT_EQ(u16(*b, 0), 0x7E00);
    EXPECT_EQ(u16(*b, 2), 0x7E00);
    for (int j = 4; j < 36; ++j) EXPECT_EQ((*b)[j], 0x80) << j;
  }
  // amax = 1e-38: id = 127/amax overflows to +Inf, so x0 * id = Inf and 0 * Inf = NaN: every level
  // is the indefinite value (-128), their int32 sum 0; d = amax/127 is below fp16's smallest
  // subnormal: fp16 0, and s = fp16(d * 0) = 0.
  std::fill(x.begin(), x.end(), 0.0f);
  x[0] = 1e-38f;
  ggml::quantize_row_q8_1_native(x.data(), 32, native.data());
  EXPECT_EQ(u16(native, 0), 0x0000);
  EXPECT_EQ(u16(native, 2), 0x0000);
  for (int j = 4; j < 36; ++j) EXPECT_EQ(native[j], 0x80) << j;
}

TEST(LegacyEncoders, NonFiniteInputsGiveDefinedBytes) {
  // q5_0, x0 = +Inf, the rest 0: max = Inf, d = Inf/-16 = -Inf (0xFC00), id = 1/-Inf = -0. Level 0:
  // Inf * -0 = NaN, its conversion the int32 indefinite value whose low byte is 0 -> MIN(31, 0) = 0;
  // the others 0 * -0 + 16.5 -> 16 (nibble 0, qh bit set).
  std::vector<float> x(32, 0.0f);
  x[0] = std::numeric_limits<float>::infinity();
  auto b = encode("q5_0", x);
  EXPECT_EQ(u16(b, 0), 0xFC00);
  uint32_t qh;
  std::memcpy(&qh, b.data() + 2, 4);
  EXPECT_EQ(qh, 0xFFFFFFFEu);
  for (int j = 6; j < 22; ++j) EXPECT_EQ(b[j], 0x00) << j;
  // mxfp4, same input: log2(Inf) = Inf converts to the indefinite value, low byte 0: e = 0. Every
  // error against x0 = Inf is Inf, so code 0 stays (strict <); zeros take code 0 too.
  b = encode("mxfp4", x);
  for (uint8_t v : b) EXPECT_EQ(v, 0);
  // mxfp4, amax = 2^-149: floor(log2) - 2 + 127 = -24, kept modulo 256 as x86 stores it: e = 232
  // (half scale 2^104), and every x is nearest to 0 (code 0).
  x[0] = std::ldexp(1.0f, -149);
  b = encode("mxfp4", x);
  EXPECT_EQ(b[0], 232);
  for (int j = 1; j < 17; ++j) EXPECT_EQ(b[j], 0) << j;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(LegacyQ8_1, BothQuantizersAreUpstreamBytes) {
  const fs::path dir = fs::path(QB_SOURCE_DIR "/../shared/vectors/ggml/q8_1");
  if (!fs::exists(dir / "manifest.json")) GTEST_SKIP() << "GGML golden vectors not found at " << dir;
  const auto manifest = nlohmann::json::parse(std::ifstream(dir / "manifest.json"));
  const int64_t n = manifest.at("rows").get<int64_t>() * manifest.at("row_length").get<int64_t>();
  int cases = 0;
  for (const auto& c : manifest.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto input = read_bytes(dir / c.at("input").at("file").get<std::string>());
    const auto want_ref = read_bytes(dir / c.at("quant_ref").at("data").at("file").get<std::string>());
    const auto& nat = c.at("quant_native");
    const auto want_native = nat.contains("data") ? read_bytes(dir / nat.at("data").at("file").get<std::string>()) : want_ref;
    ASSERT_EQ(input.size(), static_cast<std::size_t>(n) * 4);
    std::vector<float> x(static_cast<std::size_t>(n));
    std::memcpy(x.data(), input.data(), input.size());
    std::vector<uint8_t> got(want_ref.size(), 0xA5);
    ggml::quantize_row_q8_1_ref(x.data(), n, got.data());
    EXPECT_EQ(got, want_ref);
    std::fill(got.begin(), got.end(), 0xA5);
    ggml::quantize_row_q8_1_native(x.data(), n, got.data());
    EXPECT_EQ(got, want_native);
    ++cases;
  }
  EXPECT_GE(cases, 7);
}

}  // namespace
}  // namespace qb

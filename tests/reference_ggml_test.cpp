// Reference encoders and the activation quantizer on hand-worked blocks (first principles,
// values derived in the comments), beyond what the upstream vectors happen to contain.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "harness/prepared.h"
#include "harness/registry.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb {
namespace {

std::vector<uint8_t> encode(const char* fmt, const std::vector<float>& x) {
  std::vector<std::vector<uint8_t>> t;
  find_format(fmt)->encode_ref(x.data(), 1, static_cast<int64_t>(x.size()), {}, t);
  return t[0];
}

TEST(ReferenceQ4_0, FirstExtremeWinsAndLevelsRoundHalfUp) {
  // x0 = -16 and x3 = +16 tie on |x|; the first (-16) is the signed max, so d = -16/-8 = 2
  // (fp16 0x4000), id = 0.5. Levels (int)(x*0.5 + 8.5), capped at 15:
  // x0=-16 -> 0; x3=16 -> 16 -> 15; x1=1 -> 9; x2=-1 -> 8 (8.0); x16=0 -> 8; x17=3 -> 10.
  std::vector<float> x(32, 0.0f);
  x[0] = -16, x[1] = 1, x[2] = -1, x[3] = 16, x[17] = 3;
  const auto b = encode("q4_0", x);
  ASSERT_EQ(b.size(), 18u);
  EXPECT_EQ(b[0], 0x00);
  EXPECT_EQ(b[1], 0x40);
  EXPECT_EQ(b[2 + 0], 0x80);         // element 0 -> 0, element 16 -> 8
  EXPECT_EQ(b[2 + 1], 0x9 | 10 << 4);  // element 1 -> 9, element 17 -> 10
  EXPECT_EQ(b[2 + 2], 0x8 | 8 << 4);
  EXPECT_EQ(b[2 + 3], 0xF | 8 << 4);
}

TEST(ReferenceQ4_0, AllZeroBlockHasNegativeZeroScaleAndMidLevels) {
  // max stays +0, d = +0 / -8 = -0: fp16 0x8000 (upstream's zero_blocks case stores it too).
  const auto b = encode("q4_0", std::vector<float>(32, 0.0f));
  EXPECT_EQ(b[0], 0x00);
  EXPECT_EQ(b[1], 0x80);
  for (int j = 2; j < 18; ++j) EXPECT_EQ(b[j], 0x88) << j;  // (int)(0*0 + 8.5) = 8
}

TEST(ReferenceQ4_0, DecodeUsesOffsetEight) {
  // d = 1.0 (0x3C00); byte 0x1F: element 0 = (15-8)*1 = 7, element 16 = (1-8)*1 = -7.
  std::vector<uint8_t> blk(18, 0x88);
  blk[0] = 0x00, blk[1] = 0x3C, blk[2] = 0x1F;
  QWeight w;
  w.format = find_format("q4_0");
  w.rows = 1;
  w.cols = 32;
  w.tensors.push_back({"blocks", DType::U8, {1, 18}, blk.data(), blk.size()});
  std::vector<float> y(32);
  w.format->dequant_ref(PreparedWeight(w).get(), 0, 1, y.data());
  EXPECT_EQ(y[0], 7.0f);
  EXPECT_EQ(y[16], -7.0f);
  EXPECT_EQ(y[1], 0.0f);
}

TEST(ReferenceQ8_0, NativeActivationRoundsTiesToEvenRefAwayFromZero) {
  // amax = 127 gives d = 1 and id = 1 on both paths, so x*id keeps the .5 ties:
  // 2.5 -> native 2, ref 3; -2.5 -> native -2, ref -3; 3.5 -> 4 on both.
  std::vector<float> x(32, 0.0f);
  x[0] = 127, x[1] = 2.5f, x[2] = -2.5f, x[3] = 3.5f;
  std::vector<uint8_t> native(34), ref(34);
  ggml::quantize_row_q8_0_native(x.data(), 32, native.data());
  ggml::quantize_row_q8_0_ref(x.data(), 32, ref.data());
  EXPECT_EQ(native[0], 0x00);
  EXPECT_EQ(native[1], 0x3C);  // fp16(1.0)
  EXPECT_EQ(static_cast<int8_t>(native[2 + 1]), 2);
  EXPECT_EQ(static_cast<int8_t>(ref[2 + 1]), 3);
  EXPECT_EQ(static_cast<int8_t>(native[2 + 2]), -2);
  EXPECT_EQ(static_cast<int8_t>(ref[2 + 2]), -3);
  EXPECT_EQ(static_cast<int8_t>(native[2 + 3]), 4);
  EXPECT_EQ(static_cast<int8_t>(ref[2 + 3]), 4);
  // The weight encoder is the reference quantizer.
  EXPECT_EQ(encode("q8_0", x), ref);
}

TEST(ReferenceQ8_0, ActivationRejectsPartialBlocks) {
  std::vector<float> x(40, 1.0f);
  std::vector<uint8_t> out(68);
  EXPECT_THROW(ggml::quantize_row_q8_0_native(x.data(), 40, out.data()), std::invalid_argument);
}

}  // namespace
}  // namespace qb

// The harness must fail deliberately wrong kernels and encoders, each with its first bad block
// and a repro line, on the committed upstream fixtures; the real variants pass the same checks.
#include <cmath>
#include <cstring>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/wrong_variant.h"

#include "harness/fill.h"
#include "harness/verify.h"
#include "reference/common/half.h"

namespace qb {
namespace {

const std::string kFixture = std::string(QB_SOURCE_DIR) + "/fixtures/ggml/q4_0/gaussian.ref.safetensors";

float scale(const uint8_t* blk) {
  uint16_t h;
  std::memcpy(&h, blk, 2);
  return fp16_to_f32(h);
}

// Wrong: element j taken from the high nibble and j+16 from the low one.
void swapped_nibbles(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t b = 0; b < w->cols / 32; ++b) {
      const uint8_t* blk = data + (r * (w->cols / 32) + b) * 18;
      for (int j = 0; j < 16; ++j) {
        out[r * w->cols + b * 32 + j] = static_cast<float>((blk[2 + j] >> 4) - 8) * scale(blk);
        out[r * w->cols + b * 32 + j + 16] = static_cast<float>((blk[2 + j] & 15) - 8) * scale(blk);
      }
    }
}

// Wrong: the last block of every row is dropped (a vector loop whose tail handling is off by one).
void drops_tail_block(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  for (int64_t r = r0; r < r1; ++r) {
    float sum = 0;
    for (int64_t b = 0; b + 1 < w->cols / 32; ++b) {
      const uint8_t* blk = data + (r * (w->cols / 32) + b) * 18;
      const uint8_t* xb = act + b * 34;
      int sumi = 0;
      for (int j = 0; j < 16; ++j)
        sumi += ((blk[2 + j] & 15) - 8) * static_cast<int8_t>(xb[2 + j]) +
                ((blk[2 + j] >> 4) - 8) * static_cast<int8_t>(xb[18 + j]);
      sum += static_cast<float>(sumi) * scale(blk) * scale(xb);
    }
    y[r] = sum;
  }
}

// Wrong: the block scale is stored by truncating fp32 to fp16 instead of rounding it.
void truncating_encoder(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params,
                        std::vector<std::vector<uint8_t>>& tensors) {
  find_format("q4_0")->encode_ref(src, rows, cols, params, tensors);
  for (int64_t b = 0; b < rows * cols / 32; ++b) {
    const float* x = src + b * 32;
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]), max = x[j];
    const uint32_t bits = f32_to_bits(max / -8.0f);
    const uint16_t h = static_cast<uint16_t>(((bits >> 16) & 0x8000u) | ((((bits >> 23) & 0xFF) - 112) << 10) |
                                             ((bits >> 13) & 0x3FF));
    std::memcpy(tensors[0].data() + b * 18, &h, 2);
  }
}

Variant wrong(const char* name, Op op, DequantFn dequant, GemvFn gemv) {
  return test::wrong_q4_0_variant(name, op, dequant, gemv);
}

std::string run_pool(const std::vector<Variant>& pool, Tally& t) {
  std::ostringstream out;
  VerifyOptions opt;
  t = verify_fixture(load_fixture(kFixture), pool, opt, out);
  return out.str();
}

TEST(WrongVariants, SwappedNibblesFailWithFirstBadBlockAndRepro) {
  Tally t;
  const std::string out = run_pool({wrong("q4_0_dequant_swapped", Op::dequant, swapped_nibbles, nullptr)}, t);
  std::cout << out;
  EXPECT_GE(t.failed, 1);
  EXPECT_NE(out.find("first bad block 0 (row 0, cols 0..31) stored "), std::string::npos);
  EXPECT_NE(out.find("repro: build/bin/verify --variant q4_0_dequant_swapped"), std::string::npos);
}

TEST(WrongVariants, OffByOneTailFailsTheGemvBound) {
  Tally t;
  const std::string out = run_pool({wrong("q4_0_gemv_droptail", Op::gemv, nullptr, drops_tail_block)}, t);
  std::cout << out;
  EXPECT_GE(t.failed, 1);
  EXPECT_NE(out.find("outside bound 2*gamma_n*sum|w*x|"), std::string::npos);
  // The report leads to the dropped block: the last one of the row, not the row's first.
  EXPECT_NE(out.find("most of the error comes from block 31 (row 0, cols 992..1023)"), std::string::npos);
  EXPECT_NE(out.find("repro: "), std::string::npos);
}

TEST(WrongVariants, UnroundedFp16ScaleFailsTheEncoderCheck) {
  std::ostringstream out;
  const Tally t = verify_encoder(load_fixture(kFixture), truncating_encoder, "q4_0_encode_truncating", out);
  std::cout << out.str();
  EXPECT_EQ(t.failed, 1);
  EXPECT_NE(out.str().find("first differing block"), std::string::npos);
}

TEST(WrongVariants, RegisteredVariantsPassTheSameFixture) {
  std::ostringstream out;
  const Tally t = verify_fixture(load_fixture(kFixture), variants(), VerifyOptions{}, out);
  std::cout << out.str();
  EXPECT_EQ(t.failed, 0);
  EXPECT_GE(t.passed, 6);  // encoder, activation, >= 2 dequant and >= 2 gemv variants
}

}  // namespace
}  // namespace qb

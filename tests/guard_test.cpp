// The checked drivers (harness/run.h) surround every output with guard regions: a kernel that
// writes outside its rows fails with the variant, the op and how far it wrote, instead of
// silently corrupting whatever the allocator put next to the output.
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/wrong_variant.h"

#include "harness/fill.h"
#include "harness/prepared.h"
#include "harness/registry.h"
#include "harness/run.h"
#include "harness/verify.h"

namespace qb {
namespace {

constexpr int64_t kRows = 8, kCols = 64;

// Wrong: a correct q4_0 decode of its rows plus one element after the last of them.
void dequant_one_past(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  find_format("q4_0")->dequant_ref(w, r0, r1, out);
  out[r1 * w->cols] = 1.0f;
}

// Wrong: writes the element before its first row.
void dequant_one_before(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  find_format("q4_0")->dequant_ref(w, r0, r1, out);
  out[r0 * w->cols - 1] = 1.0f;
}

// Wrong: a GEMV that stores a whole 8-float vector at its last row (a tail loop without a mask).
void gemv_vector_tail(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  find_format("q4_0")->gemv_ref(w, act, m, r0, r1, y);
  for (int i = 0; i < 8; ++i) y[r1 - 1 + i] = 0.0f;
}

Variant wrong(const char* name, Op op, DequantFn dequant, GemvFn gemv) {
  return test::wrong_q4_0_variant(name, op, dequant, gemv);
}

// The OutputGuardError message of one run, or "" when the guards held.
template <typename Run>
std::string guard_message(Run run) {
  try {
    run();
  } catch (const OutputGuardError& e) {
    return e.what();
  }
  return "";
}

class Guard : public ::testing::Test {
 protected:
  const Format& f = *find_format("q4_0");
  OwnedWeight w = random_weight(f, kRows, kCols, 11);
  PreparedWeight pw{w.view()};
  std::vector<float> out = std::vector<float>(kRows * kCols);
};

TEST_F(Guard, WriteOnePastTheRowsNamesVariantOpAndBytes) {
  const Variant v = wrong("q4_0_dequant_one_past", Op::dequant, dequant_one_past, nullptr);
  const std::string msg = guard_message([&] { run_dequant(v, pw, out.data(), 1); });
  EXPECT_NE(msg.find("variant q4_0_dequant_one_past (op dequant)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4 bytes past the end"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("before the start"), std::string::npos) << msg;
}

// verify reports the guard failure as that check's FAIL with its repro, and goes on: the same
// kernel's checks on the derived cases still run.
TEST(GuardInVerify, FailsTheCheckWithReproAndContinues) {
  std::ostringstream out;
  const Tally t = verify_fixture(load_fixture(std::string(QB_SOURCE_DIR) + "/fixtures/ggml/q4_0/gaussian.ref.safetensors"),
                                 {wrong("q4_0_dequant_one_past", Op::dequant, dequant_one_past, nullptr)}, VerifyOptions{}, out);
  const std::string text = out.str();
  EXPECT_GE(t.failed, 2) << text;
  EXPECT_NE(text.find("wrote outside its"), std::string::npos) << text;
  EXPECT_NE(text.find("4 bytes past the end"), std::string::npos) << text;
  EXPECT_NE(text.find("repro: build/bin/verify --variant q4_0_dequant_one_past"), std::string::npos) << text;
}

TEST_F(Guard, WriteBeforeTheStartIsCaught) {
  const Variant v = wrong("q4_0_dequant_one_before", Op::dequant, dequant_one_before, nullptr);
  const std::string msg = guard_message([&] { run_dequant(v, pw, out.data(), 1); });
  EXPECT_NE(msg.find("4 bytes before the start"), std::string::npos) << msg;
}

TEST_F(Guard, GemvVectorStorePastTheEndIsCaught) {
  const Variant v = wrong("q4_0_gemv_vector_tail", Op::gemv, nullptr, gemv_vector_tail);
  const OwnedActivation act = quantize_activation(f, gaussian(kCols, 12), kCols);
  std::vector<float> y(kRows);
  const std::string msg = guard_message([&] { run_gemv(v, pw, act.data(), 1, y.data(), 1); });
  EXPECT_NE(msg.find("variant q4_0_gemv_vector_tail (op gemv)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("28 bytes past the end"), std::string::npos) << msg;  // 7 of the 8 floats
}

// Correct kernels pass the guards, and the guarded copy returns exactly what they wrote.
TEST_F(Guard, RegisteredVariantsStayInsideTheirOutput) {
  for (const Variant* v : select_variants(variants(), "q4_0", Op::dequant, ~0ull).run) {
    std::vector<float> want(out.size());
    v->dequant(pw.get(), 0, kRows, want.data());
    ASSERT_EQ(guard_message([&] { run_dequant(*v, pw, out.data(), 3); }), "") << v->name;
    EXPECT_EQ(out, want) << v->name;
  }
}

}  // namespace
}  // namespace qb

// The exact-by-construction GEMV cases (Format::exact_gemv_case; reference/ggml/exact_case.cpp,
// legacy_exact_case.cpp, q8_K_exact_case.cpp), for every format that has one:
//
// 1. The construction is exact: on several seeds and shapes the fp64 dot of the reference decode
//    and the activation's values (what verify expects) is an fp32 value, and the scalar reference
//    GEMV, whose fp32 roundings fall wherever upstream's order puts them, gives exactly its bits.
//    The activation is a valid encoding (q8_K: codes in [-127, 127], bsums the sums of 16 codes).
// 2. Every optimized GEMV variant (the registry's and QB_PLUGIN's) gives those bits too, at 1, 2
//    and 3 threads and on misaligned buffers: any summation order a kernel picks must.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/fill.h"
#include "harness/plugin.h"
#include "harness/prepared.h"
#include "harness/registry.h"
#include "tests/test_pool.h"
#include "harness/run.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb {
namespace {

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

struct ExactInput {
  std::vector<std::vector<uint8_t>> tensors;
  std::vector<uint8_t> act;
  std::vector<float> y;  // the fp64 dot per row, as verify computes it, stored to fp32
  bool exact_in_fp32 = true;  // every row's fp64 dot was an fp32 value
};

// Builds the case and its expectation as harness/verify.cpp does; false when the format declines
// the shape.
bool make_input(const Format& f, int64_t rows, int64_t cols, uint64_t seed, ExactInput& in) {
  if (!f.exact_gemv_case(f, rows, cols, seed, in.tensors, in.act)) return false;
  const OwnedWeight w(f, rows, cols, nlohmann::json::object(), in.tensors);
  std::vector<float> wd(static_cast<std::size_t>(rows * cols)), x(static_cast<std::size_t>(cols));
  f.dequant_ref(PreparedWeight(w.view()).get(), 0, rows, wd.data());
  f.activation->dequant(in.act.data(), cols, x.data());
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < cols; ++i) sum += static_cast<double>(wd[static_cast<std::size_t>(r * cols + i)]) * x[i];
    in.y.push_back(static_cast<float>(sum));
    in.exact_in_fp32 = in.exact_in_fp32 && static_cast<double>(in.y.back()) == sum;
  }
  return true;
}

std::vector<const Format*> exact_formats() {
  std::vector<const Format*> out;
  for (const Format& f : formats())
    if (f.exact_gemv_case && f.gemv_ref) out.push_back(&f);
  return out;
}

// The q8_K activation as upstream's quantizer could write it: codes in [-127, 127] and each bsum
// the sum of its 16 codes (kernels read the min and offset terms from bsums).
void expect_valid_q8_K(const std::vector<uint8_t>& act, int64_t cols, int& max_code) {
  ASSERT_EQ(act.size(), static_cast<std::size_t>(cols / ggml::kQK_K) * sizeof(ggml::BlockQ8_K));
  for (int64_t b = 0; b < cols / ggml::kQK_K; ++b) {
    const uint8_t* blk = act.data() + b * sizeof(ggml::BlockQ8_K);
    const int8_t* qs = ggml::q8_K_qs(blk);
    int exp = 0;
    EXPECT_EQ(std::fabs(std::frexp(ggml::q8_K_d(blk), &exp)), 0.5f) << "block " << b << ": d is not a power of two";
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int e = 0; e < 16; ++e) {
        EXPECT_GE(qs[16 * j + e], -127) << "block " << b;
        max_code = std::max(max_code, std::abs(int{qs[16 * j + e]}));
        sum += qs[16 * j + e];
      }
      EXPECT_EQ(ggml::q8_K_bsum(blk, j), sum) << "block " << b << " bsum " << j;
    }
  }
}

TEST(ExactCase, ScalarReferenceGivesTheExactDot) {
  const std::vector<const Format*> fs = exact_formats();
  // The q8_0-paired and legacy formats, and the q8_K ones: k-quants, iq4_xs, ternary and grid types.
  for (const char* id : {"q4_0", "q8_0", "q4_1", "mxfp4", "nvfp4", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_xs",
                         "tq1_0", "tq2_0", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m"})
    EXPECT_TRUE(std::any_of(fs.begin(), fs.end(), [&](const Format* f) { return f->id == id; }))
        << id << " has no exact case";
  for (const Format* f : fs) {
    int built = 0;
    std::string codes;  // the largest |x8| each width allowed (q8_K), for the log
    for (const int64_t cols : {256, 512, 1024, 2048}) {
      int max_code = 0;
      for (const int64_t rows : {1, 5, 8})
        for (const uint64_t seed : {1ull, 77ull, 0xabcdefull}) {
          SCOPED_TRACE(f->id + " " + std::to_string(rows) + "x" + std::to_string(cols) + " seed " +
                       std::to_string(seed));
          ExactInput in;
          if (!make_input(*f, rows, cols, seed, in)) {
            // verify asks for at most 512 columns: those must always be made.
            EXPECT_GT(cols, 512) << "no exact case";
            continue;
          }
          ++built;
          ASSERT_EQ(in.tensors.size(), 1u);
          EXPECT_EQ(in.tensors[0].size(), f->stored_bytes(rows, cols, nlohmann::json::object()));
          EXPECT_TRUE(in.exact_in_fp32) << "an fp64 dot is not an fp32 value";
          if (f->activation->id == "q8_K") expect_valid_q8_K(in.act, cols, max_code);
          const OwnedWeight w(*f, rows, cols, nlohmann::json::object(), in.tensors);
          const PreparedWeight pw(w.view());
          std::vector<float> got(static_cast<std::size_t>(rows));
          f->gemv_ref(pw.get(), in.act.data(), 1, 0, rows, got.data());
          int nonzero = 0;
          for (int64_t r = 0; r < rows; ++r) {
            EXPECT_EQ(bits(got[r]), bits(in.y[r])) << "row " << r << ": exact " << in.y[r] << ", reference " << got[r];
            nonzero += in.y[r] != 0.0f;
          }
          EXPECT_GT(nonzero, 0) << "every row is 0: nothing checked";
        }
      codes += " " + std::to_string(cols) + ":" + std::to_string(max_code);
    }
    EXPECT_GT(built, 0) << f->id;
    if (f->activation->id == "q8_K") std::cout << f->id << ": largest |x8| per column count" << codes << "\n";
  }
}

std::vector<std::string> exact_gemv_names() {
  std::vector<std::string> names;
  for (const Variant& v : test::test_pool()) {
    const Format* f = find_format(v.format);
    if (!v.reference && v.op == Op::gemv && f && f->exact_gemv_case) names.push_back(v.name);
  }
  return names;
}

class ExactCaseKernel : public ::testing::TestWithParam<std::string> {};

TEST_P(ExactCaseKernel, AnyOrderGivesTheExactBits) {
  const Variant* v = &test::pool_variant(GetParam());
  if (const std::string why = test::why_not_run(*v); !why.empty()) GTEST_SKIP() << why;
  const Format& f = *find_format(v->format);
  // Row counts off the kernels' row groups (4, 8) and thread splits; one to four 256-element blocks.
  static constexpr int64_t kShapes[][2] = {{1, 256}, {3, 512}, {5, 768}, {9, 256}, {13, 1024}, {8, 512}};
  int checked = 0;
  for (const auto& shape : kShapes)
    for (const std::size_t misalign : {std::size_t{0}, std::size_t{1}}) {
      const int64_t rows = shape[0], cols = shape[1];
      const uint64_t seed = 0xe8ac7 + static_cast<uint64_t>(rows * 4099 + cols) + misalign;
      SCOPED_TRACE(v->name + " " + std::to_string(rows) + "x" + std::to_string(cols) + " misalign " +
                   std::to_string(misalign) + " seed " + std::to_string(seed));
      ExactInput in;
      if (!make_input(f, rows, cols, seed, in)) {
        EXPECT_GT(cols, 512) << "no exact case";
        continue;
      }
      ASSERT_TRUE(in.exact_in_fp32);
      const OwnedWeight w(f, rows, cols, nlohmann::json::object(), in.tensors, misalign);
      const PreparedWeight pw(w.view());
      std::vector<uint8_t> act_buf(in.act.size() + 64 + misalign);
      uint8_t* act = act_buf.data() + (64 - reinterpret_cast<uintptr_t>(act_buf.data()) % 64) % 64 + misalign;
      std::memcpy(act, in.act.data(), in.act.size());
      for (const int threads : {1, 2, 3}) {
        std::vector<float> got(static_cast<std::size_t>(rows), -1.0f);
        run_gemv(*v, pw, act, 1, got.data(), threads);
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(bits(got[r]), bits(in.y[r]))
              << "row " << r << ": exact " << in.y[r] << " got " << got[r] << " (threads " << threads << ")";
      }
      ++checked;
    }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Registry, ExactCaseKernel, ::testing::ValuesIn(exact_gemv_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace qb

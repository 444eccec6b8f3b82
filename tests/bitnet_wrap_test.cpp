// BitNet GEMVs on the worst case for their integer sums (specs/bitnet.md 3.1): every registered
// GEMV of bitnet_i2_s and bitnet_hf (references included, and those of the QB_PLUGIN library, how a
// mutant kernel is put under this test) against the exact result worked out here from first
// principles.
//
// Every weight field holds one code c (c = 2: T = +1; c = 3: T = +2, the code converters never
// write but every decoder takes; c = 0: T = -1) and every activation code is q = 127 or -128, at
// cols >= 8192: each product has the largest magnitude its sign allows, and all add up with the
// same sign. Upstream's AVX2 I2_S kernel keeps int16 sums over 32 blocks of 128 and already wraps
// at cols = 4096 on all +1 against q = 127 (its vector i2s_4x4096_int16_wrap: -8192 for a true
// 1,040,384). Here the exact dot is D = cols * T * q (int64, well inside int32), and the float
// epilogue is written out in fp32 as the spec defines it:
//   I2_S: ((float)(D + sum q) - (float)sum q) / s * scale      (bitnet.cpp, spec 3.1 step 3)
//   HF:   (float)D / s * weight_scale                          (scale_rule multiply)
//         (float)D / (s * weight_scale)                        (scale_rule divide)
// compared as bits, at 1, 2 and 3 threads, with weight and activation aligned and 1 byte off. Shapes: row counts that leave a kernel's last row
// group partial (HF: not a multiple of 4, so a padding field exists), and cols with an even and an
// odd count of 128-element blocks (I2_S), or a partial last vector chunk (HF).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/fill.h"
#include "harness/plugin.h"
#include "harness/prepared.h"
#include "harness/registry.h"
#include "tests/test_pool.h"
#include "harness/run.h"

namespace qb {
namespace {

bool wrap_format(const std::string& id) { return id == "bitnet_i2_s" || id == "bitnet_hf"; }

std::vector<std::string> gemv_names() {
  std::vector<std::string> names;
  for (const Variant& v : test::test_pool())
    if (v.op == Op::gemv && wrap_format(v.format)) names.push_back(v.name);
  return names;
}

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}
float from_bits(uint32_t b) {
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

// The weight's stored tensors: every 2-bit field holds `code` (byte code * 0x55).
std::vector<std::vector<uint8_t>> weight_tensors(bool i2s, int64_t rows, int64_t cols, int code, uint32_t scale_bits) {
  const auto fill = static_cast<uint8_t>(code * 0x55);
  if (i2s) {  // rows*cols/4 code bytes, then a 32-byte tail holding the f32 scale
    std::vector<uint8_t> t(static_cast<std::size_t>(rows * cols / 4 + 32), 0);
    std::fill(t.begin(), t.begin() + rows * cols / 4, fill);
    std::memcpy(t.data() + rows * cols / 4, &scale_bits, 4);
    return {t};
  }
  // [ceil(rows/4), cols] codes (padding fields too), BF16 [1] weight_scale
  std::vector<uint8_t> packed(static_cast<std::size_t>((rows + 3) / 4 * cols), fill);
  const auto bf16 = static_cast<uint16_t>(scale_bits >> 16);
  std::vector<uint8_t> scale(2);
  std::memcpy(scale.data(), &bf16, 2);
  return {packed, scale};
}

class BitnetWrapTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BitnetWrapTest, ExactOnWorstCaseSums) {
  const Variant* v = &test::pool_variant(GetParam());
  if (const std::string why = test::why_not_run(*v); !why.empty()) GTEST_SKIP() << why;
  const Format& f = *find_format(v->format);
  const bool i2s = f.id == "bitnet_i2_s";
  // Scales: an activation scale as quantize_row_i8_s makes it (127 / max|x|), the I2_S scale an
  // f32, HF's weight_scale 2B-4T's bf16 1.5546875 (0x3FC7).
  const float s = 127.0f / 3.71f;
  const uint32_t scale_bits = i2s ? bits(1.2345678f) : 0x3FC70000u;
  const float ws = from_bits(scale_bits);
  const std::vector<int64_t> row_counts = i2s ? std::vector<int64_t>{5, 9} : std::vector<int64_t>{7, 10};
  const std::vector<int64_t> col_counts = i2s ? std::vector<int64_t>{8192, 8320} : std::vector<int64_t>{8192, 8257};
  const std::vector<bool> divides = i2s ? std::vector<bool>{false} : std::vector<bool>{false, true};
  for (const bool divide : divides)
    for (const int64_t rows : row_counts)
      for (const int64_t cols : col_counts)
        for (const int code : {2, 3, 0})
          for (const int q : {127, -128}) {
            const int t = code - 1;
            SCOPED_TRACE(v->name + " " + std::to_string(rows) + "x" + std::to_string(cols) + " T " + std::to_string(t) +
                         " q " + std::to_string(q) + (divide ? " divide" : ""));
            const int64_t d64 = cols * t * q, sum64 = cols * q;
            ASSERT_LT(std::abs(d64) + std::abs(sum64), int64_t{1} << 31);
            const auto d = static_cast<int32_t>(d64), sum_q = static_cast<int32_t>(sum64);
            float want;
            if (i2s) {
              const float num = static_cast<float>(d + sum_q) - static_cast<float>(sum_q);
              want = num / s * ws;
            } else if (divide) {
              const float sw = s * ws;
              want = static_cast<float>(d) / sw;
            } else {
              want = static_cast<float>(d) / s * ws;
            }
            const nlohmann::json params =
                i2s ? nlohmann::json::object() : nlohmann::json{{"scale_rule", divide ? "divide" : "multiply"}};
            for (const std::size_t misalign : {std::size_t{0}, std::size_t{1}}) {
              const OwnedWeight w(f, rows, cols, params, weight_tensors(i2s, rows, cols, code, scale_bits), misalign);
              const PreparedWeight pw(w.view());
              // Activation bytes: f32 s, int32 sum of q, then cols int8 q.
              std::vector<uint8_t> buf(static_cast<std::size_t>(8 + cols) + 64 + misalign);
              uint8_t* act = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64 + misalign;
              std::memcpy(act, &s, 4);
              std::memcpy(act + 4, &sum_q, 4);
              std::memset(act + 8, static_cast<uint8_t>(static_cast<int8_t>(q)), static_cast<std::size_t>(cols));
              for (const int threads : {1, 2, 3}) {
                std::vector<float> got(static_cast<std::size_t>(rows), -1.0f);
                run_gemv(*v, pw, act, 1, got.data(), threads);
                for (int64_t r = 0; r < rows; ++r)
                  ASSERT_EQ(bits(got[r]), bits(want)) << "row " << r << ": want " << want << " (D = " << d << ") got "
                                                      << got[r] << ", threads " << threads << ", misalign " << misalign;
              }
            }
          }
}

INSTANTIATE_TEST_SUITE_P(Registry, BitnetWrapTest, ::testing::ValuesIn(gemv_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace qb

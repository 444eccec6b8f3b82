// The full int8 range in integer GEMVs and the activation quantizer (issue 9).
//
// 1. Every registered GEMV variant whose format takes q8_0 activations (the registry's list and
//    QB_PLUGIN's, so new kernels are covered without edits here) on extreme codes: weight codes at
//    their minimum and maximum (q8_0 -128 and 127, q4_0 nibbles 0 and 15), activation codes -128,
//    127, -1, mixed signs, whole blocks of -128 against -1, and -128/-128 pairs (those a vpmaddubsw
//    sums, which saturate int16 when both weights are -128). Scales are powers of two and the
//    blocks few, so every partial sum any kernel forms is an integer multiple of 2^s below 2^(24+s):
//    exact in fp32 in any order. The expected y is the int64 dot of the codes times the scales in
//    fp64, and must match bit for bit.
// 2. The activation quantizer on non-finite and out-of-range input, against bytes worked out by
//    hand from the instruction semantics of upstream's x86 quantize_row_q8_0 (comments per case).
// 3. The harness's planted activations hold code -128, so verify and the variant tests see it.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/fill.h"
#include "harness/plugin.h"
#include "harness/prepared.h"
#include "harness/registry.h"
#include "tests/test_pool.h"
#include "harness/run.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb {
namespace {

// ---- 1. GEMV variants on extreme codes ----------------------------------------------------

bool integer_activation(const Format& f) { return f.activation && f.activation->id == "q8_0"; }

std::vector<std::string> integer_gemv_names() {
  std::vector<std::string> names;
  for (const Variant& v : test::test_pool()) {
    const Format* f = find_format(v.format);
    if (v.op == Op::gemv && f && integer_activation(*f)) names.push_back(v.name);
  }
  return names;
}

// Code patterns by element j: whole-range extremes, pairs, ramps. Weight patterns are given in
// the q8_0 range and mapped to q4_0's [-8, 7] by the extremes they stand for.
int weight_code(bool q4, int pattern, int j) {
  const int lo = q4 ? -8 : -128, hi = q4 ? 7 : 127;
  switch (pattern) {
    case 0: return lo;                                  // q8_0 -128, q4_0 nibble 0
    case 1: return hi;                                  // q8_0 127, q4_0 nibble 15
    case 2: return -1;                                  // the issue's weight
    case 3: return j % 2 ? hi : lo;                     // alternating extremes
    case 4: return (j / 2) % 2 ? hi : lo;               // extremes in pairs
    case 5: return q4 ? j % 16 - 8 : (j * 37 + 11) % 256 - 128;  // a ramp over the range
    default: return (j % 3 == 0) ? lo : (j % 3 == 1 ? -1 : 0);  // most negative, -1, 0
  }
}
constexpr int kWeightPatterns = 7;

int act_code(int pattern, int j) {
  switch (pattern) {
    case 0: return -128;                        // whole block -128 (meets every weight pattern)
    case 1: return 127;
    case 2: return -1;
    case 3: return j % 2 ? 127 : -128;          // mixed signs
    case 4: return (j / 2) % 2 ? 127 : -128;    // -128/-128 pairs: a vpmaddubsw pair of 2^15
    case 5: return j % 2 ? -128 : 127;
    default: return (j * 53 + 7) % 256 - 128;   // a ramp over the range
  }
}
constexpr int kActPatterns = 7;

// Pattern and exponent choices cycle with row, block and vector, so the rows of one group of
// four (or eight) meet different patterns in the same block; y is the exact result.
ggml::IntegerCodeCase make_case(const Format& f, int64_t rows, int64_t nb, int64_t m) {
  const bool q4 = f.id == "q4_0";
  const ggml::IntegerCodeCase c = ggml::integer_code_case(
      f, rows, nb, m, [q4](int64_t r, int64_t b, int j) { return weight_code(q4, static_cast<int>((r + 3 * b) % kWeightPatterns), j); },
      [](int64_t r, int64_t b) { return -static_cast<int>((r + b) % 2); },
      [](int64_t i, int64_t b, int j) { return act_code(static_cast<int>((2 * i + b) % kActPatterns), j); },
      [](int64_t i, int64_t b) { return -static_cast<int>((i + 2 * b) % 3 == 1); });
  // The premise of a unique answer: every partial sum is exact in fp32.
  EXPECT_TRUE(c.exact) << "test case not exact: " << rows << "x" << nb << " blocks, m " << m;
  return c;
}

class IntegerRangeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(IntegerRangeTest, ExactOnExtremeCodes) {
  const Variant* v = &test::pool_variant(GetParam());
  if (const std::string why = test::why_not_run(*v); !why.empty()) GTEST_SKIP() << why;
  const Format& f = *find_format(v->format);
  if (f.id != "q4_0" && f.id != "q8_0")
    GTEST_SKIP() << "no extreme-code case for format " << f.id << " yet: add its code layout to make_case";
  // Row counts off multiples of 4 and 8 (the kernels' row groups); blocks from one to seven, so
  // 64-byte chunk kernels meet whole chunks, tails and the block/chunk phases; m = 1 and a batch.
  static constexpr int64_t kShapes[][2] = {{1, 1}, {3, 2}, {5, 3}, {6, 5}, {9, 4}, {13, 7}};
  for (const auto& shape : kShapes)
    for (const int64_t m : {int64_t{1}, int64_t{5}})
      for (const std::size_t misalign : {std::size_t{0}, std::size_t{1}}) {
        const int64_t rows = shape[0], nb = shape[1], cols = nb * 32;
        SCOPED_TRACE(v->name + " " + std::to_string(rows) + "x" + std::to_string(cols) + " m " + std::to_string(m) +
                     " misalign " + std::to_string(misalign));
        const ggml::IntegerCodeCase c = make_case(f, rows, nb, m);
        const OwnedWeight w(f, rows, cols, nlohmann::json::object(), {c.blocks}, misalign);
        const PreparedWeight pw(w.view());
        std::vector<uint8_t> act_buf(c.act.size() + 64 + misalign);
        uint8_t* act = act_buf.data() + (64 - reinterpret_cast<uintptr_t>(act_buf.data()) % 64) % 64 + misalign;
        std::memcpy(act, c.act.data(), c.act.size());
        for (const int threads : {1, 2}) {
          std::vector<float> got(c.y.size(), -1.0f);
          run_gemv(*v, pw, act, m, got.data(), threads);
          for (std::size_t k = 0; k < c.y.size(); ++k) {
            uint32_t want_bits, got_bits;
            std::memcpy(&want_bits, &c.y[k], 4);
            std::memcpy(&got_bits, &got[k], 4);
            ASSERT_EQ(got_bits, want_bits) << "vector " << k / rows << " row " << k % rows << ": want " << c.y[k]
                                           << " got " << got[k] << " (threads " << threads << ")";
          }
        }
      }
}

INSTANTIATE_TEST_SUITE_P(Registry, IntegerRangeTest, ::testing::ValuesIn(integer_gemv_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// The issue's report, by itself: one q8_0 block of weight codes -1 against activation codes -128,
// unit scales, two blocks per row: y = 2 * 32 * (-1) * (-128) = +8192 (the sign trick gave -8192).
TEST(IntegerRange, IssueCaseMinusOneTimesMinus128) {
  const Format& f = *find_format("q8_0");
  std::vector<uint8_t> blocks(2 * 34), act(2 * 34);
  for (int b = 0; b < 2; ++b) {
    const uint16_t one = 0x3C00;
    std::memcpy(&blocks[b * 34], &one, 2);
    std::memcpy(&act[b * 34], &one, 2);
    std::memset(&blocks[b * 34 + 2], 0xFF, 32);  // -1
    std::memset(&act[b * 34 + 2], 0x80, 32);     // -128
  }
  const OwnedWeight w(f, 1, 64, nlohmann::json::object(), {blocks});
  const PreparedWeight pw(w.view());
  int ran = 0;
  for (const Variant& v : test::test_pool()) {
    if (v.format != "q8_0" || v.op != Op::gemv) continue;
    if (!test::why_not_run(v).empty()) continue;  // CPU lacks it
    float y = 0;
    run_gemv(v, pw, act.data(), 1, &y, 1);
    EXPECT_EQ(y, 8192.0f) << v.name;
    ++ran;
  }
  EXPECT_GT(ran, 0);
}

// ---- 2. The activation quantizer on non-finite and out-of-range input ---------------------
//
// Upstream's x86 quantize_row_q8_0 per block: |x| by vandnps; amax = vmaxps chain per lane
// l = j % 8 over the four 8-wide vectors k = j / 8 (acc = vmaxps(acc, |x|)), then
// t_i = vmaxps(m_{4+i}, m_i), u_0 = vmaxps(t_0, t_2), u_1 = vmaxps(t_1, t_3), amax = vmaxss(u_0, u_1).
// vmaxps(a, b) is a > b ? a : b: the second operand wins when either is NaN. d = amax / 127 to fp16
// by F16C; id = amax != 0 ? 127 / amax : 0; level = round-half-even(x * id); vcvtps2dq gives
// 0x80000000 for NaN or beyond int32, and vpackssdw + vpacksswb saturate, so that is -128 and
// finite levels clamp to [-128, 127].

struct Block {
  uint16_t d;
  int8_t q[32];
};

Block quantized_block(void (*quantize)(const float*, int64_t, uint8_t*), const std::vector<float>& x) {
  std::vector<uint8_t> out(34);
  quantize(x.data(), 32, out.data());
  Block b;
  std::memcpy(&b.d, out.data(), 2);
  std::memcpy(b.q, out.data() + 2, 32);
  return b;
}
Block native_block(const std::vector<float>& x) { return quantized_block(ggml::quantize_row_q8_0_native, x); }
Block ref_block(const std::vector<float>& x) { return quantized_block(ggml::quantize_row_q8_0_ref, x); }

void expect_all(const Block& b, int8_t q, const char* what) {
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.q[j], q) << what << ", element " << j;
}

TEST(Q8_0QuantizerRange, TinyNormalAmaxOverflowsIdToInf) {
  // amax = 2^-125 (normal): 127 / 2^-125 = 127 * 2^125 > FLT_MAX, so id = +Inf. Levels: a non-zero
  // x gives +-Inf, a zero gives 0 * Inf = NaN: every one converts to 0x80000000 and packs to -128.
  // d = 2^-125 / 127 is far below fp16's smallest subnormal 2^-24: fp16 +0.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = j % 3 == 0 ? std::ldexp(1.0f, -125) : (j % 3 == 1 ? -std::ldexp(1.0f, -126) : 0.0f);
  for (const Block& b : {native_block(x), ref_block(x)}) {
    EXPECT_EQ(b.d, 0x0000);
    expect_all(b, -128, "tiny normal amax");
  }
}

TEST(Q8_0QuantizerRange, SubnormalAmaxOverflowsIdToInf) {
  // amax = 2^-140 (fp32 subnormal): id = 127 * 2^140 = Inf as above; d rounds to fp16 +0. The ref
  // path: d = 2^-140 / 127 is a non-zero fp32 subnormal, 1 / d overflows to Inf too.
  std::vector<float> x(32, 0.0f);
  x[3] = std::ldexp(1.0f, -140);
  x[20] = -std::ldexp(1.0f, -141);
  for (const Block& b : {native_block(x), ref_block(x)}) {
    EXPECT_EQ(b.d, 0x0000);
    expect_all(b, -128, "subnormal amax");
  }
}

TEST(Q8_0QuantizerRange, InfInputZeroesTheOthers) {
  // amax = +Inf (vmaxps keeps Inf in any position): d = Inf, fp16 0x7C00; id = 127 / Inf = 0, so
  // finite x give +-0 -> 0 and the Inf element Inf * 0 = NaN -> -128. The ref: d = Inf, id = 1/Inf.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  x[7] = std::numeric_limits<float>::infinity();
  x[30] = -std::numeric_limits<float>::infinity();
  for (const Block& b : {native_block(x), ref_block(x)}) {
    EXPECT_EQ(b.d, 0x7C00);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(b.q[j], j == 7 || j == 30 ? -128 : 0) << "element " << j;
  }
}

TEST(Q8_0QuantizerRange, NaNCountsOnlyWhereTheMaxChainKeepsIt) {
  // One NaN at element p, every other element 127. Native: a lane's NaN survives the chain only
  // from the last vector (k = 3, it is the second operand of the last vmaxps; from k < 3 the next
  // vmaxps returns the following element); t_i keeps lanes 0..3 (second operand), u_0 keeps t_2,
  // u_1 keeps t_3, amax keeps u_1: only p = 8*3 + 3 = 27 reaches amax. Then d = NaN: the default
  // quiet NaN 0x7FC00000 (sign cleared by vandnps) narrows to fp16 0x7E00, id = NaN, every level
  // -128. Elsewhere amax = 127: d = 1 (0x3C00), id = 1, levels 127 and -128 at p.
  // Ref: amax = MAX(amax, |x_j|) in order keeps a NaN only at p = 31 (the last compare); then
  // d = NaN (software fp16: 0x7E00), id = 1/d = NaN, all -128; otherwise d = 1, id = 1.
  for (int p = 0; p < 32; ++p) {
    std::vector<float> x(32, 127.0f);
    x[p] = std::numeric_limits<float>::quiet_NaN();
    const Block n = native_block(x), r = ref_block(x);
    SCOPED_TRACE("NaN at " + std::to_string(p));
    EXPECT_EQ(n.d, p == 27 ? 0x7E00 : 0x3C00);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(n.q[j], p == 27 || j == p ? -128 : 127) << "native element " << j;
    EXPECT_EQ(r.d, p == 31 ? 0x7E00 : 0x3C00);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(r.q[j], p == 31 || j == p ? -128 : 127) << "ref element " << j;
  }
}

TEST(Q8_0QuantizerRange, NaNPayloadReachesTheScaleAsF16CNarrowsIt) {
  // x[27] = 0xFFA00000 (a negative signalling NaN): vandnps clears the sign (0x7FA00000), vmaxps
  // passes it unchanged, amax / 127 quiets it (0x7FE00000), and vcvtps2ph keeps the top 10
  // mantissa bits: 0x7C00 | (0x600000 >> 13) = 0x7F00. Every level is NaN: -128.
  std::vector<float> x(32, 1.0f);
  x[27] = bits_to_f32(0xFFA00000u);
  const Block b = native_block(x);
  EXPECT_EQ(b.d, 0x7F00);
  expect_all(b, -128, "NaN amax");
}

TEST(Q8_0QuantizerRange, DroppedNaNLeavesHugeLevelsThatSaturate) {
  // Elements 1..4 (lanes 1..4 of vector 0) are large, elements 9..12 (the same lanes, vector 1)
  // NaN: vmaxps(|x_l|, NaN) = NaN, then vmaxps(NaN, |x_{16+l}|) = |x_{16+l}|, so both the NaN and
  // the large element are dropped from amax. The other elements: small integers (j % 5) - 2 and
  // x[31] = 127, so amax = 127, d = 1 (0x3C00), id = 1, and the levels are the values themselves:
  // 1000 -> 127, -1000 -> -128, 1e30 >= 2^31 -> 0x80000000 -> -128 (not 127), -1e30 -> -128,
  // NaN -> -128. The ref drops them too (its running MAX restarts after the last NaN, j = 12):
  // amax = 127, d = 1, id = 1, the same levels under its saturating rule.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 5 - 2);
  x[1] = 1000.0f, x[2] = -1000.0f, x[3] = 1e30f, x[4] = -1e30f;
  for (int j = 9; j <= 12; ++j) x[j] = std::numeric_limits<float>::quiet_NaN();
  x[31] = 127.0f;
  for (const Block& b : {native_block(x), ref_block(x)}) {
    EXPECT_EQ(b.d, 0x3C00);
    for (int j = 0; j < 32; ++j) {
      const int want = j == 1 ? 127 : (j >= 2 && j <= 4) || (j >= 9 && j <= 12) ? -128 : (j == 31 ? 127 : j % 5 - 2);
      EXPECT_EQ(b.q[j], want) << "element " << j;
    }
  }
}

TEST(Q8_0QuantizerRange, HugeFiniteAmaxGivesInfScaleAndNormalLevels) {
  // amax = 3e38: d = 3e38 / 127 = 2.4e36 overflows fp16 (0x7C00); id = 127 / 3e38 is a normal
  // float and x * id stays within half a level of the exact ratio: 3e38 -> 127, -3e38 -> -127,
  // 1e38 -> 42.33 -> 42, 0 -> 0.
  std::vector<float> x(32, 0.0f);
  x[0] = 3e38f, x[9] = -3e38f, x[18] = 1e38f;
  for (const Block& b : {native_block(x), ref_block(x)}) {
    EXPECT_EQ(b.d, 0x7C00);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(b.q[j], j == 0 ? 127 : j == 9 ? -127 : j == 18 ? 42 : 0) << "element " << j;
  }
}

// ---- 3. Planted activations ---------------------------------------------------------------

TEST(IntegerRange, PlantedActivationsHoldMinus128) {
  // What verify's special-activation cases and the variant tests feed every kernel: each vector
  // must carry code -128 in a block whose scale is normal (not the planted special one).
  const ActivationFormat& a = *find_format("q8_0")->activation;
  for (const int64_t nb : {2, 3, 8})
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      const int64_t cols = nb * 32, m = 4;
      const std::size_t stride = a.bytes(cols);
      std::vector<uint8_t> act(stride * m);
      const std::vector<float> x = gaussian(static_cast<std::size_t>(cols * m), 17);
      for (int64_t i = 0; i < m; ++i) a.quantize(x.data() + i * cols, cols, act.data() + i * stride);
      plant_special_activation_scales(a, act.data(), cols, m, seed);
      for (int64_t i = 0; i < m; ++i) {
        bool found = false;
        for (int64_t b = 0; b < nb && !found; ++b) {
          const uint8_t* blk = act.data() + i * stride + b * 34;
          uint16_t d;
          std::memcpy(&d, blk, 2);
          const bool normal_scale = (d & 0x7C00) != 0 && (d & 0x7C00) != 0x7C00;
          found = normal_scale && std::any_of(blk + 2, blk + 34, [](uint8_t q) { return q == 0x80; });
        }
        EXPECT_TRUE(found) << "vector " << i << " holds no -128 under a normal scale (" << nb << " blocks, seed "
                           << seed << ")";
      }
    }
}

}  // namespace
}  // namespace qb

// EXL2 converter bookkeeping (reference/exl2/qparams.h, measurement.h) against numbers upstream
// produced: the seed 2023 measurement.json (every option of every layer, bit for bit), the table of
// specs/exl2.md section 10 (made by running the 2023 qparams.py), and the golden-vector manifests
// (group tables of upstream's quantizer). Expected values come from those files and the spec, never
// from the code under test. Tests that need ../shared skip without it.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "harness/safetensors.h"
#include "reference/exl2/measurement.h"
#include "reference/exl2/qparams.h"

namespace qb::exl2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kShared = fs::path(QB_SOURCE_DIR) / ".." / "shared";
const fs::path kSeed = kShared / "seeds" / "003_68e96ba8af961ce5.txt";  // a real 2023 measurement.json
const fs::path kVectors = kShared / "vectors" / "exl2";

uint64_t bits_of(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// Groups per width in stored order, e.g. {{3, 12}, {2, 244}} (width, count).
using Runs = std::vector<std::pair<int, int64_t>>;

// The spec table's "12x3b + 244x2b".
Runs parse_runs(const std::string& text) {
  Runs runs;
  std::istringstream in(text);
  std::string item, plus;
  while (in >> item) {
    const std::size_t x = item.find('x');
    runs.push_back({std::stoi(item.substr(x + 1, item.size() - x - 2)), std::stoll(item.substr(0, x))});
    in >> plus;
  }
  return runs;
}

Runs runs_of(const std::vector<GroupSpec>& groups) {
  Runs runs;
  for (const GroupSpec& g : groups) {
    if (runs.empty() || runs.back().first != g.bits) runs.push_back({g.bits, 0});
    ++runs.back().second;
  }
  return runs;
}

std::string show(const Runs& runs) {
  std::string s;
  for (const auto& [b, n] : runs) s += (s.empty() ? "" : " + ") + std::to_string(n) + "x" + std::to_string(b) + "b";
  return s;
}

// ---- specs/exl2.md section 10: the 24 options of the seed at the Llama-2-70B shapes ----

struct TableRow {
  const char* desc;
  double bpw[4];          // rounded to 10 decimals, at the four shapes below
  const char* groups[4];  // 8192 rows (2023 rule), (current rule), 28672 rows (2023), (current)
};
// (K, N) of the table's bpw columns: q/o 8192x8192, k/v 8192->1024, gate/up 8192->28672, down 28672->8192.
const std::pair<int64_t, int64_t> kTableShapes[4] = {{8192, 8192}, {8192, 1024}, {8192, 28672}, {28672, 8192}};
const TableRow kTable[] = {
    {"0.05:3b/0.95:2b 32g s4", {2.1720581055, 2.1733398438, 2.1719273158, 2.1742902483}, {"12x3b + 244x2b", "13x3b + 243x2b", "44x3b + 852x2b", "45x3b + 851x2b"}},
    {"0.25:3b/0.75:2b 32g s4", {2.3751831055, 2.3764648438, 2.3750523158, 2.3751831055}, {"64x3b + 192x2b", "64x3b + 192x2b", "224x3b + 672x2b", "224x3b + 672x2b"}},
    {"0.25:4b/0.75:2b 32g s4", {2.6251831055, 2.6264648438, 2.6250523158, 2.6251831055}, {"64x4b + 192x2b", "64x4b + 192x2b", "224x4b + 672x2b", "224x4b + 672x2b"}},
    {"0.1:4b/0.4:3b/0.5:2b 32g s4", {2.7189331055, 2.7202148438, 2.7188023158, 2.7233973912}, {"24x4b + 104x3b + 128x2b", "26x4b + 103x3b + 127x2b", "88x4b + 360x3b + 448x2b", "90x4b + 359x3b + 447x2b"}},
    {"1.0:3b 128g s4", {3.0312957764, 3.0316162109, 3.031263079, 3.0312957764}, {"64x3b", "64x3b", "224x3b", "224x3b"}},
    {"1.0:3b 32g s4", {3.1251831055, 3.1264648438, 3.1250523158, 3.1251831055}, {"256x3b", "256x3b", "896x3b", "896x3b"}},
    {"0.05:4b/0.95:3b 32g s4", {3.1720581055, 3.1733398438, 3.1719273158, 3.1742902483}, {"12x4b + 244x3b", "13x4b + 243x3b", "44x4b + 852x3b", "45x4b + 851x3b"}},
    {"0.1:4b/0.9:3b 32g s4", {3.2189331055, 3.2202148438, 3.2188023158, 3.2233973912}, {"24x4b + 232x3b", "26x4b + 230x3b", "88x4b + 808x3b", "90x4b + 806x3b"}},
    {"0.4:4b/0.6:3b 32g s4", {3.5314331055, 3.5327148438, 3.5313023158, 3.5269688198}, {"104x4b + 152x3b", "103x4b + 153x3b", "360x4b + 536x3b", "359x4b + 537x3b"}},
    {"0.6:4b/0.4:3b 64g s4", {3.6563415527, 3.6569824219, 3.6562761579, 3.6608058384}, {"76x4b + 52x3b", "77x4b + 51x3b", "268x4b + 180x3b", "269x4b + 179x3b"}},
    {"0.2:6b/0.8:3b 32g s4", {3.7345581055, 3.7358398438, 3.7344273158, 3.7278616769}, {"52x6b + 204x3b", "52x6b + 204x3b", "180x6b + 716x3b", "180x6b + 716x3b"}},
    {"1.0:4b 128g s4", {4.0312957764, 4.0316162109, 4.031263079, 4.0312957764}, {"64x4b", "64x4b", "224x4b", "224x4b"}},
    {"1.0:4b 32g s4", {4.1251831055, 4.1264648438, 4.1250523158, 4.1251831055}, {"256x4b", "256x4b", "896x4b", "896x4b"}},
    {"0.1:5b/0.9:4b 32g s4", {4.2189331055, 4.2202148438, 4.2188023158, 4.2233973912}, {"24x5b + 232x4b", "26x5b + 230x4b", "88x5b + 808x4b", "90x5b + 806x4b"}},
    {"0.1:6b/0.9:4b 32g s4", {4.3126831055, 4.3139648438, 4.3125523158, 4.3216116769}, {"24x6b + 232x4b", "26x6b + 230x4b", "88x6b + 808x4b", "90x6b + 806x4b"}},
    {"1.0:5b 128g s4", {5.0312957764, 5.0316162109, 5.031263079, 5.0312957764}, {"64x5b", "64x5b", "224x5b", "224x5b"}},
    {"0.1:6b/0.9:5b 32g s4", {5.2189331055, 5.2202148438, 5.2188023158, 5.2233973912}, {"24x6b + 232x5b", "26x6b + 230x5b", "88x6b + 808x5b", "90x6b + 806x5b"}},
    {"0.05:8b/0.05:6b/0.9:5b 32g s4", {5.3126831055, 5.3139648438, 5.3125523158, 5.3216116769}, {"12x8b + 12x6b + 232x5b", "13x8b + 13x6b + 230x5b", "44x8b + 44x6b + 808x5b", "45x8b + 45x6b + 806x5b"}},
    {"0.4:6b/0.6:5b 32g s4", {5.5314331055, 5.5327148438, 5.5313023158, 5.5269688198}, {"104x6b + 152x5b", "103x6b + 153x5b", "360x6b + 536x5b", "359x6b + 537x5b"}},
    {"0.1:8b/0.3:6b/0.6:5b 32g s4", {5.7033081055, 5.7045898438, 5.7031773158, 5.7189331055}, {"24x8b + 76x6b + 156x5b", "26x8b + 77x6b + 153x5b", "88x8b + 268x6b + 540x5b", "90x8b + 269x6b + 537x5b"}},
    {"1.0:6b 128g s4", {6.0312957764, 6.0316162109, 6.031263079, 6.0312957764}, {"64x6b", "64x6b", "224x6b", "224x6b"}},
    {"1.0:6b 32g s4", {6.1251831055, 6.1264648438, 6.1250523158, 6.1251831055}, {"256x6b", "256x6b", "896x6b", "896x6b"}},
    {"0.1:8b/0.9:6b 128g s4", {6.2187957764, 6.2191162109, 6.218763079, 6.2277243478}, {"6x8b + 58x6b", "7x8b + 57x6b", "22x8b + 202x6b", "23x8b + 201x6b"}},
    {"1.0:8b 32g s4", {8.1251831055, 8.1264648438, 8.1250523158, 8.1251831055}, {"256x8b", "256x8b", "896x8b", "896x8b"}},
};

// ---- parse_desc / desc strings ----

TEST(Exl2Qparams, ParsesThe2023Form) {
  const QParams q = parse_desc("0.05:3b/0.95:2b 32g s4");
  EXPECT_EQ(q.bits, (std::vector<int>{3, 2}));
  EXPECT_EQ(q.bits_prop, (std::vector<double>{0.05, 0.95}));
  EXPECT_EQ(q.group_size, (std::vector<int64_t>{32, 32}));
  EXPECT_FALSE(q.per_width_group_size);
  EXPECT_EQ(q.scale_bits, 4);
}

TEST(Exl2Qparams, ParsesTheCurrentForm) {
  // The per-width case of the golden vectors (spec 11) and a 2-bit width with 16-row groups
  // (spec 3.1: boundaries on multiples of 32 rows, 16 for 2-bit).
  const QParams q = parse_desc("0.05:6b_32g/0.2:3b_64g/0.75:2b_64g s4");
  EXPECT_EQ(q.bits, (std::vector<int>{6, 3, 2}));
  EXPECT_EQ(q.bits_prop, (std::vector<double>{0.05, 0.2, 0.75}));
  EXPECT_EQ(q.group_size, (std::vector<int64_t>{32, 64, 64}));
  EXPECT_TRUE(q.per_width_group_size);
  EXPECT_EQ(parse_desc("0.5:3b_32g/0.5:2b_16g s4").group_size, (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(parse_desc("1.0:2b 16g s4").group_size, (std::vector<int64_t>{16}));
  EXPECT_EQ(desc_current(q), "0.05:6b_32g/0.2:3b_64g/0.75:2b_64g s4");
  EXPECT_THROW(desc_2023(q), std::invalid_argument);  // one group size per width: no 2023 spelling
}

TEST(Exl2Qparams, DescsRoundTrip) {
  for (const TableRow& row : kTable) {
    SCOPED_TRACE(row.desc);
    const QParams q = parse_desc(row.desc);
    EXPECT_EQ(desc_2023(q), row.desc);
    const std::string current = desc_current(q);
    const QParams back = parse_desc(current);
    EXPECT_TRUE(back.per_width_group_size);
    EXPECT_TRUE(same_option(back, q)) << current;
    EXPECT_EQ(desc_2023(back), row.desc);
  }
}

TEST(Exl2Qparams, PrintsProportionsAsPythonRepr) {
  // repr() of these floats in CPython 3.
  const std::pair<double, const char*> cases[] = {
      {0.05, "0.05"}, {0.95, "0.95"}, {1.0, "1.0"}, {0.3, "0.3"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
      {0.99999, "0.99999"}, {0.1 + 0.2, "0.30000000000000004"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
      {123.456, "123.456"}, {5e-324, "5e-324"}, {2.5e-7, "2.5e-07"}, {-0.5, "-0.5"}};
  for (const auto& [x, text] : cases) EXPECT_EQ(python_float_repr(x), text);
  QParams q;
  q.bits = {4, 3};
  q.bits_prop = {1e-05, 0.99999};
  q.group_size = {64, 64};
  EXPECT_EQ(desc_2023(q), "1e-05:4b/0.99999:3b 64g s4");
  EXPECT_TRUE(same_option(parse_desc(desc_2023(q)), q));
}

TEST(Exl2Qparams, RejectsBadDescsNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"1.0:7b 32g s4", "not one of 2, 3, 4, 5, 6, 8"},
      {"1.0:1b 32g s4", "not one of"},
      {"1.0:16b 32g s4", "not one of"},
      {"0.5:4b/0.4:3b 32g s4", "sum to"},
      {"0.5:4b/0.5000001:3b 32g s4", "sum to"},
      {"0.5:2b/0.5:3b 32g s4", "strictly descending"},
      {"0.5:3b/0.5:3b 32g s4", "strictly descending"},
      {"1.0:4b 48g s4", "multiple of 32"},
      {"1.0:4b 0g s4", "multiple of 32"},
      {"1.0:3b 16g s4", "multiple of 32"},           // 16 only for 2-bit
      {"0.5:3b/0.5:2b 16g s4", "multiple of 32"},    // the 3-bit width gets 16 too
      {"0.5:3b_16g/0.5:2b_32g s4", "multiple of 32"},
      {"1.0:4b 32g s3", "scale"},
      {"1.0:4b 32g s8", "scale"},
      {"0.0:4b/1.0:3b 32g s4", "not positive"},
      {"", "tokens"},
      {"junk", "tokens"},
      {"1.0:4b 32g", "scale bits"},
      {"1.0:4b s4", "group size"},
      {"1.0:4b 32g s4 extra", "tokens"},
      {"1.0:4b  32g s4", "stray space"},
      {" 1.0:4b 32g s4", "stray space"},
      {"1.0:4b 32g s4 ", "stray space"},
      {"1.0:4b 32g\ts4", "scale bits"},
      {"1.0:4b 32 s4", "group size"},
      {"1.0:4b 32g s", "scale bits"},
      {"1.0:4 32g s4", "<bits>b"},
      {"1.0 4b 32g s4", "tokens"},
      {"one:4b 32g s4", "decimal proportion"},
      {"-1.0:4b 32g s4", "decimal proportion"},
      {"nan:4b 32g s4", "decimal proportion"},
      {"1e999:4b 32g s4", "decimal proportion"},
      {"1.0:4b_32g 32g s4", "no separate"},
      {"0.5:4b_32g/0.5:3b 32g s4", "some widths"},
      {"1.0:4b_32 s4", "_<n>g"},
      {"1.0:4b_32g s4/", "scale bits"},
      {"1.0:4b/ 32g s4", "<proportion>:<bits>b"},
      {"1.0:99999999999999999999b 32g s4", "<bits>b"},
  };
  for (const auto& [desc, what] : cases) {
    SCOPED_TRACE(desc);
    try {
      parse_desc(desc);
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("'") + desc + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
    }
  }
}

TEST(Exl2Qparams, ReadsQparamsObjectsOfBothEras) {
  const QParams old = qparams_from_json(json::parse(R"({"group_size": 32, "bits": [3, 2], "bits_prop": [0.05, 0.95], "scale_bits": 4})"));
  EXPECT_FALSE(old.per_width_group_size);
  EXPECT_TRUE(same_option(old, parse_desc("0.05:3b/0.95:2b 32g s4")));
  const QParams cur = qparams_from_json(
      json::parse(R"({"group_size": {"2": 64, "6": 32, "3": 64}, "bits": [6, 3, 2], "bits_prop": [0.05, 0.2, 0.75], "scale_bits": 4})"));
  EXPECT_TRUE(cur.per_width_group_size);
  EXPECT_EQ(cur.group_size, (std::vector<int64_t>{32, 64, 64}));  // in the order of bits, not of the keys
  EXPECT_TRUE(same_option(cur, parse_desc("0.05:6b_32g/0.2:3b_64g/0.75:2b_64g s4")));
}

TEST(Exl2Qparams, QparamsErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([])", ""},
      {R"({"bits": [4], "bits_prop": [1.0], "scale_bits": 4})", "group_size"},
      {R"({"group_size": 32, "bits_prop": [1.0], "scale_bits": 4})", "bits"},
      {R"({"group_size": 32, "bits": [4], "scale_bits": 4})", "bits_prop"},
      {R"({"group_size": 32, "bits": [4], "bits_prop": [1.0]})", "scale_bits"},
      {R"({"group_size": 32, "bits": [4], "bits_prop": [1.0], "scale_bits": 4, "extra": 1})", "extra"},
      {R"({"group_size": 32, "bits": 4, "bits_prop": [1.0], "scale_bits": 4})", "bits"},
      {R"({"group_size": 32, "bits": [], "bits_prop": [], "scale_bits": 4})", "bits"},
      {R"({"group_size": 32, "bits": [3, 7], "bits_prop": [0.5, 0.5], "scale_bits": 4})", "bits[1]"},
      {R"({"group_size": 32, "bits": [4, "3"], "bits_prop": [0.5, 0.5], "scale_bits": 4})", "bits[1]"},
      {R"({"group_size": 32, "bits": [4.0], "bits_prop": [1.0], "scale_bits": 4})", "bits[0]"},
      {R"({"group_size": 32, "bits": [18446744073709551615], "bits_prop": [1.0], "scale_bits": 4})", "bits[0]"},
      {R"({"group_size": 32, "bits": [2, 3], "bits_prop": [0.5, 0.5], "scale_bits": 4})", "bits[1]"},
      {R"({"group_size": 32, "bits": [4, 3], "bits_prop": [1.0], "scale_bits": 4})", "bits_prop"},
      {R"({"group_size": 32, "bits": [4, 3], "bits_prop": [0.5, 0.4], "scale_bits": 4})", "bits_prop"},
      {R"({"group_size": 32, "bits": [4, 3], "bits_prop": [1.5, -0.5], "scale_bits": 4})", "bits_prop[1]"},
      {R"({"group_size": 32, "bits": [4], "bits_prop": ["1.0"], "scale_bits": 4})", "bits_prop[0]"},
      {R"({"group_size": 48, "bits": [4], "bits_prop": [1.0], "scale_bits": 4})", "group_size"},
      {R"({"group_size": 32.0, "bits": [4], "bits_prop": [1.0], "scale_bits": 4})", "group_size"},
      {R"({"group_size": -32, "bits": [4], "bits_prop": [1.0], "scale_bits": 4})", "group_size"},
      {R"({"group_size": {"4": 32, "2": 32}, "bits": [4], "bits_prop": [1.0], "scale_bits": 4})", "group_size.2"},
      {R"({"group_size": {"04": 32}, "bits": [4], "bits_prop": [1.0], "scale_bits": 4})", "group_size.04"},
      {R"({"group_size": {"4": 32}, "bits": [4, 3], "bits_prop": [0.5, 0.5], "scale_bits": 4})", "group_size"},
      {R"({"group_size": {"4": 32, "3": 16}, "bits": [4, 3], "bits_prop": [0.5, 0.5], "scale_bits": 4})", "group_size.3"},
      {R"({"group_size": {"4": "32"}, "bits": [4], "bits_prop": [1.0], "scale_bits": 4})", "group_size.4"},
      {R"({"group_size": 32, "bits": [4], "bits_prop": [1.0], "scale_bits": 8})", "scale_bits"},
      {R"({"group_size": 32, "bits": [4], "bits_prop": [1.0], "scale_bits": "4"})", "scale_bits"},
  };
  for (const auto& [text, field] : cases) {
    SCOPED_TRACE(text);
    try {
      qparams_from_json(json::parse(text));
      ADD_FAILURE() << "accepted";
    } catch (const QParamsFieldError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
      const std::string expect = std::string("qparams") + (*field ? "." : "") + field + ": ";
      EXPECT_EQ(std::string(e.what()).rfind(expect, 0), 0u) << e.what();
    }
  }
}

// ---- group allocation (spec 3.2) ----

TEST(Exl2Qparams, WorkedExampleK512) {
  // spec 3.2: K = 512, "0.05:3b/0.95:2b 32g": 2023 rule -> 4 groups of 3-bit (128 rows) and 12 of
  // 2-bit; current rule -> 1 group of 3-bit and 15 of 2-bit.
  const QParams q = parse_desc("0.05:3b/0.95:2b 32g s4");
  const std::vector<GroupSpec> old = groups_2023(q, 512), cur = groups_current(q, 512);
  EXPECT_EQ(show(runs_of(old)), "4x3b + 12x2b");
  EXPECT_EQ(show(runs_of(cur)), "1x3b + 15x2b");
  for (const GroupSpec& g : old) EXPECT_EQ(g.rows, 32);
  for (const GroupSpec& g : cur) EXPECT_EQ(g.rows, 32);
}

TEST(Exl2Qparams, RoundsHalfToEven) {
  // Python's round() (spec 3.2): K = 640 -> g128 = 5, 5 * 0.5 = 2.5 rounds to 2, so each width asks
  // for 2·128/32 = 8 groups; G = 20 and the last width takes 20 - 8 = 12. (Rounding half up would
  // give 12x4b + 8x3b.) The current rule splits 320 + 320 rows: 10 groups each.
  const QParams q = parse_desc("0.5:4b/0.5:3b 32g s4");
  EXPECT_EQ(show(runs_of(groups_2023(q, 640))), "8x4b + 12x3b");
  EXPECT_EQ(show(runs_of(groups_current(q, 640))), "10x4b + 10x3b");
  // K = 384 -> 3 * 0.5 = 1.5 rounds to 2 (even): 8 groups, and the last width 12 - 8 = 4.
  EXPECT_EQ(show(runs_of(groups_2023(q, 384))), "8x4b + 4x3b");
}

TEST(Exl2Qparams, LastGroupIsClippedToK) {
  // "every group has gs rows except the last (K - (G-1)·gs)" (spec 3.2); K = 200, gs = 128.
  const QParams q = parse_desc("1.0:4b 128g s4");
  for (const auto& groups : {groups_2023(q, 200), groups_current(q, 200)}) {
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].rows, 128);
    EXPECT_EQ(groups[1].rows, 72);
  }
  // A group larger than K: one group of K rows.
  EXPECT_EQ(groups_2023(q, 96).size(), 1u);
  EXPECT_EQ(groups_2023(q, 96)[0].rows, 96);
}

TEST(Exl2Qparams, Section10GroupsPerWidth) {
  for (const TableRow& row : kTable) {
    SCOPED_TRACE(row.desc);
    const QParams q = parse_desc(row.desc);
    EXPECT_EQ(show(runs_of(groups_2023(q, 8192))), show(parse_runs(row.groups[0])));
    EXPECT_EQ(show(runs_of(groups_current(q, 8192))), show(parse_runs(row.groups[1])));
    EXPECT_EQ(show(runs_of(groups_2023(q, 28672))), show(parse_runs(row.groups[2])));
    EXPECT_EQ(show(runs_of(groups_current(q, 28672))), show(parse_runs(row.groups[3])));
  }
}

TEST(Exl2Qparams, AllocationErrors) {
  const QParams q = parse_desc("1.0:4b 32g s4");
  for (int64_t K : {int64_t{0}, int64_t{-32}, int64_t{1} << 40}) {
    EXPECT_THROW(groups_2023(q, K), std::invalid_argument) << K;
    EXPECT_THROW(groups_current(q, K), std::invalid_argument) << K;
    EXPECT_THROW(bpw_2023(q, K, 64), std::invalid_argument) << K;
  }
  EXPECT_THROW(bpw_2023(q, 512, 0), std::invalid_argument);
  EXPECT_THROW(bpw_current(q, 512, -1), std::invalid_argument);
  // 2023 rule at K = 128: every width takes at least 128 rows' worth (max(round(..), 1)), so three
  // widths ask for 12 groups of 32 where there are 4: the last count would be -8.
  EXPECT_THROW(groups_2023(parse_desc("0.1:4b/0.4:3b/0.5:2b 32g s4"), 128), std::invalid_argument);
  // Two widths at K = 128: the last width absorbs the difference down to 0 groups, which is fine.
  EXPECT_EQ(show(runs_of(groups_2023(parse_desc("0.05:3b/0.95:2b 32g s4"), 128))), "4x3b");
  // The 2023 rule has one group size.
  EXPECT_THROW(groups_2023(parse_desc("0.05:3b_32g/0.95:2b_64g s4"), 512), std::invalid_argument);
  // Current rule: a 128-row 3-bit group overruns K = 64 by 64 rows, so the 2-bit width's count is
  // ceil(-64 / 32) = -2.
  EXPECT_THROW(groups_current(parse_desc("0.05:3b_128g/0.95:2b_32g s4"), 64), std::invalid_argument);
  // An invalid option built by hand.
  QParams bad = q;
  bad.bits = {7};
  EXPECT_THROW(groups_2023(bad, 512), std::invalid_argument);
  EXPECT_THROW(groups_current(bad, 512), std::invalid_argument);
}

// ---- sizes (spec 10) ----

TEST(Exl2Qparams, Section10ExactValues) {
  // "1.0:4b 32g s4" at 8192 x 8192: 4 + 4/32 + 48/(32*8192) = 4.12518310546875 exactly.
  EXPECT_EQ(bits_of(bpw_2023(parse_desc("1.0:4b 32g s4"), 8192, 8192)), bits_of(4.12518310546875));
  // The single-width formula b + 4/gs + 48/(gs·N) (K a multiple of gs): depends on N, not K.
  EXPECT_EQ(bits_of(bpw_2023(parse_desc("1.0:6b 128g s4"), 28672, 1024)), bits_of(6 + 4.0 / 128 + 48.0 / (128 * 1024)));
  // "0.05:3b/0.95:2b 32g s4" at 8192 x 8192: 12 groups x 3b + 244 x 2b ->
  // (384·3 + 7808·2)/8192 + 0.125 + 0.00018310546875 = 2.17205810546875, which the spec prints as
  // 2.1720581054688 (13 decimals; the exact value is a tie there, rounded to even).
  const double mixed = bpw_2023(parse_desc("0.05:3b/0.95:2b 32g s4"), 8192, 8192);
  EXPECT_EQ(bits_of(mixed), bits_of((384.0 * 3 + 7808.0 * 2) / 8192 + 0.125 + 0.00018310546875));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.13f", mixed);
  EXPECT_STREQ(buf, "2.1720581054688");
  // Integer counts: 8192·8192·4 + 256·(16 + 32 + 4·8192).
  EXPECT_EQ(total_bits_2023(parse_desc("1.0:4b 32g s4"), 8192, 8192), 8192.0 * 8192 * 4 + 256.0 * (16 + 32 + 4 * 8192));
  // Master counts q_invperm: 32 bits per input feature, so its bpw is 32/N higher (spec 10) when
  // both rules allocate alike.
  EXPECT_EQ(total_bits_current(parse_desc("1.0:4b 32g s4"), 8192, 8192) - total_bits_2023(parse_desc("1.0:4b 32g s4"), 8192, 8192),
            32.0 * 8192);
  EXPECT_EQ(bpw_current(parse_desc("1.0:4b 32g s4"), 8192, 1024), 4.12518310546875 - 48.0 / (32 * 8192) + 48.0 / (32 * 1024) + 32.0 / 1024);
}

TEST(Exl2Qparams, Section10BpwTable) {
  for (const TableRow& row : kTable) {
    const QParams q = parse_desc(row.desc);
    for (int s = 0; s < 4; ++s) {
      const auto [K, N] = kTableShapes[s];
      // The table prints bpw rounded to 10 decimals (trailing zeros dropped).
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10f", bpw_2023(q, K, N));
      EXPECT_EQ(std::strtod(buf, nullptr), row.bpw[s]) << row.desc << " at " << K << " x " << N << ": " << buf;
    }
  }
}

// ---- golden-vector manifests (upstream's quantizer, spec 11) ----

TEST(Exl2Qparams, GoldenVectorManifests) {
  if (!fs::is_directory(kVectors)) GTEST_SKIP() << "EXL2 golden vectors not found at " << kVectors << " (../shared next to the repo)";
  int old_cases = 0, head_cases = 0;
  for (const auto& entry : fs::directory_iterator(kVectors)) {
    const fs::path manifest = entry.path() / "manifest.json";
    if (!entry.is_directory() || !fs::exists(manifest)) continue;
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(manifest);
    const json m = json::parse(in);
    const std::string era = m.at("era").get<std::string>();
    ASSERT_TRUE(era == "old" || era == "head") << era;
    (era == "old" ? old_cases : head_cases)++;
    const QParams q = qparams_from_json(m.at("qparams"));
    EXPECT_EQ(q.per_width_group_size, era == "head");  // the current writer keys group_size by width
    const QParams from_desc = parse_desc(m.at("desc").get<std::string>());
    EXPECT_TRUE(same_option(q, from_desc));
    EXPECT_EQ(era == "old" ? desc_2023(q) : desc_current(q), m.at("desc").get<std::string>());
    if (m.contains("desc_2023_format")) {
      EXPECT_EQ(desc_2023(q), m.at("desc_2023_format").get<std::string>());
    }

    const int64_t K = m.at("in_features").get<int64_t>(), N = m.at("out_features").get<int64_t>();
    const std::vector<GroupSpec> groups = era == "old" ? groups_2023(q, K) : groups_current(q, K);
    const json& table = m.at("group_table");
    ASSERT_EQ(groups.size(), table.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      EXPECT_EQ(groups[g].bits, table[g].at("bits").get<int>()) << "group " << g;
      EXPECT_EQ(groups[g].rows, table[g].at("rows").get<int64_t>()) << "group " << g;
    }
    if (m.contains("rows_cumulative_8_6_5_4_3_2")) {
      std::vector<int64_t> cumulative;
      int64_t sum = 0;
      for (int b : {8, 6, 5, 4, 3, 2}) {
        for (const GroupSpec& g : groups)
          if (g.bits == b) sum += g.rows;
        cumulative.push_back(sum);
      }
      EXPECT_EQ(cumulative, m.at("rows_cumulative_8_6_5_4_3_2").get<std::vector<int64_t>>());
    }
    // "bpw by the era's formula": 2023 total_bits (no q_invperm) for "old"; master's, which adds
    // 32·K for q_invperm over the current allocation, for "head".
    const double bpw = era == "old" ? bpw_2023(q, K, N) : bpw_current(q, K, N);
    const double total = era == "old" ? total_bits_2023(q, K, N) : total_bits_current(q, K, N);
    EXPECT_EQ(bits_of(bpw), bits_of(m.at("bpw_formula_of_era").get<double>())) << bpw;
    EXPECT_EQ(total, m.at("total_bits_formula_of_era").get<double>());
  }
  EXPECT_GT(old_cases, 0);
  EXPECT_GT(head_cases, 0);
}

TEST(Exl2Qparams, GoldenVectorIndex) {
  // index.json lists every generated case with desc, era, shape and the era's bpw, including cases
  // whose folders may not have been copied here (the per-width-group-size case among them).
  const fs::path index = kVectors / "index.json";
  if (!fs::exists(index)) GTEST_SKIP() << "EXL2 golden vectors not found at " << kVectors << " (../shared next to the repo)";
  std::ifstream in(index);
  const json cases = json::parse(in).at("cases");
  ASSERT_FALSE(cases.empty());
  for (const json& c : cases) {
    SCOPED_TRACE(c.at("case").get<std::string>());
    const QParams q = parse_desc(c.at("desc").get<std::string>());
    const int64_t K = c.at("in").get<int64_t>(), N = c.at("out").get<int64_t>();
    // The "+bias" case's bpw has no bias term: the same number as its bias-less twin.
    const double bpw = c.at("era") == "old" ? bpw_2023(q, K, N) : bpw_current(q, K, N);
    EXPECT_EQ(bits_of(bpw), bits_of(c.at("bpw").get<double>())) << bpw;
  }
}

// ---- the seed measurement.json ----

TEST(Exl2Measurement, SeedReproducedBitForBit) {
  if (!fs::exists(kSeed)) GTEST_SKIP() << "seed measurement not found at " << kSeed << " (../shared next to the repo)";
  const Measurement m = read_measurement(kSeed.string());
  // Llama-2-70B: 80 decoder layers x 7 projections, 24 options each (spec 0, 10).
  ASSERT_EQ(m.layers.size(), 560u);
  EXPECT_EQ(m.last_module_idx, 162);
  ASSERT_TRUE(m.base_perplexity.has_value());
  EXPECT_NEAR(*m.base_perplexity, 5.79, 0.005);
  const std::map<std::string, std::pair<int64_t, int64_t>> shapes = {
      {"q_proj", {8192, 8192}},  {"k_proj", {8192, 1024}},    {"v_proj", {8192, 1024}},   {"o_proj", {8192, 8192}},
      {"gate_proj", {8192, 28672}}, {"up_proj", {8192, 28672}}, {"down_proj", {28672, 8192}}};
  std::size_t options = 0, exact_bpw = 0, exact_total = 0, non_integer_total = 0;
  for (const MeasurementLayer& layer : m.layers) {
    ASSERT_EQ(layer.options.size(), 24u) << layer.key;
    EXPECT_TRUE(layer.best_option.has_value()) << layer.key;
    const auto [K, N] = layer_shape(m, layer);
    const std::string name = layer.key.substr(layer.key.rfind('.') + 1);
    ASSERT_TRUE(shapes.count(name)) << layer.key;
    EXPECT_EQ(std::make_pair(K, N), shapes.at(name)) << layer.key;
    for (const MeasurementOption& o : layer.options) {
      ++options;
      const double bpw = bpw_2023(o.qparams, K, N);
      const double total = measured_total_bits_2023(o.qparams, K, N);
      exact_bpw += bits_of(bpw) == bits_of(o.bpw);
      exact_total += bits_of(total) == bits_of(o.total_bits);
      EXPECT_EQ(bits_of(bpw), bits_of(o.bpw)) << layer.key << " " << o.desc << ": " << bpw << " vs " << o.bpw;
      EXPECT_EQ(bits_of(total), bits_of(o.total_bits)) << layer.key << " " << o.desc << ": " << total << " vs " << o.total_bits;
      non_integer_total += o.total_bits != std::floor(o.total_bits);
    }
  }
  EXPECT_EQ(options, 560u * 24u);
  EXPECT_EQ(exact_bpw, options);
  EXPECT_EQ(exact_total, options);
  // The recorded total_bits is numel·bpw in floating point, not the integer count: for some
  // options the product misses the integer by an ulp.
  EXPECT_GT(non_integer_total, 0u);
  const MeasurementLayer* gate = m.find("model.layers.0.mlp.gate_proj");
  ASSERT_NE(gate, nullptr);
  for (const MeasurementOption& o : gate->options)
    if (o.desc == "1.0:8b 32g s4") {
      // 8192·28672·8 + 896·(16 + 32 + 4·28672) = 1908420608 bits exactly; bpw = that / 234881024
      // rounds to 8.125052315848214 (just below the quotient), and numel times that rounded bpw is
      // 1908420607.9999998, which the file holds.
      EXPECT_EQ(total_bits_2023(o.qparams, 8192, 28672), 1908420608.0);
      EXPECT_NE(o.total_bits, 1908420608.0);
      EXPECT_EQ(bits_of(o.total_bits), bits_of(1908420607.9999998));
    }
}

// ---- malformed measurement files ----

class Exl2MeasurementFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() / ("qb_exl2_measurement_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  // A valid two-layer file; the option numbers are the seed's for 1.0:4b 32g at 8192 x 8192.
  static json valid() {
    const json qp = {{"group_size", 32}, {"bits", {4}}, {"bits_prop", {1.0}}, {"scale_bits", 4}};
    const json opt = {{"desc", "1.0:4b 32g s4"}, {"bpw", 4.12518310546875}, {"total_bits", 276836352.0}, {"err", 0.0078}, {"qparams", qp}};
    const json qp2 = {{"group_size", 32}, {"bits", {3, 2}}, {"bits_prop", {0.05, 0.95}}, {"scale_bits", 4}};
    const json opt2 = {{"desc", "0.05:3b/0.95:2b 32g s4"}, {"bpw", 2.17205810546875}, {"total_bits", 145764352.0}, {"err", 0.013}, {"qparams", qp2}};
    json layer0 = {{"key", "model.layers.0.self_attn.q_proj"}, {"numel", 67108864}, {"options", {opt, opt2, opt}}};
    json layer1 = {{"key", "model.layers.0.self_attn.k_proj"}, {"numel", 8388608}, {"options", {opt2, opt, opt}}, {"best_option", opt}};
    return {{"measurement", {layer0, layer1}}, {"last_module_idx", 3}, {"base_perplexity", 5.79}};
  }
  fs::path dir_;
};

TEST_F(Exl2MeasurementFiles, ReadsAValidFile) {
  const std::string path = write("ok.json", valid().dump());
  const Measurement m = read_measurement(path);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[1].options.size(), 3u);
  EXPECT_TRUE(m.layers[1].best_option.has_value());
  EXPECT_FALSE(m.layers[0].best_option.has_value());
  EXPECT_EQ(m.layers[0].options[1].qparams.bits, (std::vector<int>{3, 2}));
  EXPECT_EQ(m.last_module_idx, 3);
  EXPECT_EQ(layer_shape(m, m.layers[1]), std::make_pair(int64_t{8192}, int64_t{1024}));
  // Top-level and layer keys the reader does not know are annotations.
  json extra = valid();
  extra["note"] = "x";
  extra["measurement"][0]["extra"] = 1;
  EXPECT_NO_THROW(read_measurement(write("extra.json", extra.dump())));
}

TEST_F(Exl2MeasurementFiles, ErrorsNameFileAndField) {
  using Edit = std::function<void(json&)>;
  const std::pair<Edit, const char*> cases[] = {
      {[](json& j) { j = json::array(); }, ""},
      {[](json& j) { j.erase("measurement"); }, "measurement"},
      {[](json& j) { j["measurement"] = json::object(); }, "measurement"},
      {[](json& j) { j["measurement"] = json::array(); }, "measurement"},
      {[](json& j) { j["measurement"][1] = 5; }, "measurement[1]"},
      {[](json& j) { j["measurement"][1].erase("key"); }, "measurement[1].key"},
      {[](json& j) { j["measurement"][1]["key"] = 7; }, "measurement[1].key"},
      {[](json& j) { j["measurement"][1]["key"] = "model.layers.0.self_attn.q_proj"; }, "measurement[1].key"},
      {[](json& j) { j["measurement"][1].erase("numel"); }, "measurement[1].numel"},
      {[](json& j) { j["measurement"][1]["numel"] = -8388608; }, "measurement[1].numel"},
      {[](json& j) { j["measurement"][1]["numel"] = 0; }, "measurement[1].numel"},
      {[](json& j) { j["measurement"][1]["numel"] = 8388608.5; }, "measurement[1].numel"},
      {[](json& j) { j["measurement"][1]["numel"] = "8388608"; }, "measurement[1].numel"},
      {[](json& j) { j["measurement"][1]["numel"] = json::parse("18446744073709551615"); }, "measurement[1].numel"},
      {[](json& j) { j["measurement"][1].erase("options"); }, "measurement[1].options"},
      {[](json& j) { j["measurement"][1]["options"] = json::array(); }, "measurement[1].options"},
      {[](json& j) { j["measurement"][1]["options"] = json::object(); }, "measurement[1].options"},
      {[](json& j) { j["measurement"][1]["options"][2] = "x"; }, "measurement[1].options[2]"},
      {[](json& j) { j["measurement"][1]["options"][2].erase("desc"); }, "measurement[1].options[2].desc"},
      {[](json& j) { j["measurement"][1]["options"][2]["desc"] = "1.0:4b 32g s5"; }, "measurement[1].options[2].desc"},
      {[](json& j) { j["measurement"][1]["options"][2]["desc"] = "1.0:4b 64g s4"; }, "measurement[1].options[2].desc"},
      {[](json& j) { j["measurement"][1]["options"][2].erase("bpw"); }, "measurement[1].options[2].bpw"},
      {[](json& j) { j["measurement"][1]["options"][2]["bpw"] = "4.1"; }, "measurement[1].options[2].bpw"},
      {[](json& j) { j["measurement"][1]["options"][2]["total_bits"] = -1.0; }, "measurement[1].options[2].total_bits"},
      {[](json& j) { j["measurement"][1]["options"][2]["err"] = nullptr; }, "measurement[1].options[2].err"},
      {[](json& j) { j["measurement"][1]["options"][2].erase("qparams"); }, "measurement[1].options[2].qparams"},
      {[](json& j) { j["measurement"][1]["options"][2]["qparams"] = 4; }, "measurement[1].options[2].qparams"},
      {[](json& j) { j["measurement"][1]["options"][2]["qparams"]["bits"] = "4"; }, "measurement[1].options[2].qparams.bits"},
      {[](json& j) { j["measurement"][1]["options"][2]["qparams"]["bits"] = {7}; }, "measurement[1].options[2].qparams.bits[0]"},
      {[](json& j) { j["measurement"][1]["options"][2]["qparams"]["bits_prop"] = {0.9}; }, "measurement[1].options[2].qparams.bits_prop"},
      {[](json& j) { j["measurement"][1]["options"][2]["qparams"]["group_size"] = 40; }, "measurement[1].options[2].qparams.group_size"},
      {[](json& j) { j["measurement"][1]["options"][2]["qparams"]["group_size"] = {{"4", 32}, {"3", 32}}; },
       "measurement[1].options[2].qparams.group_size.3"},
      {[](json& j) { j["measurement"][1]["options"][2]["qparams"]["scale_bits"] = 3; }, "measurement[1].options[2].qparams.scale_bits"},
      {[](json& j) { j["measurement"][1]["best_option"]["err"] = "bad"; }, "measurement[1].best_option.err"},
      {[](json& j) { j["last_module_idx"] = -1; }, "last_module_idx"},
      {[](json& j) { j["base_perplexity"] = "5.79"; }, "base_perplexity"},
  };
  int n = 0;
  for (const auto& [edit, field] : cases) {
    json j = valid();
    edit(j);
    const std::string name = "case" + std::to_string(n++) + ".json";
    const std::string path = write(name, j.dump());
    SCOPED_TRACE(std::string(field) + " in " + j.dump().substr(0, 300));
    try {
      read_measurement(path);
      ADD_FAILURE() << "accepted";
    } catch (const FileError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.field(), field) << e.what();
      const std::string what = e.what();
      EXPECT_NE(what.find(name), std::string::npos) << what;
      if (*field) {
        EXPECT_NE(what.find(std::string("'") + field + "'"), std::string::npos) << what;
      }
    }
  }
}

TEST_F(Exl2MeasurementFiles, BrokenTextIsAFileError) {
  const std::string whole = valid().dump();
  const std::pair<std::string, std::string> cases[] = {
      {"truncated.json", whole.substr(0, whole.size() / 2)},
      {"empty.json", ""},
      {"nan.json", R"({"measurement": [{"key": "a", "numel": 1, "options": [{"err": NaN}]}]})"},
      {"trailing.json", whole + " x"},
      {"utf8.json", "{\"measurement\": \"\xff\"}"},
      {"duplicate.json", R"({"measurement": [], "measurement": []})"},
      {"deep.json", std::string(200, '[') + std::string(200, ']')},
  };
  for (const auto& [name, text] : cases) {
    SCOPED_TRACE(name);
    const std::string path = write(name, text);
    try {
      read_measurement(path);
      ADD_FAILURE() << "accepted";
    } catch (const FileError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(read_measurement((dir_ / "missing.json").string()), FileError);
  EXPECT_THROW(read_measurement(dir_.string()), FileError);  // a directory
}

TEST(Exl2Measurement, LayerShapes) {
  Measurement m;
  m.file = "mem.json";
  const auto add = [&m](const std::string& key, int64_t numel) { m.layers.push_back({key, numel, {}, {}, {}}); };
  add("model.layers.0.self_attn.q_proj", 64 * 64);
  add("model.layers.0.self_attn.k_proj", 64 * 16);
  add("model.layers.0.self_attn.o_proj", 64 * 64);
  add("model.layers.0.mlp.gate_proj", 64 * 176);
  add("model.layers.0.mlp.down_proj", 176 * 64);
  add("model.layers.1.mlp.up_proj", 64 * 176);  // no q_proj of its own: the first one's hidden
  add("lm_head", 64 * 1000);
  using P = std::pair<int64_t, int64_t>;
  EXPECT_EQ(layer_shape(m, m.layers[0]), P(64, 64));
  EXPECT_EQ(layer_shape(m, m.layers[1]), P(64, 16));
  EXPECT_EQ(layer_shape(m, m.layers[2]), P(64, 64));
  EXPECT_EQ(layer_shape(m, m.layers[3]), P(64, 176));
  EXPECT_EQ(layer_shape(m, m.layers[4]), P(176, 64));
  EXPECT_EQ(layer_shape(m, m.layers[5]), P(64, 176));
  EXPECT_EQ(layer_shape(m, m.layers[6]), P(64, 1000));
}

TEST(Exl2Measurement, LayerShapeErrorsNameTheKey) {
  struct Case {
    std::vector<std::pair<std::string, int64_t>> layers;
    std::size_t asked;
    const char* field;
    const char* key;  // must appear in the message
  };
  const Case cases[] = {
      {{{"model.layers.0.self_attn.q_proj", 64 * 32}}, 0, "measurement[0].numel", "model.layers.0.self_attn.q_proj"},
      {{{"model.layers.0.self_attn.q_proj", 64 * 64}, {"model.layers.0.self_attn.k_proj", 64 * 16 + 1}}, 1, "measurement[1].numel",
       "model.layers.0.self_attn.k_proj"},
      {{{"model.layers.0.self_attn.q_proj", 64 * 64}, {"model.layers.0.self_attn.o_proj", 64 * 128}}, 1, "measurement[1].numel",
       "model.layers.0.self_attn.o_proj"},
      {{{"model.layers.0.self_attn.q_proj", 64 * 64}, {"model.layers.0.block_sparse_moe.experts.0.w1", 64 * 64}}, 1,
       "measurement[1].key", "model.layers.0.block_sparse_moe.experts.0.w1"},
      {{{"model.layers.0.self_attn.qkv_proj", 64 * 192}}, 0, "measurement[0].key", "model.layers.0.self_attn.qkv_proj"},
      {{{"model.layers.0.mlp.up_proj", 64 * 176}}, 0, "measurement[0].key", "model.layers.0.mlp.up_proj"},
      {{{"model.layers.0.self_attn.q_proj", 64 * 64 - 1}, {"model.layers.0.mlp.down_proj", 176 * 64}}, 1,
       "measurement[0].numel", "model.layers.0.mlp.down_proj"},
  };
  for (const Case& c : cases) {
    Measurement m;
    m.file = "mem.json";
    for (const auto& [key, numel] : c.layers) m.layers.push_back({key, numel, {}, {}, {}});
    SCOPED_TRACE(c.key);
    try {
      layer_shape(m, m.layers[c.asked]);
      ADD_FAILURE() << "inferred a shape";
    } catch (const FileError& e) {
      EXPECT_EQ(e.file(), "mem.json");
      EXPECT_EQ(e.field(), c.field) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.key), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace qb::exl2

// EXL3 reference against first principles (spec worked values) and against the upstream-made
// tables and weights in ../shared/vectors/exl3: codebooks for all 65536 states, the fragment
// order, states, Ŵ, and upstream's fp16 full weight within the derived bound.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/registry.h"
#include "reference/common/half.h"
#include "reference/exl3/exl3.h"

namespace qb::exl3 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kVectors = fs::path(QB_SOURCE_DIR "/../shared/vectors/exl3");
// Upstream's codebook tables and fragment permutation, committed unchanged with their manifest
// (provenance) so these checks run without ../shared.
const fs::path kCodebooks = fs::path(QB_SOURCE_DIR "/fixtures/exl3/codebooks");

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T>
std::vector<T> read_array(const fs::path& p) {
  const std::vector<uint8_t> b = read_bytes(p);
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

#define REQUIRE_VECTORS()                                                                        \
  if (!fs::exists(kVectors / "codebooks" / "lut_mcg.bin"))                                       \
  GTEST_SKIP() << "EXL3 golden vectors not found at " << kVectors << " (../shared next to the repo)"

TEST(Exl3Codebook, SpecWorkedValues) {
  struct Row {
    uint16_t state, inst3, mcg, mul1;
  };
  // specs/exl3.md 3.3.
  const Row rows[] = {{0x0000, 0x3A25, 0x3F60, 0xC2E8},
                      {0x0001, 0xBB5B, 0x304E, 0x3921},
                      {0x1234, 0xC066, 0x3E0F, 0xB89E},
                      {0xFFFF, 0xB110, 0x3ACD, 0xB936}};
  for (const Row& r : rows) {
    EXPECT_EQ(r.inst3, codebook_value(Codebook::inst3, r.state)) << std::hex << r.state;
    EXPECT_EQ(r.mcg, codebook_value(Codebook::mcg, r.state)) << std::hex << r.state;
    EXPECT_EQ(r.mul1, codebook_value(Codebook::mul1, r.state)) << std::hex << r.state;
  }
}

TEST(Exl3Trellis, SpecWorkedStatesK3) {
  // specs/exl3.md 2.3: K = 3, 48 words w[m] = m * 0x1111.
  uint16_t words[48], states[256];
  for (int m = 0; m < 48; ++m) words[m] = static_cast<uint16_t>(m * 0x1111);
  tile_states(words, 3, states);
  EXPECT_EQ(0x8870, states[0]);
  EXPECT_EQ(0x4384, states[1]);
  EXPECT_EQ(0x1C22, states[2]);
  EXPECT_EQ(0xE111, states[3]);
  EXPECT_EQ(0x110E, states[255]);
  // Tail-biting: consecutive windows overlap in 16 - K bits, 255 -> 0 included.
  for (int t = 0; t < 256; ++t) EXPECT_EQ(states[t] & 0x1FFF, states[(t + 1) % 256] >> 3) << t;
}

TEST(Exl3Trellis, SpecFragmentOrder) {
  const int rc[][2] = {{0, 0}, {1, 0}, {8, 0}, {9, 0}, {0, 8}, {1, 8}, {8, 8}, {9, 8}, {2, 0}, {3, 0}, {10, 0}, {11, 0}, {2, 8}};
  for (int t = 0; t < 13; ++t) {
    EXPECT_EQ(rc[t][0], tile_row(t)) << t;
    EXPECT_EQ(rc[t][1], tile_col(t)) << t;
  }
}

TEST(Exl3Format, LayoutRejectsBadParamsAndShapes) {
  const Format f = exl3_format();
  const auto message = [&](int64_t rows, int64_t cols, const json& params) {
    try {
      f.layout(rows, cols, params);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(std::string::npos, message(128, 256, {{"bits", 9}, {"codebook", "mcg"}}).find("params.bits"));
  EXPECT_NE(std::string::npos, message(128, 256, {{"bits", 4}, {"codebook", "2mad"}}).find("params.codebook"));
  EXPECT_NE(std::string::npos, message(128, 200, {{"bits", 4}, {"codebook", "mcg"}}).find("cols (k"));
  EXPECT_NE(std::string::npos, message(64, 256, {{"bits", 4}, {"codebook", "mcg"}}).find("rows (n"));
  const auto specs = f.layout(256, 512, {{"bits", 3}, {"codebook", "mul1"}});
  ASSERT_EQ(4u, specs.size());
  EXPECT_EQ((std::vector<int64_t>{32, 16, 48}), specs[0].shape);
  EXPECT_EQ("mul1", specs[3].name);
  EXPECT_TRUE(specs[3].shape.empty());
  EXPECT_EQ(3u, f.layout(256, 512, {{"bits", 3}, {"codebook", "3inst"}}).size());
}

TEST(Exl3Codebook, MatchesUpstreamTables) {
  for (Codebook cb : {Codebook::inst3, Codebook::mcg, Codebook::mul1}) {
    const auto lut = read_array<uint16_t>(kCodebooks / ("lut_" + std::string(codebook_name(cb)) + ".bin"));
    ASSERT_EQ(65536u, lut.size()) << codebook_name(cb);
    int64_t bad = 0;
    for (uint32_t s = 0; s < 65536; ++s) {
      const uint16_t v = codebook_value(cb, static_cast<uint16_t>(s));
      if (v != lut[s] && bad++ < 5) ADD_FAILURE() << codebook_name(cb) << " state " << s << ": " << v << " != " << lut[s];
    }
    EXPECT_EQ(0, bad) << codebook_name(cb);
  }
}

TEST(Exl3Trellis, FragmentOrderMatchesUpstreamPerm) {
  const auto perm = read_array<int32_t>(kCodebooks / "tile_perm.bin");
  ASSERT_EQ(256u, perm.size());
  for (int t = 0; t < 256; ++t) EXPECT_EQ(perm[t], tile_row(t) * 16 + tile_col(t)) << t;
}

// One upstream case folder as a weight over its raw files.
struct RawCase {
  std::string name;
  json manifest;
  std::vector<uint8_t> trellis, suh, svh, marker;
  QWeight w;

  explicit RawCase(const fs::path& dir) : name(dir.filename().string()) {
    std::ifstream in(dir / "manifest.json");
    manifest = json::parse(in);
    trellis = read_bytes(dir / "trellis.bin");
    suh = read_bytes(dir / "suh.bin");
    svh = read_bytes(dir / "svh.bin");
    w.format = find_format("exl3");
    w.cols = manifest["in_features"];
    w.rows = manifest["out_features"];
    w.params = {{"bits", manifest["bits_per_weight"]}, {"codebook", manifest["codebook"]}};
    const auto specs = w.format->layout(w.rows, w.cols, w.params);
    if (specs.size() > 3) {
      const int32_t v = manifest["codebook_tensor"]["value_int32"];
      marker.resize(4);
      std::memcpy(marker.data(), &v, 4);
    }
    const std::vector<uint8_t>* data[] = {&trellis, &suh, &svh, &marker};
    for (std::size_t i = 0; i < specs.size(); ++i)
      w.tensors.push_back({specs[i].name, specs[i].dtype, specs[i].shape, data[i]->data(), data[i]->size()});
  }
};

std::vector<fs::path> case_folders() {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(kVectors)) {
    std::ifstream in(e.path() / "manifest.json");
    if (!in) continue;
    const json m = json::parse(in, nullptr, false);
    if (m.is_object() && m.value("format", json()) == "exl3") found.push_back(e.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

TEST(Exl3Trellis, InnerWeightAndStatesMatchEveryUpstreamCase) {
  REQUIRE_VECTORS();
  for (const fs::path& dir : case_folders()) {
    const RawCase rc(dir);
    SCOPED_TRACE(rc.name);
    EXPECT_EQ(read_array<uint16_t>(dir / "w_hat.bin"), decode_inner(args_of(rc.w), 0, rc.w.rows));
    if (!fs::exists(dir / "states_tiles01.bin")) continue;
    const auto want = read_array<uint16_t>(dir / "states_tiles01.bin");
    const int bits = rc.manifest["bits_per_weight"];
    std::vector<uint16_t> words(static_cast<std::size_t>(32 * bits));
    std::memcpy(words.data(), rc.trellis.data(), words.size() * 2);  // tiles (0,0) and (0,1)
    uint16_t got[512];
    tile_states(words.data(), bits, got);
    tile_states(words.data() + 16 * bits, bits, got + 256);
    EXPECT_EQ(want, std::vector<uint16_t>(got, got + 512));
  }
}

// Upstream's fp16 reconstruction (four fp16 rounding points) within fp16_weight_bounds of the
// exact W, on every case; also how that derived bound compares with the spec's empirical
// tolerance 2 ulp16(max(|a|,|b|)) + 4e-3 rms(W).
TEST(Exl3Bounds, UpstreamFp16WeightWithinDerivedBound) {
  REQUIRE_VECTORS();
  double worst = 0, worst_spec = 0;
  int64_t tighter = 0, total = 0;
  for (const fs::path& dir : case_folders()) {
    const RawCase rc(dir);
    SCOPED_TRACE(rc.name);
    const int64_t n = rc.w.rows, k = rc.w.cols;
    const auto w16 = read_array<uint16_t>(dir / "w_full_f16.bin");  // [k][n]
    std::vector<double> hi(static_cast<std::size_t>(n * k)), lo(hi.size());
    full_weight_f64(args_of(rc.w), 0, n, hi.data(), lo.data());
    const std::vector<double> bound = fp16_weight_bounds(rc.w);
    double ss = 0;
    for (double v : hi) ss += v * v;
    const double rms = std::sqrt(ss / static_cast<double>(hi.size()));
    int64_t outside = 0;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        const std::size_t at = static_cast<std::size_t>(r * k + c);
        const double got = fp16_to_f32(w16[static_cast<std::size_t>(c * n + r)]);
        const double err = std::fabs(got - (hi[at] + lo[at]));
        if (err > bound[at] && outside++ < 3)
          ADD_FAILURE() << "W[" << c << "][" << r << "] fp16 " << got << " exact " << hi[at] << " err " << err << " > "
                        << bound[at];
        // ulp16 of the larger magnitude: 2^(e-10) for normals, 2^-24 for subnormals.
        const double big = std::fmax(std::fabs(got), std::fabs(hi[at]));
        const double ulp = big < std::ldexp(1.0, -14) ? std::ldexp(1.0, -24) : std::ldexp(1.0, std::ilogb(big) - 10);
        const double spec = 2 * ulp + 4e-3 * rms;
        worst = std::fmax(worst, err / bound[at]);
        worst_spec = std::fmax(worst_spec, err / spec);
        tighter += bound[at] < spec;
        ++total;
      }
    EXPECT_EQ(0, outside);
  }
  std::cout << "fp16 W vs exact: max err/derived bound " << worst << ", max err/spec tolerance " << worst_spec
            << "; derived bound tighter on " << tighter << " of " << total << " elements\n";
}

}  // namespace
}  // namespace qb::exl3

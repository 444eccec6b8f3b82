// q8_K, the activation of every 256-element GGML type, against upstream's own bytes
// (../shared/vectors/ggml/q8_K: quantize_row_q8_K_ref output and dequantize_row_q8_K of it).
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "reference/common/half.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::ggml {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = fs::path(QB_SOURCE_DIR "/../shared/vectors/ggml/q8_K");

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(GgmlQ8_K, QuantizeAndDequantAreUpstreamBits) {
  if (!fs::exists(kDir / "manifest.json")) GTEST_SKIP() << "GGML golden vectors not found at " << kDir;
  const auto manifest = nlohmann::json::parse(std::ifstream(kDir / "manifest.json"));
  const int64_t n = manifest.at("rows").get<int64_t>() * manifest.at("row_length").get<int64_t>();
  int cases = 0;
  for (const auto& c : manifest.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto input = read_bytes(kDir / c.at("input").at("file").get<std::string>());
    const auto want = read_bytes(kDir / c.at("quant_ref").at("data").at("file").get<std::string>());
    ASSERT_EQ(input.size(), static_cast<std::size_t>(n) * 4);
    std::vector<float> x(n);
    std::memcpy(x.data(), input.data(), input.size());
    std::vector<uint8_t> got(want.size(), 0xA5);
    quantize_row_q8_K(x.data(), n, got.data());
    EXPECT_EQ(got, want);

    const auto deq = read_bytes(kDir / c.at("dequant_of_ref").at("data").at("file").get<std::string>());
    std::vector<float> y(n);
    dequantize_row_q8_K(want.data(), n, y.data());
    ASSERT_EQ(deq.size(), y.size() * 4);
    for (int64_t i = 0; i < n; ++i) {
      uint32_t w;
      std::memcpy(&w, deq.data() + 4 * i, 4);
      ASSERT_EQ(f32_to_bits(y[i]), w) << "element " << i;
    }
    ++cases;
  }
  EXPECT_GE(cases, 7);
}

TEST(GgmlQ8_K, HalfwayLevelsRoundToEven) {
  // max = -127 -> iscale = 1 exactly; x = 2.5 -> 2, 3.5 -> 4, -0.5 -> -0 (even), 127 -> 127.
  std::vector<float> x(256, 0.0f);
  x[0] = -127.0f, x[1] = 2.5f, x[2] = 3.5f, x[3] = -0.5f, x[4] = 127.0f;
  std::vector<uint8_t> b(sizeof(BlockQ8_K));
  quantize_row_q8_K(x.data(), 256, b.data());
  const int8_t* qs = q8_K_qs(b.data());
  EXPECT_EQ(q8_K_d(b.data()), 1.0f);
  EXPECT_EQ(qs[0], -127);
  EXPECT_EQ(qs[1], 2);
  EXPECT_EQ(qs[2], 4);
  EXPECT_EQ(qs[3], 0);
  EXPECT_EQ(qs[4], 127);
  EXPECT_EQ(q8_K_bsum(b.data(), 0), -127 + 2 + 4 + 0 + 127);
}

}  // namespace
}  // namespace qb::ggml

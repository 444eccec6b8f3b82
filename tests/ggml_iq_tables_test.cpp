// The iq lookup tables (reference/ggml/iq_tables.cpp) against upstream's bytes: each array's
// little-endian bytes hashed with SHA-256 and compared with the digest of upstream's dump, both
// as written here (so the check runs without ../shared) and as ../shared/vectors/ggml/tables/
// manifest.json states it (skipped when absent).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fixtures/import/manifest_file.h"
#include "reference/ggml/iq_tables.h"

namespace qb::ggml {
namespace {

namespace fs = std::filesystem;
const fs::path kTables = fs::path(QB_SOURCE_DIR "/../shared/vectors/ggml/tables");

template <typename T, std::size_t N>
std::vector<uint8_t> le_bytes(const T (&a)[N]) {
  std::vector<uint8_t> out;
  for (const T v : a) {
    const auto u = static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(v));
    for (std::size_t k = 0; k < sizeof(T); ++k) out.push_back(static_cast<uint8_t>(u >> (8 * k)));
  }
  return out;
}

struct Table {
  const char* name;
  std::vector<uint8_t> bytes;
  const char* sha256;  // of upstream's dump, tables/manifest.json
};

std::vector<Table> tables() {
  return {
      {"kmask_iq2xs", le_bytes(kmask_iq2xs), "5ac9831b2e30eb285ef34f8501620f878432d5c04331ad1ae47f977a83ba41a5"},
      {"ksigns_iq2xs", le_bytes(ksigns_iq2xs), "a76742a603f8beca5212ecce0f1f02f11a4887fd2f7c8b15aca0ea3eb3380c31"},
      {"ksigns64", le_bytes(ksigns64), "6ca8598509cc63406eaece40cff6b60198f6fa1e0dff261de7bd8d73bfed770c"},
      {"iq2xxs_grid", le_bytes(iq2xxs_grid), "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54"},
      {"iq2xs_grid", le_bytes(iq2xs_grid), "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de"},
      {"iq2s_grid", le_bytes(iq2s_grid), "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88"},
      {"iq3xxs_grid", le_bytes(iq3xxs_grid), "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d"},
      {"iq3s_grid", le_bytes(iq3s_grid), "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f"},
      {"iq1s_grid", le_bytes(iq1s_grid), "07540ffc1aeaf6ad4d97e96b0fcc765aae39671d4ae4a27bbd0e796fde167c6a"},
      {"kvalues_iq4nl", le_bytes(kvalues_iq4nl), "61aa47540aa024b5d6ddaa839b84ffe59f3d5a349af5c6c7ffcb5e0474b46163"},
  };
}

TEST(GgmlIqTables, BytesHashToUpstreamDigests) {
  for (const Table& t : tables()) EXPECT_EQ(import::sha256_hex(t.bytes), t.sha256) << t.name;
}

TEST(GgmlIqTables, DigestsMatchUpstreamManifest) {
  if (!fs::exists(kTables / "manifest.json")) GTEST_SKIP() << "GGML tables not found at " << kTables;
  const auto manifest = nlohmann::json::parse(std::ifstream(kTables / "manifest.json"));
  int checked = 0;
  for (const Table& t : tables()) {
    for (const auto& entry : manifest.at("tables")) {
      if (entry.at("name") != t.name) continue;
      EXPECT_EQ(entry.at("data").at("bytes").get<std::size_t>(), t.bytes.size()) << t.name;
      EXPECT_EQ(import::sha256_hex(t.bytes), entry.at("data").at("sha256").get<std::string>()) << t.name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 10);
}

// What the spec (3.22) says the sign tables are, from first principles.
TEST(GgmlIqTables, SignTablesFollowTheirDefinition) {
  for (int j = 0; j < 8; ++j) EXPECT_EQ(kmask_iq2xs[j], 1 << j);
  for (int i = 0; i < 128; ++i) {
    int parity = 0;
    for (int b = 0; b < 7; ++b) parity ^= (i >> b) & 1;
    EXPECT_EQ(ksigns_iq2xs[i], i | parity << 7) << i;
    uint64_t mask = 0;
    for (int j = 0; j < 8; ++j)
      if (ksigns_iq2xs[i] >> j & 1) mask |= uint64_t{0xFF} << (8 * j);
    EXPECT_EQ(ksigns64[i], mask) << i;
  }
}

}  // namespace
}  // namespace qb::ggml

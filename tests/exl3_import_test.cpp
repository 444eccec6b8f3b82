// import-vectors on the EXL3 golden-vector layout: a case folder becomes one fixture named after
// the folder (whatever the name), holding the raw bytes in registry orientation; a file whose
// sha256 differs from its manifest entry is reported with that field.
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "fixtures/import/import_vectors.h"
#include "harness/fixture.h"

namespace qb::import {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kVectors = fs::path(QB_SOURCE_DIR "/../shared/vectors/exl3");
const char* kCase = "enc_k4_mcg_256x128";

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Exl3Import : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kVectors / kCase / "manifest.json"))
      GTEST_SKIP() << "EXL3 golden vectors not found at " << kVectors << " (../shared next to the repo)";
    static std::atomic<int> counter{0};
    tmp_ = fs::temp_directory_path() / ("qb_exl3_import_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }
  fs::path copy_case(const std::string& as) {
    const fs::path dst = tmp_ / "src" / as;
    fs::create_directories(dst.parent_path());
    fs::copy(kVectors / kCase, dst, fs::copy_options::recursive);
    for (const auto& e : fs::directory_iterator(dst))  // the shared copies are read-only
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    return dst;
  }
  fs::path tmp_;
};

TEST_F(Exl3Import, CaseFolderBecomesOneFixture) {
  const ImportReport r = import_vectors(copy_case(kCase).string(), (tmp_ / "out").string());
  ASSERT_TRUE(r.ok()) << r.failed.front();
  ASSERT_EQ(1u, r.written.size());
  const Fixture fx = load_fixture((tmp_ / "out" / "exl3" / (std::string(kCase) + ".safetensors")).string());
  EXPECT_EQ("exl3", fx.format_id);
  EXPECT_EQ(128, fx.rows);
  EXPECT_EQ(256, fx.cols);
  EXPECT_EQ((json{{"bits", 4}, {"codebook", "mcg"}}), fx.params);
  EXPECT_NE(std::string::npos, fx.origin.find("turboderp-org/exllamav3"));
  EXPECT_EQ(read_bytes(kVectors / kCase / "trellis.bin"), fx.find("trellis")->bytes);
  int32_t marker;
  std::memcpy(&marker, fx.find("mcg")->bytes.data(), 4);
  EXPECT_EQ(-877912083, marker);
  // expect.inner is Ŵ^T: element [r][c] is upstream's w_hat[c][r].
  const std::vector<uint8_t> w_hat = read_bytes(kVectors / kCase / "w_hat.bin");
  const std::vector<uint8_t>& inner = fx.find("expect.inner")->bytes;
  for (int64_t r : {0, 5, 127})
    for (int64_t c : {0, 17, 255})
      EXPECT_EQ(0, std::memcmp(&inner[(r * 256 + c) * 2], &w_hat[(c * 128 + r) * 2], 2)) << r << "," << c;
  EXPECT_EQ((std::vector<int64_t>{2, 256}), fx.find("expect.x")->shape);
  EXPECT_EQ(read_bytes(kVectors / kCase / "gemm_y.bin"), fx.find("expect.y")->bytes);
  EXPECT_NE(nullptr, fx.find("source"));
}

TEST_F(Exl3Import, RenamedCaseFolderStillImports) {
  copy_case("any_name_at_all");
  const ImportReport r = import_vectors((tmp_ / "src").string(), (tmp_ / "out").string());
  ASSERT_TRUE(r.ok()) << r.failed.front();
  ASSERT_EQ(1u, r.written.size());
  EXPECT_TRUE(fs::exists(tmp_ / "out" / "exl3" / "any_name_at_all.safetensors"));
}

TEST_F(Exl3Import, CorruptedSha256NamesTheField) {
  const fs::path dir = copy_case(kCase);
  json m;
  {
    std::ifstream in(dir / "manifest.json");
    m = json::parse(in);
  }
  m["files"]["suh.bin"]["sha256"] = std::string(64, '0');
  std::ofstream(dir / "manifest.json") << m.dump(1);
  const ImportReport r = import_vectors(dir.string(), (tmp_ / "out").string());
  ASSERT_EQ(1u, r.failed.size());
  EXPECT_NE(std::string::npos, r.failed[0].find(std::string(kCase) + "/manifest.json: files.suh.bin.sha256"))
      << r.failed[0];
  EXPECT_TRUE(r.written.empty());
  EXPECT_FALSE(fs::exists(tmp_ / "out" / "exl3" / (std::string(kCase) + ".safetensors")));
}

}  // namespace
}  // namespace qb::import

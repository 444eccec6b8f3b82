// Malformed fixture files are rejected with an error naming the file and the field.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "harness/fill.h"
#include "harness/fixture.h"
#include "harness/verify.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

class FixtureIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qb_fixture_io_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const Format& f = *find_format("q4_0");
    OwnedWeight w = random_weight(f, 2, 64, 7);
    good_.path = (dir_ / "good.safetensors").string();
    good_.format_id = "q4_0";
    good_.format = &f;
    good_.rows = 2;
    good_.cols = 64;
    good_.origin = "fixture_io_test";
    const TensorView& b = w.view().tensor("blocks");
    good_.tensors.push_back({"blocks", DType::U8, b.shape, std::vector<uint8_t>(b.data, b.data + b.nbytes)});
    good_.tensors.push_back({"expect.y", DType::F32, {2}, std::vector<uint8_t>(8)});
    good_.tensors.push_back({"expect.x", DType::F32, {64}, std::vector<uint8_t>(256)});
    save_fixture(good_.path, good_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string good_bytes() {
    std::ifstream in(good_.path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Saves a variant of the good fixture after `edit`, then expects the loader to name `field`.
  template <typename Edit>
  void expect_rejected(const std::string& field, Edit edit) {
    Fixture fx = good_;
    edit(fx);
    fx.path = (dir_ / "edited.safetensors").string();
    save_fixture(fx.path, fx);
    expect_error(fx.path, field);
  }
  void expect_error(const std::string& path, const std::string& field) {
    try {
      load_fixture(path);
      ADD_FAILURE() << "accepted " << path << " (expected an error on " << field << ")";
    } catch (const FileError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    }
  }

  fs::path dir_;
  Fixture good_;
};

TEST_F(FixtureIo, GoodFileRoundTrips) {
  const Fixture fx = load_fixture(good_.path);
  EXPECT_EQ(fx.format_id, "q4_0");
  EXPECT_EQ(fx.rows, 2);
  EXPECT_EQ(fx.find("blocks")->bytes, good_.find("blocks")->bytes);
}

TEST_F(FixtureIo, TruncatedAndCorruptContainers) {
  const std::string bytes = good_bytes();
  expect_error(write("short.safetensors", bytes.substr(0, 5)), "header length");
  expect_error(write("cut.safetensors", bytes.substr(0, bytes.size() - 3)), "tensors.expect.x.data_offsets");
  std::string huge = bytes;
  huge[6] = '\x7f';
  expect_error(write("huge.safetensors", huge), "header length");
  std::string badjson = bytes;
  badjson[8] = '[';
  expect_error(write("json.safetensors", badjson), "header");
  expect_error(write("trailing.safetensors", bytes + "xx"), "data_offsets");
  expect_error((dir_ / "missing.safetensors").string(), "");
}

TEST_F(FixtureIo, ContractViolationsNameTheField) {
  expect_rejected("__metadata__.format", [](Fixture& f) { f.format_id = "q4_7"; });
  expect_rejected("__metadata__.origin", [](Fixture& f) { f.origin.clear(); });
  expect_rejected("tensors.blocks.shape", [](Fixture& f) { f.tensors[0].shape = {1, 72}; f.tensors[0].bytes.resize(72); });
  expect_rejected("tensors.blocks.dtype", [](Fixture& f) { f.tensors[0].dtype = DType::I8; });
  expect_rejected("tensors.blocks", [](Fixture& f) { f.tensors[0].name = "qs"; });
  expect_rejected("__metadata__.shape", [](Fixture& f) { f.cols = 48; });
  expect_rejected("tensors.expect.y.shape", [](Fixture& f) { f.tensors[1].shape = {3}; f.tensors[1].bytes.resize(12); });
  expect_rejected("tensors.expect.y", [](Fixture& f) { f.tensors.pop_back(); });
}

TEST_F(FixtureIo, VerifyCountsABadFileAsFailedAndNamesIt) {
  const std::string bytes = good_bytes();
  const std::string bad = write("cut.safetensors", bytes.substr(0, bytes.size() - 3));
  std::ostringstream out;
  const Tally t = verify_paths({bad}, variants(), VerifyOptions{}, out);
  EXPECT_EQ(t.failed, 1);
  EXPECT_NE(out.str().find(bad), std::string::npos) << out.str();
}

}  // namespace
}  // namespace qb

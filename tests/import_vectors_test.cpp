// import-vectors against the shipped GGML golden vectors: fixtures hold exactly the raw bytes,
// case and encoding names come from the manifest, and broken manifests or files are reported
// with the manifest field at fault.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
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

const fs::path kVectors = fs::path(QB_SOURCE_DIR "/../shared/vectors/ggml");

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

void write_json(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(1); }

bool any_contains(const std::vector<std::string>& messages, const std::string& needle) {
  for (const auto& m : messages)
    if (m.find(needle) != std::string::npos) return true;
  return false;
}

std::string joined(const std::vector<std::string>& messages) {
  std::string out;
  for (const auto& m : messages) out += m + "\n";
  return out;
}

std::size_t case_index(const json& manifest, const std::string& name) {
  for (std::size_t i = 0; i < manifest["cases"].size(); ++i)
    if (manifest["cases"][i]["name"] == name) return i;
  ADD_FAILURE() << "no case " << name;
  return 0;
}

class ImportVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kVectors / "q4_0" / "manifest.json"))
      GTEST_SKIP() << "golden vectors not found at " << kVectors << " (../shared next to the repo)";
    static std::atomic<int> counter{0};
    tmp_ = fs::temp_directory_path() /
           ("qb_import_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  // A writable copy of one type folder, still named after the type (messages name it).
  fs::path copy_type(const std::string& type) {
    const fs::path dst = tmp_ / "src" / type;
    fs::create_directories(dst.parent_path());
    fs::copy(kVectors / type, dst, fs::copy_options::recursive);
    return dst;
  }

  fs::path tmp_;
};

TEST_F(ImportVectors, Q4_0FixturesHoldTheRawBytes) {
  const fs::path src = kVectors / "q4_0";
  const fs::path out = tmp_ / "out";
  const ImportReport report = import_vectors(src.string(), out.string());
  ASSERT_TRUE(report.ok()) << joined(report.failed);

  const json m = read_json(src / "manifest.json");
  const auto act_x = read_bytes(src / m["activation"]["input"]["file"].get<std::string>());
  const auto act_q = read_bytes(src / m["activation"]["quant_native"]["data"]["file"].get<std::string>());
  std::size_t expected_files = 0;
  for (const json& c : m["cases"]) {
    const std::string name = c["name"];
    for (const json& e : c["encodings"]) {
      if (e.contains("identical_to")) continue;
      ++expected_files;
      const std::string id = e["id"];
      SCOPED_TRACE(name + "." + id);
      const fs::path path = out / "q4_0" / (name + "." + id + ".safetensors");
      ASSERT_TRUE(fs::exists(path));
      const Fixture f = load_fixture(path.string());
      EXPECT_EQ(f.format_id, "q4_0");
      EXPECT_EQ(f.rows, 8);
      EXPECT_EQ(f.cols, 1024);
      EXPECT_NE(f.origin.find("d99724f2"), std::string::npos) << f.origin;
      EXPECT_NE(f.origin.find(e["producer"].get<std::string>()), std::string::npos) << f.origin;
      EXPECT_NE(f.description.find(name), std::string::npos);

      const auto quant = read_bytes(src / e["quant"]["file"].get<std::string>());
      ASSERT_NE(f.find("blocks"), nullptr);
      EXPECT_EQ(f.find("blocks")->bytes, quant);
      EXPECT_EQ(f.find("blocks")->shape, (std::vector<int64_t>{8, 576}));
      ASSERT_NE(f.find("expect.dequant"), nullptr);
      EXPECT_EQ(f.find("expect.dequant")->bytes,
                read_bytes(src / e["to_float"]["data"]["file"].get<std::string>()));
      if (c.contains("input")) {
        ASSERT_NE(f.find("source"), nullptr);
        EXPECT_EQ(f.find("source")->bytes, read_bytes(src / c["input"]["file"].get<std::string>()));
      } else {
        EXPECT_EQ(f.find("source"), nullptr);
      }
      if (id == "ref") {
        ASSERT_NE(f.find("expect.encode"), nullptr);
        EXPECT_EQ(f.find("expect.encode")->bytes, quant);
      } else {
        EXPECT_EQ(f.find("expect.encode"), nullptr);
      }
      if (c["vec_dot"]["weights"] == id) {
        std::string strict_file;
        for (const json& r : c["vec_dot"]["results"])
          if (r["kernel"] == "strict" && r["activation"] == "quant_native") strict_file = r["data"]["file"];
        ASSERT_NE(f.find("expect.y"), nullptr);
        EXPECT_EQ(f.find("expect.y")->bytes, read_bytes(src / strict_file));
        EXPECT_EQ(f.find("expect.x")->bytes, act_x);
        EXPECT_EQ(f.find("expect.x_q")->bytes, act_q);
      } else {
        EXPECT_EQ(f.find("expect.y"), nullptr);
        EXPECT_EQ(f.find("expect.x_q"), nullptr);
      }
    }
  }
  EXPECT_EQ(report.written.size(), expected_files);
  EXPECT_EQ(report.types.size(), 1u);
}

TEST_F(ImportVectors, RenamedCaseAndEncodingStillImport) {
  const fs::path src = copy_type("q4_0");
  json m = read_json(src / "manifest.json");
  json& c = m["cases"][case_index(m, "gaussian")];
  c["name"] = "gauss2";
  for (json& e : c["encodings"])
    if (e["id"] == "imatrix1") e["id"] = "imx";
  // File names follow the case name; every reference in the case moves with it.
  std::function<void(json&)> rename = [&](json& j) {
    if (j.is_object() && j.contains("file")) {
      std::string file = j["file"];
      const std::string renamed = "gauss2" + file.substr(std::string("gaussian").size());
      fs::rename(src / file, src / renamed);
      j["file"] = renamed;
    }
    if (j.is_structured())
      for (auto& v : j) rename(v);
  };
  rename(c);
  write_json(src / "manifest.json", m);

  const fs::path out = tmp_ / "out";
  const ImportReport report = import_vectors(src.string(), out.string());
  ASSERT_TRUE(report.ok()) << joined(report.failed);
  EXPECT_TRUE(fs::exists(out / "q4_0" / "gauss2.ref.safetensors"));
  EXPECT_TRUE(fs::exists(out / "q4_0" / "gauss2.imx.safetensors"));
  EXPECT_FALSE(fs::exists(out / "q4_0" / "gaussian.ref.safetensors"));
  const Fixture f = load_fixture((out / "q4_0" / "gauss2.ref.safetensors").string());
  EXPECT_NE(f.find("expect.y"), nullptr);
}

TEST_F(ImportVectors, CorruptedSha256NamesTheField) {
  const fs::path src = copy_type("q4_0");
  json m = read_json(src / "manifest.json");
  const std::size_t i = case_index(m, "small");
  m["cases"][i]["encodings"][0]["quant"]["sha256"] = std::string(64, '0');
  write_json(src / "manifest.json", m);

  const ImportReport report = import_vectors(src.string(), (tmp_ / "out").string());
  EXPECT_FALSE(report.ok());
  const std::string field = "q4_0/manifest.json: cases[" + std::to_string(i) +
                            "].encodings[0].quant.sha256: mismatch for small.q_ref.bin";
  EXPECT_TRUE(any_contains(report.failed, field)) << joined(report.failed);
  EXPECT_FALSE(fs::exists(tmp_ / "out" / "q4_0" / "small.ref.safetensors"));
  EXPECT_FALSE(report.written.empty()) << "the other cases still import";
}

TEST_F(ImportVectors, TruncatedFileNamesTheField) {
  const fs::path src = copy_type("q4_0");
  const json m = read_json(src / "manifest.json");
  const std::size_t i = case_index(m, "small");
  fs::resize_file(src / "small.q_ref.to_float.f32.bin", 100);

  const ImportReport report = import_vectors(src.string(), (tmp_ / "out").string());
  EXPECT_FALSE(report.ok());
  const std::string field = "q4_0/manifest.json: cases[" + std::to_string(i) +
                            "].encodings[0].to_float.data.bytes: small.q_ref.to_float.f32.bin holds 100 bytes";
  EXPECT_TRUE(any_contains(report.failed, field)) << joined(report.failed);
}

TEST_F(ImportVectors, UnknownTypeFails) {
  const fs::path src = copy_type("q4_0");
  json m = read_json(src / "manifest.json");
  m["type"] = "q4_9";
  write_json(src / "manifest.json", m);

  const ImportReport report = import_vectors(src.string(), (tmp_ / "out").string());
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(any_contains(report.failed, "q4_0/manifest.json: type: 'q4_9'")) << joined(report.failed);
  EXPECT_TRUE(report.written.empty());
}

TEST_F(ImportVectors, ActivationOnlyTypeIsSkipped) {
  const ImportReport report = import_vectors((kVectors / "q8_K").string(), (tmp_ / "out").string());
  EXPECT_TRUE(report.ok()) << joined(report.failed);
  EXPECT_TRUE(report.written.empty());
  EXPECT_TRUE(any_contains(report.skipped, "q8_K: skipped: activation-only type")) << joined(report.skipped);
}

// A layout no registered family imports is refused with the layouts that are known.
TEST_F(ImportVectors, LayoutsNoFamilyImportsAreRefusedWithTheKnownOnes) {
  const fs::path unknown = tmp_ / "unknown" / "case0";
  fs::create_directories(unknown);
  write_json(unknown / "manifest.json", json{{"format", "awq/q4f16_autoawq"}, {"files", json::object()}});
  const ImportReport report = import_vectors(unknown.parent_path().string(), (tmp_ / "out").string());
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(any_contains(report.failed, "is none of the known ones (ggml: ")) << joined(report.failed);
  EXPECT_TRUE(any_contains(report.failed, "; exl2: ")) << joined(report.failed);
  EXPECT_TRUE(any_contains(report.failed, "; exl3: ")) << joined(report.failed);
  EXPECT_TRUE(any_contains(report.failed, "; mlc: ")) << joined(report.failed);
}

}  // namespace
}  // namespace qb::import

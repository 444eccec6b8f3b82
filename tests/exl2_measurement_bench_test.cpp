// bench --exl2-measurement FILE: a 2023 measurement.json as the model it measured, once per option
// (reference/exl2/measurement_layers.cpp, Family::model_choices): the layers each option makes,
// and bench run as a user runs it, on a small measurement written here and on the seed's
// Llama-2-70B (skipped when ../shared is absent).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/temp_dir_test.h"
#include <nlohmann/json.hpp>

#include "reference/exl2/measurement.h"
#include "tests/run_command.h"

namespace qb {
namespace {

namespace fs = std::filesystem;
using test::Command;
using test::run_command;

const std::string kBench = QB_BENCH_BIN;
const std::string kSeed = std::string(QB_SOURCE_DIR) + "/../shared/seeds/003_68e96ba8af961ce5.txt";

nlohmann::json option(const std::string& desc, const std::vector<int>& bits, const std::vector<double>& prop,
                      int64_t numel, double bpw) {
  return {{"desc", desc},
          {"bpw", bpw},
          {"total_bits", static_cast<double>(numel) * bpw},
          {"err", 0.01},
          {"qparams", {{"group_size", 32}, {"bits", bits}, {"bits_prop", prop}, {"scale_bits", 4}}}};
}

// Two decoder layers of a Llama with hidden 256, 64 k/v features and an MLP of 512: shapes (rows x
// cols = out x in) 256x256 (q, o), 64x256 (k, v), 512x256 (gate, up), 256x512 (down). Two options
// every layer lists, the 2-bit mix first (attention at 2.0 bpw, MLP at 3.0: 2.7059 over the model),
// and one only layer 0's q_proj lists, which is no choice.
nlohmann::json small_measurement() {
  struct Module {
    const char* name;
    int64_t numel;
  };
  const Module modules[] = {{"self_attn.q_proj", 256 * 256}, {"self_attn.k_proj", 256 * 64}, {"self_attn.v_proj", 256 * 64},
                            {"self_attn.o_proj", 256 * 256}, {"mlp.gate_proj", 256 * 512},   {"mlp.up_proj", 256 * 512},
                            {"mlp.down_proj", 512 * 256}};
  auto layers = nlohmann::json::array();
  for (int i = 0; i < 2; ++i)
    for (const Module& m : modules) {
      const bool mlp = std::string(m.name).rfind("mlp.", 0) == 0;
      auto options = nlohmann::json::array();
      options.push_back(option("0.05:3b/0.95:2b 32g s4", {3, 2}, {0.05, 0.95}, m.numel, mlp ? 3.0 : 2.0));
      options.push_back(option("1.0:4b 32g s4", {4}, {1.0}, m.numel, 4.125));
      if (i == 0 && std::string(m.name) == "self_attn.q_proj")
        options.push_back(option("1.0:8b 32g s4", {8}, {1.0}, m.numel, 8.125));
      layers.push_back({{"key", "model.layers." + std::to_string(i) + "." + m.name}, {"numel", m.numel}, {"options", options}});
    }
  return {{"measurement", layers}, {"last_module_idx", 5}};
}

class Exl2MeasurementBench : public test::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = root_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
};

TEST_F(Exl2MeasurementBench, ChoicesAreTheOptionsEveryLayerLists) {
  const std::string file = write("measurement.json", small_measurement().dump());
  const std::vector<ModelChoice> choices = exl2::measurement_choices_of_file(file);
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].name, "0.05:3b/0.95:2b 32g s4");
  EXPECT_EQ(choices[1].name, "1.0:4b 32g s4");
  // The file's bits over its weights: 2 x (2 x 65536 + 2 x 16384) x 2.0 + 2 x 3 x 131072 x 3.0 over 2 x 557056.
  EXPECT_DOUBLE_EQ(choices[0].bpw, (2 * 163840 * 2.0 + 2 * 393216 * 3.0) / (2 * 557056.0));
  EXPECT_DOUBLE_EQ(choices[1].bpw, 4.125);
  for (const ModelChoice& c : choices) {
    ASSERT_EQ(c.layers.size(), 14u);
    for (const LayerSpec& l : c.layers) {
      EXPECT_EQ(l.format, "exl2");
      EXPECT_EQ(l.params, nlohmann::json({{"option", c.name}}));
    }
    EXPECT_EQ(c.layers[0].name, "model.layers.0.self_attn.q_proj");
    // rows = N out_features, cols = K in_features.
    const std::pair<int64_t, int64_t> shapes[] = {{256, 256}, {64, 256}, {64, 256}, {256, 256},
                                                  {512, 256}, {512, 256}, {256, 512}};
    for (std::size_t i = 0; i < c.layers.size(); ++i) {
      EXPECT_EQ(c.layers[i].rows, shapes[i % 7].first) << c.layers[i].name;
      EXPECT_EQ(c.layers[i].cols, shapes[i % 7].second) << c.layers[i].name;
    }
  }
}

TEST_F(Exl2MeasurementBench, NoOptionCommonToEveryLayerIsAFileError) {
  nlohmann::json m = small_measurement();
  m["measurement"][3]["options"].erase(0);
  m["measurement"][4]["options"].erase(1);
  const std::string file = write("disjoint.json", m.dump());
  try {
    exl2::measurement_choices_of_file(file);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.field(), "measurement");
  }
}

// Without --option: one table of every option the file lists, with its bpw and each variant's
// projected time per token over all 14 layers. The reference alone keeps the test fast.
TEST_F(Exl2MeasurementBench, BenchTabulatesEveryOption) {
  const std::string file = write("measurement.json", small_measurement().dump());
  const Command c = run_command(kBench + " --exl2-measurement " + file +
                                " --warm --benchmark_filter=_ref/ --benchmark_min_time=0.001");
  ASSERT_EQ(c.status, 0) << c.output;
  for (const char* row : {"/256x256/self_attn.q_proj+self_attn.o_proj-1.0:4b_32g_s4-x4/",
                          "/64x256/self_attn.k_proj+self_attn.v_proj-1.0:4b_32g_s4-x4/",
                          "/512x256/mlp.gate_proj+mlp.up_proj-0.05:3b/0.95:2b_32g_s4-x4/",
                          "/256x512/mlp.down_proj-0.05:3b/0.95:2b_32g_s4-x2/"})
    EXPECT_NE(c.output.find(std::string("exl2/gemv/exl2_gemv_ref") + row), std::string::npos) << row << "\n" << c.output;
  EXPECT_NE(c.output.find("projected GEMV time per token (m=1, "), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("of each option of " + file + ": 14 layers"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("0.05:3b/0.95:2b 32g s4  2.7059"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("1.0:4b 32g s4           4.1250"), std::string::npos) << c.output;
  EXPECT_EQ(c.output.find("1.0:8b"), std::string::npos) << c.output;  // not every layer lists it
}

TEST_F(Exl2MeasurementBench, OptionNotInTheFileIsRefusedWithTheFilesOptions) {
  const std::string file = write("measurement.json", small_measurement().dump());
  const Command c = run_command(kBench + " --exl2-measurement " + file + " --option '1.0:8b 32g s4' --benchmark_list_tests");
  EXPECT_NE(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("'1.0:8b 32g s4' is not one of the 2 options " + file +
                          " lists: '0.05:3b/0.95:2b 32g s4', '1.0:4b 32g s4'"),
            std::string::npos)
      << c.output;
  EXPECT_EQ(c.output.find("/threads:"), std::string::npos) << c.output;  // no rows
}

TEST_F(Exl2MeasurementBench, MalformedFileIsNamedWithItsField) {
  nlohmann::json m = small_measurement();
  m["measurement"][2]["numel"] = "16384";
  const std::string file = write("malformed.json", m.dump());
  const Command c = run_command(kBench + " --exl2-measurement " + file + " --benchmark_list_tests");
  EXPECT_EQ(c.status, 2) << c.output;
  EXPECT_NE(c.output.find(file + ": field 'measurement[2].numel'"), std::string::npos) << c.output;
  const Command missing = run_command(kBench + " --exl2-measurement " + (root_ / "absent.json").string());
  EXPECT_EQ(missing.status, 2) << missing.output;
  EXPECT_NE(missing.output.find((root_ / "absent.json").string()), std::string::npos) << missing.output;
}

// The seed's Llama-2-70B (80 layers x 7 projections) at one option: its four shapes, and the
// projection over all 560 layers. --warm (one copy of each weight) and the reference alone keep it
// to a few seconds.
TEST(Exl2MeasurementSeed, OneOptionProjectsAllLayers) {
  if (!fs::exists(kSeed)) GTEST_SKIP() << kSeed << " is absent";
  const Command c = run_command(kBench + " --exl2-measurement " + kSeed +
                                " --option '1.0:4b 32g s4' --warm --benchmark_filter=_ref/ --benchmark_min_time=0.001");
  ASSERT_EQ(c.status, 0) << c.output;
  for (const char* shape : {"/8192x8192/", "/1024x8192/", "/28672x8192/", "/8192x28672/"})
    EXPECT_NE(c.output.find(shape), std::string::npos) << shape << "\n" << c.output;
  EXPECT_NE(c.output.find("projected GEMV time per token (m=1, "), std::string::npos) << c.output;
  EXPECT_NE(c.output.find(": 560 exl2 layers of " + kSeed + " (option 1.0:4b 32g s4), 4 distinct"), std::string::npos)
      << c.output;
  EXPECT_NE(c.output.find("exl2_gemv_ref"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find(" ms/token"), std::string::npos) << c.output;
}

}  // namespace
}  // namespace qb

// EXL3 model directories: what make-exl3-model writes reads back as the same layers, and broken
// directories fail with an error naming the file and the field; a quant_method no family claims
// is refused by verify and bench --model alike.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/run_command.h"

#include "fixtures/import/exl3/exl3_model_writer.h"
#include "harness/family.h"
#include "harness/fixture.h"
#include "harness/model_dir.h"
#include "harness/registry.h"
#include "harness/verify.h"
#include "reference/exl3/exl3.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

class Exl3Model : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("qb_exl3_model_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    // The seed model's kinds of module (000_12bb0b0cfee13881), at small shapes: an fc with k = 1280,
    // one decoder layer's attention and MLP projections (one at 3 bits), and a bf16 norm.
    config_ = {{"quant_method", "exl3"}, {"version", "0.0.32"}, {"bits", 3.5}, {"codebook", "mcg"}};
    auto& ts = config_["tensor_storage"];
    const auto linear = [&](const std::string& name, int64_t k, int64_t n, int bits) {
      ts[name] = exl3::mcg_linear_storage(name, k, n, bits);
    };
    linear("fc", 1280, 256, 4);
    ts["layers.0.input_layernorm"] = {
        {"stored_tensors", {{"layers.0.input_layernorm.weight", {{"shape", {256}}, {"dtype", "torch.bfloat16"}}}}}};
    linear("layers.0.self_attn.q_proj", 256, 512, 4);
    linear("layers.0.self_attn.k_proj", 256, 128, 4);
    linear("layers.0.self_attn.v_proj", 256, 128, 4);
    linear("layers.0.self_attn.o_proj", 512, 256, 4);
    linear("layers.0.mlp.up_proj", 256, 768, 4);
    linear("layers.0.mlp.gate_proj", 256, 768, 4);
    linear("layers.0.mlp.down_proj", 768, 256, 3);
    linear("layers.1.mlp.down_proj", 768, 256, 3);  // dropped by --layers 1
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string write(const std::string& name, int shards) {
    exl3::ModelOptions opt;
    opt.layers = 1;
    opt.shards = shards;
    opt.seed = 5;
    const std::string dir = (root_ / name).string();
    exl3::write_model(config_, dir, opt);
    return dir;
  }

  // Opening must throw a FileError naming `file` and a field containing `field`.
  static void expect_error(const std::string& dir, const std::string& file, const std::string& field) {
    try {
      open_model_dir(dir, ModelData::mapped);
      FAIL() << "opened " << dir << " without error";
    } catch (const FileError& e) {
      EXPECT_EQ(fs::path(e.file()).filename(), fs::path(file).filename()) << e.what();
      EXPECT_NE(e.field().find(field), std::string::npos) << e.what();
    }
  }

  // Rewrites one safetensors file through `edit`.
  template <typename F>
  static void edit(const std::string& path, F&& f) {
    SafetensorsFile s = read_safetensors(path);
    f(s);
    write_safetensors(path, s);
  }

  fs::path root_;
  nlohmann::ordered_json config_;
};

TEST_F(Exl3Model, SingleFileReadsBackWhatWasWritten) {
  const std::string dir = write("single", 1);
  ASSERT_TRUE(is_model_dir(dir));
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  ASSERT_NE(m.family, nullptr);
  EXPECT_EQ(m.family->id, "exl3");
  EXPECT_EQ(m.files.quant_method, "exl3");
  EXPECT_EQ(fs::path(m.files.config_file).filename(), "config.json");
  std::string config_file;
  const auto declared = exl3::config_layers(load_quant_config(dir, &config_file), config_file);
  ASSERT_EQ(m.files.files.size(), 1u);
  ASSERT_EQ(m.layers.size(), declared.size());
  ASSERT_EQ(m.layers.size(), 8u);  // fc + the 7 linear layers of layers.0
  for (std::size_t i = 0; i < declared.size(); ++i) {
    const ModelLayer& l = m.layers[i];
    EXPECT_EQ(l.spec.name, declared[i].name);
    EXPECT_EQ(l.spec.format, "exl3");
    EXPECT_EQ(declared[i].format, "exl3");
    EXPECT_EQ(l.spec.rows, declared[i].rows);
    EXPECT_EQ(l.spec.cols, declared[i].cols);
    EXPECT_EQ(l.spec.params, declared[i].params);
    EXPECT_EQ(l.spec.summary, declared[i].summary);
    EXPECT_EQ(l.spec.params["codebook"], "mcg");
    EXPECT_EQ(l.weight.rows, l.spec.rows);
    EXPECT_EQ(l.weight.cols, l.spec.cols);
    EXPECT_EQ(l.weight.params, l.spec.params);
    EXPECT_EQ(l.weight.format, find_format("exl3"));
    const TensorView& marker = l.weight.tensor("mcg");
    uint32_t v;
    std::memcpy(&v, marker.data, 4);
    EXPECT_EQ(v, exl3::kMcgMultiplier);
    const int64_t bits = l.spec.params["bits"].get<int64_t>();
    EXPECT_EQ(l.weight.tensor("trellis").shape, (std::vector<int64_t>{l.spec.cols / 16, l.spec.rows / 16, 16 * bits}));
  }
  EXPECT_EQ(m.layers[0].spec.name, "fc");
  EXPECT_EQ(m.layers[1].spec.name, "layers.0.self_attn.q_proj");
  EXPECT_EQ(m.layers[1].spec.rows, 512);
  EXPECT_EQ(m.layers[1].spec.cols, 256);
  EXPECT_EQ(m.layers[1].spec.params["bits"], 4);
  EXPECT_EQ(m.layers[1].spec.summary, "bits 4 mcg");
  EXPECT_EQ(m.layers[7].spec.params["bits"], 3);
  EXPECT_EQ(m.layers[7].spec.summary, "bits 3 mcg");
}

TEST_F(Exl3Model, ShardsHoldTheSameLayers) {
  const ModelDir one = open_model_dir(write("single", 1), ModelData::mapped);
  const std::string dir = write("sharded", 2);
  ASSERT_TRUE(fs::exists(fs::path(dir) / "model.safetensors.index.json"));
  const ModelDir two = open_model_dir(dir, ModelData::mapped);
  ASSERT_EQ(two.files.files.size(), 2u);
  ASSERT_EQ(two.layers.size(), one.layers.size());
  std::set<std::string> files;
  for (std::size_t i = 0; i < one.layers.size(); ++i) {
    files.insert(two.layers[i].file);
    EXPECT_EQ(two.layers[i].spec.name, one.layers[i].spec.name);
    for (const char* t : {"trellis", "suh", "svh", "mcg"}) {
      const TensorView& a = one.layers[i].weight.tensor(t);
      const TensorView& b = two.layers[i].weight.tensor(t);
      ASSERT_EQ(a.nbytes, b.nbytes);
      EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << one.layers[i].spec.name << "." << t;
    }
  }
  EXPECT_EQ(files.size(), 2u);  // the layers really are spread over both shards
}

TEST_F(Exl3Model, VerifyRunsEveryLayer) {
  std::ostringstream out;
  const Tally t = verify_model_dir(write("sharded", 2), variants(), VerifyOptions{}, out);
  EXPECT_EQ(t.failed, 0) << out.str();
  EXPECT_GT(t.passed, 0) << out.str();
}

TEST_F(Exl3Model, HeadersOnlyMapsNothing) {
  const ModelDir m = open_model_dir(write("single", 1), ModelData::headers_only);
  ASSERT_FALSE(m.layers.empty());
  EXPECT_EQ(m.layers[0].weight.tensor("trellis").data, nullptr);
  EXPECT_FALSE(m.files.mapped());
}

TEST_F(Exl3Model, TruncatedShardNamesTheShard) {
  const std::string dir = write("sharded", 2);
  const fs::path shard = fs::path(dir) / "model-00002-of-00002.safetensors";
  fs::resize_file(shard, fs::file_size(shard) - 100);
  expect_error(dir, shard.string(), "data_offsets");
}

TEST_F(Exl3Model, MissingShardNamesTheIndexEntry) {
  const std::string dir = write("sharded", 2);
  fs::remove(fs::path(dir) / "model-00002-of-00002.safetensors");
  expect_error(dir, "model.safetensors.index.json", "weight_map.");
}

TEST_F(Exl3Model, TrellisDtypeMustBeI16) {
  const std::string dir = write("single", 1);
  const std::string file = (fs::path(dir) / "model.safetensors").string();
  edit(file, [](SafetensorsFile& s) {
    for (auto& t : s.tensors)
      if (t.name == "fc.trellis") t.dtype = DType::F16;
  });
  expect_error(dir, file, "tensors.fc.trellis.dtype");
}

TEST_F(Exl3Model, McgAndMul1TogetherAreRejected) {
  const std::string dir = write("single", 1);
  const std::string file = (fs::path(dir) / "model.safetensors").string();
  edit(file, [](SafetensorsFile& s) {
    OwnedTensor mul1{"fc.mul1", DType::I32, {}, std::vector<uint8_t>(4)};
    std::memcpy(mul1.bytes.data(), &exl3::kMul1Multiplier, 4);
    s.tensors.push_back(mul1);
  });
  expect_error(dir, file, "tensors.fc.mul1");
}

TEST_F(Exl3Model, MultiplierMustBeTheLockedConstant) {
  const std::string dir = write("single", 1);
  const std::string file = (fs::path(dir) / "model.safetensors").string();
  edit(file, [](SafetensorsFile& s) {
    for (auto& t : s.tensors)
      if (t.name == "fc.mcg") t.bytes[0] ^= 1;
  });
  expect_error(dir, file, "tensors.fc.mcg");
}

// One tensor, one strictness: a fixture holding the same stored tensors as a model layer is
// refused for the same reason (harness/stored_check.h), with the same message.
TEST_F(Exl3Model, MarkerIsCheckedAlikeInModelsAndFixtures) {
  const std::string dir = write("single", 1);
  const std::string file = (fs::path(dir) / "model.safetensors").string();
  Fixture fx;
  fx.format_id = "exl3";
  fx.rows = 256;
  fx.cols = 1280;
  fx.params = {{"bits", 4}, {"codebook", "mcg"}};
  fx.origin = "test";
  edit(file, [&](SafetensorsFile& s) {
    for (auto& t : s.tensors) {
      if (t.name == "fc.mcg") t.bytes[0] ^= 1;
      if (t.name.rfind("fc.", 0) == 0) fx.tensors.push_back({t.name.substr(3), t.dtype, t.shape, t.bytes});
    }
  });
  fx.tensors.push_back({"expect.dequant", DType::F32, {256, 1280}, std::vector<uint8_t>(256 * 1280 * 4)});
  const std::string fixture = (root_ / "marker.safetensors").string();
  save_fixture(fixture, fx);
  std::string model_error, fixture_error;
  try {
    open_model_dir(dir, ModelData::mapped);
  } catch (const FileError& e) {
    EXPECT_EQ(e.field(), "tensors.fc.mcg");
    model_error = e.what();
  }
  try {
    load_fixture(fixture);
  } catch (const FileError& e) {
    EXPECT_EQ(e.field(), "tensors.mcg");
    fixture_error = e.what();
  }
  const auto reason = [](const std::string& m) { return m.substr(m.rfind("': ") + 3); };
  ASSERT_FALSE(model_error.empty());
  ASSERT_FALSE(fixture_error.empty());
  EXPECT_EQ(reason(model_error), reason(fixture_error));
  EXPECT_NE(reason(model_error).find("not the locked multiplier 3417055213"), std::string::npos) << model_error;
}

// A layer with a zero dimension is refused naming the file, the layer and the tensor.
TEST_F(Exl3Model, ZeroDimensionNamesTheLayerAndTensor) {
  const std::string dir = write("single", 1);
  const std::string file = (fs::path(dir) / "model.safetensors").string();
  edit(file, [](SafetensorsFile& s) {
    for (auto& t : s.tensors) {
      if (t.name == "fc.suh") t.shape = {0};
      if (t.name == "fc.trellis") t.shape = {0, 16, 64};
      if (t.name == "fc.suh" || t.name == "fc.trellis") t.bytes.clear();
    }
  });
  try {
    open_model_dir(dir, ModelData::mapped);
    FAIL() << "opened " << dir << " without error";
  } catch (const FileError& e) {
    EXPECT_EQ(fs::path(e.file()).filename(), "model.safetensors") << e.what();
    EXPECT_EQ(e.field(), "tensors.fc.trellis.shape") << e.what();
    EXPECT_NE(std::string(e.what()).find("cols (k, in_features) = 0"), std::string::npos) << e.what();
  }
}

TEST_F(Exl3Model, InputFeaturesMustBeMultiplesOf128) {
  const std::string dir = write("single", 1);
  const std::string file = (fs::path(dir) / "model.safetensors").string();
  // k = 1280 -> 1264: trellis [79, 16, 64] and suh [1264] stay consistent with each other.
  edit(file, [](SafetensorsFile& s) {
    for (auto& t : s.tensors) {
      if (t.name == "fc.suh") {
        t.shape = {1264};
        t.bytes.resize(1264 * 2);
      }
      if (t.name == "fc.trellis") {
        t.shape = {79, 16, 64};
        t.bytes.resize(79 * 16 * 64 * 2);
      }
    }
  });
  expect_error(dir, file, "tensors.fc.suh.shape");
}

TEST_F(Exl3Model, ConfigMismatchNamesTheTensor) {
  const std::string dir = write("single", 1);
  const std::string file = (fs::path(dir) / "model.safetensors").string();
  edit(file, [](SafetensorsFile& s) {
    for (auto& t : s.tensors)
      if (t.name == "fc.mcg") t.name = "fc.mul1";
  });
  expect_error(dir, file, "tensors.fc.mul1");
}

// The same model with quantization_config.quant_method "gptq": no family claims it.
void set_quant_method(const std::string& dir, const std::string& method) {
  const fs::path config = fs::path(dir) / "config.json";
  nlohmann::ordered_json j;
  {
    std::ifstream in(config);
    j = nlohmann::ordered_json::parse(in);
  }
  j["quantization_config"]["quant_method"] = method;
  std::ofstream(config) << j.dump(2) << "\n";
}

// The refusal names the file, the field, the value and every method some family claims.
void expect_refused_method(const std::string& message, const std::string& file) {
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_NE(message.find("quantization_config.quant_method"), std::string::npos) << message;
  EXPECT_NE(message.find("'gptq'"), std::string::npos) << message;
  EXPECT_NE(message.find("known methods: " + known_quant_methods()), std::string::npos) << message;
  EXPECT_NE(known_quant_methods().find("exl3"), std::string::npos);
}

TEST_F(Exl3Model, UnclaimedQuantMethodIsRefusedByVerify) {
  const std::string dir = write("gptq", 1);
  set_quant_method(dir, "gptq");
  const std::string config = (fs::path(dir) / "config.json").string();
  std::ostringstream out;
  const Tally t = verify_paths({dir}, variants(), VerifyOptions{}, out);
  EXPECT_EQ(t.failed, 1) << out.str();
  EXPECT_EQ(t.passed, 0) << out.str();
  expect_refused_method(out.str(), config);
  // The same through the folder holding it.
  std::ostringstream in_folder;
  const Tally f = verify_paths({root_.string()}, variants(), VerifyOptions{}, in_folder);
  EXPECT_EQ(f.failed, 1) << in_folder.str();
  expect_refused_method(in_folder.str(), config);
}

// bench is its own executable (benches/ is not in the library): bench --model runs as a command,
// next to the verify binary the tests already depend on. --benchmark_list_tests lists the rows
// without running them (and without the bandwidth probe).
using test::Command;
using test::run_command;
std::string bench_bin() { return QB_BENCH_BIN; }

TEST_F(Exl3Model, UnclaimedQuantMethodIsRefusedByBench) {
  ASSERT_TRUE(fs::exists(bench_bin())) << bench_bin() << " is not built";
  const std::string dir = write("gptq", 1);
  set_quant_method(dir, "gptq");
  const std::string config = (fs::path(dir) / "config.json").string();
  for (const std::string& source : {dir, config}) {
    const Command c = run_command(bench_bin() + " --model " + source + " --benchmark_list_tests");
    EXPECT_EQ(c.status, 2) << c.output;  // the input is at fault, as verify reports a bad plugin
    EXPECT_EQ(c.output.find("/threads:"), std::string::npos) << c.output;  // no rows
    expect_refused_method(c.output, config);
  }
}

TEST_F(Exl3Model, FolderWithoutQuantizationConfigIsRefusedByName) {
  const std::string dir = write("plain", 1);
  // An unquantized checkpoint's config.json: no quantization_config, and no separate file.
  fs::remove(fs::path(dir) / "quantization_config.json");
  const fs::path config = fs::path(dir) / "config.json";
  std::ofstream(config) << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 256})" << "\n";
  expect_error(dir, config.string(), "quantization_config");
  std::ostringstream out;
  const Tally t = verify_paths({dir}, variants(), VerifyOptions{}, out);
  EXPECT_EQ(t.failed, 1) << out.str();
  EXPECT_NE(out.str().find(config.string() + ": field 'quantization_config'"), std::string::npos) << out.str();
  ASSERT_TRUE(fs::exists(bench_bin())) << bench_bin() << " is not built";
  const Command c = run_command(bench_bin() + " --model " + dir + " --benchmark_list_tests");
  EXPECT_NE(c.status, 0) << c.output;
  EXPECT_NE(c.output.find(config.string() + ": field 'quantization_config'"), std::string::npos) << c.output;
}

TEST_F(Exl3Model, BenchModelGroupsIdenticalLayers) {
  ASSERT_TRUE(fs::exists(bench_bin())) << bench_bin() << " is not built";
  const std::string dir = write("single", 1);
  const Command from_dir = run_command(bench_bin() + " --model " + dir + " --isa scalar --benchmark_list_tests");
  const Command from_config =
      run_command(bench_bin() + " --model " + dir + "/config.json --isa scalar --benchmark_list_tests");
  ASSERT_EQ(from_dir.status, 0) << from_dir.output;
  ASSERT_EQ(from_config.status, 0) << from_config.output;
  // One row per distinct (shape, params): up_proj and gate_proj share one, measured once for both;
  // the config alone declares the same cases as the weight files' headers.
  const std::string rows = "exl3/gemv/exl3_gemv_ref/";
  for (const char* key : {"256x1280/fc-K4-mcg-x1", "512x256/self_attn.q_proj-K4-mcg-x1",
                          "128x256/self_attn.k_proj+self_attn.v_proj-K4-mcg-x2", "256x512/self_attn.o_proj-K4-mcg-x1",
                          "768x256/mlp.up_proj+mlp.gate_proj-K4-mcg-x2", "256x768/mlp.down_proj-K3-mcg-x1"}) {
    EXPECT_NE(from_dir.output.find(rows + key + "/"), std::string::npos) << key << "\n" << from_dir.output;
    EXPECT_NE(from_config.output.find(rows + key + "/"), std::string::npos) << key << "\n" << from_config.output;
  }
}

}  // namespace
}  // namespace qb

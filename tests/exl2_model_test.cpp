// EXL2 model directories: what make-exl2-model's writer produces reads back as Llama's seven
// projections per layer with their group tables, verify and bench --model run on it, and a layer
// whose stored tensors break upstream's rules fails with the file and the tensor named.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/temp_dir_test.h"

#include "tests/run_command.h"

#include "fixtures/import/exl2/exl2_model_writer.h"
#include "harness/model_dir.h"
#include "harness/safetensors.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

class Exl2Model : public test::TempDirTest {
 protected:
  std::string write(const std::string& name, int shards, bool bias) {
    exl2::ModelOptions opt;
    opt.layers = 2;
    opt.hidden = 256;
    opt.intermediate = 640;
    opt.kv = 64;
    opt.shards = shards;
    opt.bias = bias;
    const std::string dir = (root_ / name).string();
    exl2::write_model(dir, opt);
    return dir;
  }

  // Rewrites one tensor's bytes in the directory's single safetensors file.
  void patch(const std::string& dir, const std::string& tensor, std::size_t offset, const void* bytes, std::size_t n) {
    const std::string path = dir + "/model.safetensors";
    SafetensorsFile f = read_safetensors(path);
    for (OwnedTensor& t : f.tensors)
      if (t.name == tensor) std::memcpy(t.bytes.data() + offset, bytes, n);
    write_safetensors(path, f);
  }
};

TEST_F(Exl2Model, WrittenDirectoryReadsBackAsItsLayers) {
  const std::string dir = write("m", 2, true);
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  ASSERT_EQ(14u, m.layers.size());
  EXPECT_EQ(2u, m.files.files.size());
  EXPECT_EQ("model.layers.0.self_attn.q_proj", m.layers[0].spec.name);
  for (const ModelLayer& l : m.layers) {
    EXPECT_EQ("exl2", l.spec.format);
    const bool qkv = l.spec.name.find("q_proj") != std::string::npos || l.spec.name.find("k_proj") != std::string::npos ||
                     l.spec.name.find("v_proj") != std::string::npos;
    EXPECT_EQ(qkv, l.spec.params.contains("bias")) << l.spec.name;
  }
  // down_proj: 640 input features under "0.25:4b/0.75:2b 32g s4" (2023 rule: g128 = 5,
  // 4-bit max(round(1.25), 1) * 4 = 4 groups, the rest 2-bit).
  const ModelLayer& down = m.layers[6];
  EXPECT_EQ("model.layers.0.mlp.down_proj", down.spec.name);
  EXPECT_EQ(256, down.spec.rows);
  EXPECT_EQ(640, down.spec.cols);
  EXPECT_EQ(nlohmann::json::parse(R"([[4, 32, 4], [2, 32, 16]])"), down.spec.params["groups"]);
}

TEST_F(Exl2Model, VerifyAndBenchRunOnIt) {
  const std::string dir = write("m", 1, true);
  const test::Command v = test::run_command(std::string(QB_VERIFY_BIN) + " " + dir + " --threads 2");
  EXPECT_EQ(0, v.status) << v.output;
  EXPECT_NE(std::string::npos, v.output.find(" 0 failed")) << v.output;
  EXPECT_NE(std::string::npos, v.output.find("exl2_gemv_ref")) << v.output;
  const test::Command b = test::run_command(std::string(QB_BENCH_BIN) + " --model " + dir +
                                            " --threads 1 --benchmark_min_time=0.01 --benchmark_filter=ref");
  EXPECT_EQ(0, b.status) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("projected GEMV time per token")) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("14 exl2 layers")) << b.output;
}

TEST_F(Exl2Model, BrokenLayersNameTheirFileAndTensor) {
  const auto expect_refused = [&](const std::string& dir, const std::string& needle) {
    try {
      open_model_dir(dir, ModelData::mapped);
      ADD_FAILURE() << dir << " accepted";
    } catch (const FileError& e) {
      EXPECT_NE(std::string::npos, e.file().find("model.safetensors")) << e.what();
      EXPECT_NE(std::string::npos, std::string(e.what()).find(needle)) << e.what();
    }
  };
  // Widths ascending: q_groups of o_proj start with a 2-bit group before the 4-bit ones.
  const std::string ascending = write("ascending", 1, false);
  const int16_t two = 2;
  patch(ascending, "model.layers.0.self_attn.o_proj.q_groups", 0, &two, 2);
  expect_refused(ascending, "model.layers.0.self_attn.o_proj.q_groups");
  // A repeated input feature in q_invperm.
  const std::string repeat = write("repeat", 1, false);
  const int32_t zero = 0;
  patch(repeat, "model.layers.1.mlp.up_proj.q_invperm", 4, &zero, 4);
  patch(repeat, "model.layers.1.mlp.up_proj.q_invperm", 0, &zero, 4);
  expect_refused(repeat, "model.layers.1.mlp.up_proj.q_invperm");
}

}  // namespace
}  // namespace qb

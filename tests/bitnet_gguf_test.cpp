// bitnet.cpp GGUF files (spec 3, 4): the fork's type ids (I2_S 36, TL1 38, TL2 39) are read as
// BitNet formats in the files bitnet.cpp makes and as ggml's elsewhere (39 is MXFP4 there), each
// written weight decodes to the ternary matrix and scale it was written from, TL tiles come from
// the kernel_config.ini beside the file, verify and bench --model run on such a file, and a file
// missing what a layer needs is refused with the file and the field named.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/temp_dir_test.h"

#include "tests/run_command.h"

#include "fixtures/import/bitnet/bitnet_gguf_writer.h"
#include "fixtures/import/gguf_writer.h"
#include "harness/family.h"
#include "harness/model_dir.h"
#include "harness/prepared.h"
#include "harness/safetensors.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

class BitnetGguf : public test::TempDirTest {
 protected:
  // Two layers, hidden 256 (4 heads, 2 KV heads: k/v 128 rows), MLP 384.
  std::string write(const std::string& name, const std::string& type, std::vector<bitnet::WrittenLayer>* layers = nullptr) {
    bitnet::GgufModelOptions opt;
    opt.type = type;
    opt.model.layers = 2;
    opt.model.hidden = 256;
    opt.model.intermediate = 384;
    opt.model.heads = 4;
    opt.model.kv_heads = 2;
    fs::create_directories(root_ / name);
    const std::string path = (root_ / name / "model.gguf").string();
    std::vector<bitnet::WrittenLayer> w = bitnet::write_gguf_model(path, opt);
    if (layers) *layers = std::move(w);
    return path;
  }
};

TEST_F(BitnetGguf, EveryTypeReadsBackAsWritten) {
  for (const auto& [type, format] : {std::pair{"i2_s", "bitnet_i2_s"}, {"tl1", "bitnet_tl1"}, {"tl2", "bitnet_tl2"}}) {
    SCOPED_TRACE(type);
    std::vector<bitnet::WrittenLayer> want;
    const ModelDir m = open_model_dir(write(type, type, &want), ModelData::mapped);
    ASSERT_NE(nullptr, m.gguf_dialect);
    EXPECT_EQ("bitnet.cpp", m.gguf_dialect->name);
    ASSERT_EQ(14u, m.layers.size());
    ASSERT_EQ(1u, m.unquantized.size());
    EXPECT_EQ("f32", m.unquantized[0].first);
    EXPECT_EQ(2 * 4 + 1, m.unquantized[0].second);  // the norms; TL scales complete their layers
    for (std::size_t i = 0; i < want.size(); ++i) {
      const ModelLayer& l = m.layers[i];
      SCOPED_TRACE(l.spec.name);
      EXPECT_EQ(want[i].name, l.spec.name);
      EXPECT_EQ(format, l.spec.format);
      ASSERT_EQ(want[i].rows, l.spec.rows);
      ASSERT_EQ(want[i].cols, l.spec.cols);
      if (std::string(type) != "i2_s") {
        EXPECT_TRUE(l.spec.params.contains("BM") && l.spec.params.contains("BK")) << l.spec.params.dump();
      }
      const Format& f = *l.weight.format;
      std::vector<float> got(static_cast<std::size_t>(l.spec.rows * l.spec.cols));
      f.dequant_ref(PreparedWeight(l.weight).get(), 0, call_extent(f, l.spec.rows), got.data());
      for (std::size_t k = 0; k < got.size(); ++k)
        ASSERT_EQ(bits(static_cast<float>(want[i].ternary[k]) * want[i].scale), bits(got[k])) << "element " << k;
    }
  }
}

// The same id is a BitNet type in bitnet.cpp's files and ggml's in anyone else's.
TEST_F(BitnetGguf, TypeIdsFollowTheFilesProvenance) {
  auto header = [&](const std::string& name, const std::string& arch, uint32_t file_type) {
    gguf_write::File f;
    f.metadata = {{"general.architecture", gguf_write::Value::string(arch)}, {"general.file_type", gguf_write::Value::u32(file_type)}};
    const std::string path = (root_ / name).string();
    f.write(path);
    return read_gguf(path, gguf_types_for);
  };
  auto format_of = [](const GgufFile& g, uint32_t id) {
    for (const GgufTypeId& t : gguf_types_for(g))
      if (t.id == id) return t.format;
    return std::string("(none)");
  };
  // bitnet.cpp's I2_S file type from any architecture (Llama3-8B-1.58's file says llama), its TL2
  // file type from BitNet's and llama; ggml's file types (here q4_0's 2, MXFP4_MOE's 38) elsewhere.
  const GgufFile bitnet = header("b.gguf", "bitnet-b1.58", 40), llama_i2s = header("li.gguf", "llama", 40),
                 llama_tl2 = header("lt.gguf", "llama", 39), bitnet_f16 = header("f.gguf", "bitnet-b1.58", 1),
                 llama_q4 = header("l.gguf", "llama", 2), moe = header("m.gguf", "gpt-oss", 38);
  EXPECT_EQ("bitnet_tl2", format_of(bitnet, 39));
  EXPECT_EQ("bitnet_i2_s", format_of(bitnet, 36));
  EXPECT_EQ("tq2_0", format_of(bitnet, 35));
  EXPECT_EQ("bitnet_i2_s", format_of(llama_i2s, 36));
  EXPECT_EQ("bitnet_tl2", format_of(llama_tl2, 39));
  for (const GgufFile* g : {&llama_q4, &bitnet_f16, &moe}) {
    EXPECT_EQ(nullptr, gguf_dialect_for(*g)) << g->path;
    EXPECT_EQ("mxfp4", format_of(*g, 39)) << g->path;
    EXPECT_EQ("(none)", format_of(*g, 36)) << g->path;
  }
}

TEST_F(BitnetGguf, MissingPiecesAreNamed) {
  auto refused = [](const std::string& path, const std::string& needle) {
    try {
      open_model_dir(path, ModelData::mapped);
      ADD_FAILURE() << path << " was accepted";
    } catch (const FileError& e) {
      EXPECT_NE(std::string::npos, std::string(e.what()).find(needle)) << e.what();
    }
  };
  // A TL file without its kernel config.
  const std::string tl1 = write("noconfig", "tl1");
  fs::remove(fs::path(tl1).parent_path() / "kernel_config.ini");
  refused(tl1, "kernel_config.ini");
  // A config without the shape's section.
  const std::string tl2 = write("othershape", "tl2");
  {
    std::ofstream out(fs::path(tl2).parent_path() / "kernel_config.ini", std::ios::trunc);
    out << "[Kernels_0]\nm = 999\nk = 256\nbm = 32\nbk = 96\nbmm = 32\n";
  }
  refused(tl2, "has no [Kernels_i] section with m = 256 and k = 256 (the shape of blk.0.attn_q.weight");
  // Tiles the format cannot take, and two sections that disagree: the config is blamed, by section.
  const std::string tiles = write("badtiles", "tl1");
  {
    std::ofstream out(fs::path(tiles).parent_path() / "kernel_config.ini", std::ios::trunc);
    out << "[Kernels_0]\nm = 256\nk = 256\nbm = 100\nbk = 64\nbmm = 32\n";
  }
  refused(tiles, "Kernels_0': gives");
  refused(tiles, "cannot take");
  {
    std::ofstream out(fs::path(tiles).parent_path() / "kernel_config.ini", std::ios::trunc);
    out << "[Kernels_0]\nm = 256\nk = 256\nbm = 128\nbk = 64\nbmm = 32\n\n[Kernels_1]\nm = 256\nk = 256\nbm = 64\nbk = 64\nbmm = 32\n";
  }
  refused(tiles, "is ambiguous");
  // A TL weight without its _scale tensor, and an I2_S weight whose rows are not 128-element blocks.
  bitnet::GgufModelOptions opt;
  opt.type = "tl1";
  opt.model.layers = 1;
  opt.model.hidden = 256;
  opt.model.intermediate = 384;
  opt.model.heads = 4;
  opt.model.kv_heads = 2;
  const std::string noscale = (root_ / "noscale" / "model.gguf").string();
  bitnet::write_gguf_model(noscale, opt);
  {
    // Rewrite the file without blk.0.attn_k.weight_scale: read it, then write it back from its parts.
    const GgufFile g = read_gguf(noscale, gguf_types_for);
    gguf_write::File f;
    f.metadata = {{"general.architecture", gguf_write::Value::string("bitnet-b1.58")},
                  {"general.file_type", gguf_write::Value::u32(38)}};
    for (const GgufTensor& t : g.tensors)
      if (t.name != "blk.0.attn_k.weight_scale")
        f.tensors.push_back({t.name, t.ne, t.type->id, std::vector<uint8_t>(t.data, t.data + t.nbytes), std::nullopt});
    f.write(noscale + ".tmp");
  }
  fs::rename(noscale + ".tmp", noscale);
  refused(noscale, "tensors.blk.0.attn_k.weight_scale");
  gguf_write::File bad;
  bad.metadata = {{"general.architecture", gguf_write::Value::string("bitnet")}, {"general.file_type", gguf_write::Value::u32(40)}};
  bad.tensors.push_back({"blk.0.attn_q.weight", {192, 4}, 36, std::vector<uint8_t>(192 + 32), std::nullopt});
  const std::string i2s = (root_ / "bad_i2s.gguf").string();
  bad.write(i2s);
  refused(i2s, "tensors.blk.0.attn_q.weight.ne[0]");
}

TEST_F(BitnetGguf, VerifyAndBenchRunOnIt) {
  const std::string i2s = write("cli_i2_s", "i2_s");
  const test::Command v = test::run_command(std::string(QB_VERIFY_BIN) + " " + i2s + " --threads 2");
  EXPECT_EQ(0, v.status) << v.output;
  EXPECT_NE(std::string::npos, v.output.find(" 0 failed")) << v.output;
  EXPECT_NE(std::string::npos, v.output.find("bitnet.cpp I2_S (type 36)")) << v.output;
  // TL2 has references only: a model layer has nothing to check them against, and verify says so.
  const test::Command t = test::run_command(std::string(QB_VERIFY_BIN) + " " + write("cli_tl2", "tl2") + " --threads 1");
  EXPECT_EQ(1, t.status) << t.output;
  EXPECT_NE(std::string::npos, t.output.find("bitnet.cpp TL2 (type 39) BK 192 BM 256)  nothing checked")) << t.output;
  const test::Command b = test::run_command(std::string(QB_BENCH_BIN) + " --model " + write("bench", "i2_s") +
                                            " --warm --threads 1 --benchmark_min_time=0.01 --benchmark_filter=ref");
  EXPECT_EQ(0, b.status) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("projected GEMV time per token")) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("bitnet_i2_s")) << b.output;
}

}  // namespace
}  // namespace qb

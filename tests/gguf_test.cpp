// The GGUF reader (harness/gguf.h) against the writer (fixtures/import/gguf_writer.h): every
// value type round trips, v2 and v3 read alike, each malformed file is refused with its named
// error (by the reader and by verify), hostile bytes give a FileError and nothing worse, and a
// GGUF file is verified as a model. Expected values are the writer's inputs, never the reader's.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "fixtures/import/ggml/gguf_fixtures.h"
#include "harness/family.h"
#include "harness/gguf.h"
#include "harness/model_dir.h"
#include "harness/safetensors.h"
#include "tests/run_command.h"

namespace qb {
namespace {

namespace fs = std::filesystem;
using gguf_write::File;
using gguf_write::Value;

const std::string kSource = QB_SOURCE_DIR;
const std::string kVerify = QB_VERIFY_BIN;

const std::vector<GgufTypeId>& types() { return gguf_types(); }

// A file in this process's own temporary folder, removed when the tests end.
std::string temp_path(const std::string& name) {
  static const struct Folder {
    fs::path path = fs::temp_directory_path() / ("qb_gguf_test_" + std::to_string(::getpid()));
    Folder() { fs::create_directories(path); }
    ~Folder() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } folder;
  return (folder.path / name).string();
}

GgufFile write_and_read(const File& f, const std::string& name) {
  const std::string path = temp_path(name);
  f.write(path);
  return read_gguf(path, types());
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(Gguf, EveryValueTypeRoundTrips) {
  const File f = gguf_write::tiny_mixed_model();
  const GgufFile g = write_and_read(f, "tiny.gguf");
  EXPECT_EQ(g.version, 3u);
  EXPECT_EQ(g.alignment, 32u);
  ASSERT_EQ(g.metadata.size(), f.metadata.size());
  for (std::size_t i = 0; i < f.metadata.size(); ++i) {
    EXPECT_EQ(g.metadata[i].first, f.metadata[i].first);
    EXPECT_EQ(g.metadata[i].second.type(), f.metadata[i].second.type);
    // The value's stored bytes are the writer's (strings with their length, arrays whole).
    EXPECT_EQ(std::vector<uint8_t>(g.metadata[i].second.bytes(), g.metadata[i].second.bytes() + g.metadata[i].second.nbytes()),
              f.metadata[i].second.bytes)
        << f.metadata[i].first;
  }
  // The accessors read the values the writer was given.
  EXPECT_EQ(g.find("general.architecture")->as_string(), "llama");
  EXPECT_EQ(g.find("general.alignment")->as_uint(), 32u);
  EXPECT_EQ(g.find("llama.embedding_length")->as_uint(), 256u);
  EXPECT_EQ(g.find("llama.rope.freq_base")->as_float(), 10000.0);
  EXPECT_EQ(g.find("llama.attention.layer_norm_rms_epsilon")->as_float(), 1e-5);
  EXPECT_TRUE(g.find("tokenizer.ggml.add_bos_token")->as_bool());
  EXPECT_EQ(g.find("quantbench.u8")->as_uint(), 200u);
  EXPECT_EQ(g.find("quantbench.i8")->as_int(), -100);
  EXPECT_EQ(g.find("quantbench.u16")->as_uint(), 60000u);
  EXPECT_EQ(g.find("quantbench.i16")->as_int(), -30000);
  EXPECT_EQ(g.find("quantbench.i32")->as_int(), -2000000000);
  EXPECT_EQ(g.find("quantbench.i64")->as_int(), -5000000000);
  EXPECT_THROW(g.find("quantbench.i64")->as_uint(), std::logic_error);
  const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens->element_type(), GgufValueType::string);
  const auto tok = tokens->elements();
  ASSERT_EQ(tok.size(), 3u);
  EXPECT_EQ(tok[0].as_string(), "<s>");
  EXPECT_EQ(tok[2].as_string(), "▁a");
  const auto scores = g.find("tokenizer.ggml.scores")->elements();
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_EQ(scores[2].as_float(), -2.25);
  const auto nested = g.find("quantbench.nested")->elements();
  ASSERT_EQ(nested.size(), 2u);
  ASSERT_EQ(nested[0].element_type(), GgufValueType::i32);
  EXPECT_EQ(nested[0].elements()[1].as_int(), -2);
  EXPECT_EQ(nested[1].element_type(), GgufValueType::string);
  EXPECT_EQ(nested[1].count(), 0u);

  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (std::size_t i = 0; i < f.tensors.size(); ++i) {
    const GgufTensor& t = g.tensors[i];
    EXPECT_EQ(t.name, f.tensors[i].name);
    EXPECT_EQ(t.ne, f.tensors[i].ne);
    EXPECT_EQ(t.type->id, f.tensors[i].type);
    EXPECT_EQ(t.offset % 32, 0u);
    ASSERT_EQ(t.nbytes, f.tensors[i].data.size()) << t.name;
    EXPECT_EQ(std::memcmp(t.data, f.tensors[i].data.data(), t.nbytes), 0) << t.name;
  }
  EXPECT_EQ(g.data_begin % 32, 0u);
}

// v2 and v3 share the little-endian layout: the same header reads alike but for the version.
TEST(Gguf, Version2AndVersion3ReadAlike) {
  File f = gguf_write::tiny_mixed_model();
  f.version = 2;
  const GgufFile v2 = write_and_read(f, "v2.gguf");
  f.version = 3;
  const GgufFile v3 = write_and_read(f, "v3.gguf");
  EXPECT_EQ(v2.version, 2u);
  EXPECT_EQ(v3.version, 3u);
  ASSERT_EQ(v2.metadata.size(), v3.metadata.size());
  for (std::size_t i = 0; i < v2.metadata.size(); ++i) {
    EXPECT_EQ(v2.metadata[i].first, v3.metadata[i].first);
    EXPECT_EQ(v2.metadata[i].second.nbytes(), v3.metadata[i].second.nbytes());
  }
  ASSERT_EQ(v2.tensors.size(), v3.tensors.size());
  for (std::size_t i = 0; i < v2.tensors.size(); ++i) {
    EXPECT_EQ(v2.tensors[i].offset, v3.tensors[i].offset);
    EXPECT_EQ(std::memcmp(v2.tensors[i].data, v3.tensors[i].data, v2.tensors[i].nbytes), 0);
  }
  // A big-endian file's version reads byte-swapped, and v4 does not exist.
  f.version = 0x03000000;
  EXPECT_THROW(write_and_read(f, "be.gguf"), FileError);
  f.version = 4;
  EXPECT_THROW(write_and_read(f, "v4.gguf"), FileError);
}

// general.alignment places the data section and every tensor; 2^k only.
TEST(Gguf, CustomAlignmentPlacesTheTensors) {
  File f = gguf_write::tiny_mixed_model();
  for (auto& [k, v] : f.metadata)
    if (k == "general.alignment") v = Value::u32(256);
  f.alignment = 256;
  const GgufFile g = write_and_read(f, "align256.gguf");
  EXPECT_EQ(g.alignment, 256u);
  EXPECT_EQ(g.data_begin % 256, 0u);
  for (const GgufTensor& t : g.tensors) EXPECT_EQ(t.offset % 256, 0u) << t.name;
  // Upstream requires a uint32.
  for (auto& [k, v] : f.metadata)
    if (k == "general.alignment") v = Value::u64(256);
  try {
    write_and_read(f, "align_u64.gguf");
    ADD_FAILURE() << "a uint64 general.alignment was accepted";
  } catch (const FileError& e) {
    EXPECT_EQ(e.field(), "metadata.general.alignment");
    EXPECT_NE(e.message().find("must be a uint32"), std::string::npos) << e.what();
  }
}

TEST(Gguf, EachMalformedCaseIsRefusedWithItsField) {
  for (const auto& c : gguf_write::malformed_cases()) {
    try {
      write_and_read(c.file, c.name + ".gguf");
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const FileError& e) {
      EXPECT_EQ(e.field(), c.field) << c.name << ": " << e.what();
      EXPECT_NE(e.message().find(c.message), std::string::npos) << c.name << ": " << e.what();
    }
  }
}

// fixtures/gguf is what make-gguf writes today.
TEST(Gguf, CommittedFixturesAreTheBuildersOutput) {
  EXPECT_EQ(file_bytes(kSource + "/fixtures/gguf/tiny_mixed.gguf"), gguf_write::tiny_mixed_model().bytes())
      << "rerun build/bin/make-gguf fixtures/gguf";
  for (const auto& c : gguf_write::malformed_cases())
    EXPECT_EQ(file_bytes(kSource + "/fixtures/gguf/malformed/" + c.name + ".gguf.malformed"), c.file.bytes())
        << c.name << ": rerun build/bin/make-gguf fixtures/gguf";
}

// verify names the file, the field and the cause of each, and exits 1.
TEST(Gguf, VerifyRefusesEachCommittedMalformedFile) {
  for (const auto& c : gguf_write::malformed_cases()) {
    const std::string path = kSource + "/fixtures/gguf/malformed/" + c.name + ".gguf.malformed";
    const test::Command r = test::run_command(kVerify + " " + path);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("FAIL  " + path + ": field '" + c.field + "': "), std::string::npos) << c.name << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.name << "\n" << r.output;
    EXPECT_NE(r.output.find("0 passed, 1 failed"), std::string::npos) << c.name << "\n" << r.output;
  }
}

// Every truncation of a valid file, and random byte changes in its header, give a file or a
// FileError: no crash (the sanitizer tier runs this too), no other exception, no huge allocation.
TEST(Gguf, HostileBytesGiveFileErrorsOnly) {
  const std::vector<uint8_t> good = gguf_write::tiny_mixed_model().bytes();
  const GgufFile g = write_and_read(gguf_write::tiny_mixed_model(), "hostile_base.gguf");
  const std::size_t header = g.data_begin;
  const std::string path = temp_path("hostile.gguf");
  auto attempt = [&](const std::vector<uint8_t>& bytes, const std::string& what) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(bytes.data()),
                                                                   static_cast<std::streamsize>(bytes.size()));
    try {
      read_gguf(path, types());
    } catch (const FileError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": " << e.what();
    }
  };
  for (std::size_t n = 0; n < good.size(); n += n < header + 64 ? 1 : 509)
    attempt(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)), "truncated to " + std::to_string(n));
  std::mt19937_64 rng(0x6706);
  for (int i = 0; i < 600; ++i) {
    std::vector<uint8_t> bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const std::size_t at = rng() % header;
      // Counts and lengths are where damage matters: often all-ones high bytes.
      bad[at] = rng() % 3 == 0 ? 0xff : static_cast<uint8_t>(rng());
    }
    attempt(bad, "mutation " + std::to_string(i));
  }
}

// A GGUF file is a model: each quantized tensor a layer (ne = [in, out, ...] -> rows = out x the
// further dims, cols = in), the unquantized ones counted by type.
TEST(Gguf, QuantizedTensorsBecomeLayers) {
  const ModelDir m = open_model_dir(kSource + "/fixtures/gguf/tiny_mixed.gguf", ModelData::headers_only);
  ASSERT_EQ(m.layers.size(), 7u);
  struct Want {
    const char* name;
    const char* format;
    int64_t rows, cols;
  };
  const Want want[] = {{"blk.0.attn_q.weight", "q4_0", 64, 256},
                       {"blk.0.attn_k.weight", "q8_0", 32, 256},
                       {"blk.0.attn_v.weight", "q4_K", 32, 256},
                       {"blk.0.attn_output.weight", "q6_K", 64, 256},
                       {"blk.0.ffn_down.weight", "q4_0", 64, 128},
                       {"blk.0.ffn_up.weight", "iq4_xs", 16, 256},
                       {"blk.0.ffn_gate_exps.weight", "q8_0", 32, 64}};
  for (std::size_t i = 0; i < std::size(want); ++i) {
    EXPECT_EQ(m.layers[i].spec.name, want[i].name);
    EXPECT_EQ(m.layers[i].spec.format, want[i].format);
    EXPECT_EQ(m.layers[i].weight.rows, want[i].rows) << want[i].name;
    EXPECT_EQ(m.layers[i].weight.cols, want[i].cols) << want[i].name;
  }
  for (std::size_t i = 0; i + 1 < std::size(want); ++i) EXPECT_EQ(m.layers[i].spec.experts, 1) << want[i].name;
  // The 3-D tensor holds 2 experts of 16x64, of which a token uses llama.expert_used_count = 1.
  EXPECT_EQ(m.layers.back().spec.experts, 2);
  EXPECT_EQ(m.layers.back().spec.experts_per_token, 1);
  const std::vector<std::pair<std::string, int64_t>> unq = {{"f16", 1}, {"f32", 3}};
  EXPECT_EQ(m.unquantized, unq);
}

TEST(Gguf, MoreExpertsPerTokenThanStoredIsRefused) {
  File f = gguf_write::tiny_mixed_model();
  for (auto& [key, value] : f.metadata)
    if (key == "llama.expert_used_count") value = Value::u32(3);
  const std::string path = temp_path("experts3.gguf");
  f.write(path);
  try {
    open_model_dir(path, ModelData::headers_only);
    FAIL() << "opened";
  } catch (const FileError& e) {
    EXPECT_EQ(e.field(), "metadata.llama.expert_used_count");
    EXPECT_NE(std::string(e.what()).find("more than the 2 experts of blk.0.ffn_gate_exps.weight"), std::string::npos) << e.what();
  }
}

TEST(Gguf, VerifyChecksTheModelAndSkipsUnquantizedTensors) {
  const std::string path = kSource + "/fixtures/gguf/tiny_mixed.gguf";
  const test::Command r = test::run_command(kVerify + " --threads 1 " + path);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("SKIP  " + path + "  f32  unquantized, no weight format checks it (3 tensors)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("SKIP  " + path + "  f16  unquantized, no weight format checks it (1 tensors)"), std::string::npos)
      << r.output;
  for (const char* layer : {"blk.0.attn_q.weight (64x256)", "blk.0.attn_v.weight (32x256)", "blk.0.attn_output.weight (64x256)",
                            "blk.0.ffn_up.weight (16x256)", "blk.0.ffn_gate_exps.weight (32x64)"})
    EXPECT_NE(r.output.find("PASS  " + path + "::" + layer), std::string::npos) << layer << "\n" << r.output;
  EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
}

// bench --model FILE.gguf: a row per distinct (type, shape), each format with its own variants
// (--benchmark_list_tests lists them without running, and without the bandwidth probe); --format
// keeps one format's layers. The MoE tensor is benched as one expert's matrix, x the experts a
// token uses.
TEST(Gguf, BenchModelListsEveryTypeAndShape) {
  const std::string path = kSource + "/fixtures/gguf/tiny_mixed.gguf";
  const test::Command all = test::run_command(std::string(QB_BENCH_BIN) + " --model " + path + " --isa scalar --benchmark_list_tests");
  ASSERT_EQ(all.status, 0) << all.output;
  for (const char* row : {"q4_0/gemv/q4_0_gemv_ref/64x256/attn_q.weight-x1/", "q8_0/gemv/q8_0_gemv_ref/32x256/attn_k.weight-x1/",
                          "q4_0/gemv/q4_0_gemv_ref/64x128/ffn_down.weight-x1/", "q4_K/gemv/q4_K_gemv_ref/32x256/attn_v.weight-x1/",
                          "q6_K/gemv/q6_K_gemv_ref/64x256/attn_output.weight-x1/", "iq4_xs/gemv/iq4_xs_gemv_ref/16x256/ffn_up.weight-x1/",
                          "q8_0/gemv/q8_0_gemv_ref/16x64/ffn_gate_exps.weight-x1/"})
    EXPECT_NE(all.output.find(row), std::string::npos) << row << "\n" << all.output;
  const test::Command one =
      test::run_command(std::string(QB_BENCH_BIN) + " --model " + path + " --format q8_0 --isa scalar --benchmark_list_tests");
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_EQ(one.output.find("q4_0/gemv/"), std::string::npos) << one.output;
  EXPECT_NE(one.output.find("q8_0/gemv/q8_0_gemv_ref/16x64/ffn_gate_exps.weight-x1/"), std::string::npos) << one.output;
}

}  // namespace
}  // namespace qb

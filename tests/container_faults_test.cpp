// Every container reader refuses malformed input with a FileError naming the file, the field and
// the real cause: safetensors headers parsed exactly as strictly as the format defines them
// (duplicate keys, padding, UTF-8, nesting), model directories (config.json, the shard index,
// EXL3 tensor_storage) and upstream vector manifests (wrong JSON types, sizes that overflow).
// Each bad input is a few hundred bytes written into a temporary folder.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fixtures/import/exl3/exl3_model_writer.h"
#include "fixtures/import/import_vectors.h"
#include "harness/json_field.h"
#include "harness/model_dir.h"
#include "harness/safetensors.h"
#include "reference/exl3/exl3.h"

namespace qb {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() /
            ("qb_container_faults_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write_text(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

  fs::path root_;
};

// ---- safetensors -----------------------------------------------------------------------------

// The 8-byte little-endian length, the header text exactly as given, then `data` bytes.
std::string safetensors_bytes(const std::string& header, std::size_t data = 0) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + std::string(data, '\0');
}

// A valid one-tensor header: "w", U8, 4 bytes.
const std::string kTensor = R"("w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]})";

class Safetensors : public TempDir {
 protected:
  std::string file(const std::string& header, std::size_t data = 4) {
    const fs::path p = root_ / "bad.safetensors";
    write_text(p, safetensors_bytes(header, data));
    return p.string();
  }

  // Both readers share one parser: each must refuse the file with the same file, field and cause.
  void expect_refused(const std::string& header, const std::string& field, const std::string& cause,
                      std::size_t data = 4) {
    const std::string path = file(header, data);
    for (const auto& read : {std::function<void()>([&] { read_safetensors(path); }),
                             std::function<void()>([&] { read_safetensors_header(path); })}) {
      try {
        read();
        ADD_FAILURE() << "accepted header " << header;
      } catch (const FileError& e) {
        EXPECT_EQ(e.file(), path) << e.what();
        EXPECT_EQ(e.field(), field) << e.what();
        EXPECT_NE(std::string(e.what()).find(cause), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      }
    }
  }
};

TEST_F(Safetensors, ValidHeaderWithSpacePaddingLoads) {
  const std::string path = file("{" + kTensor + R"(,"__metadata__":{"format":"pt"}})" + "      ");
  const SafetensorsFile f = read_safetensors(path);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].name, "w");
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(read_safetensors_header(path).tensors.size(), 1u);
}

TEST_F(Safetensors, DuplicateMetadataIsRefused) {
  expect_refused("{" + kTensor + R"(,"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}})", "__metadata__",
                 "duplicate key '__metadata__'");
}

TEST_F(Safetensors, DuplicateTensorNameIsRefused) {
  // The second "w" would win silently and leave bytes 0..4 unclaimed ("hole at byte 0").
  expect_refused("{" + kTensor + R"(,"w":{"dtype":"I8","shape":[4],"data_offsets":[4,8]}})", "tensors.w",
                 "duplicate tensor name 'w'", 8);
}

// Overlaps and holes name the tensor that begins in the wrong place and its neighbour.
TEST_F(Safetensors, OverlapsAndHolesNameTheTensors) {
  expect_refused("{" + kTensor + R"(,"v":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", "tensors.v.data_offsets",
                 "begins at byte 2, inside tensor 'w' (bytes 0..4)", 6);
  expect_refused("{" + kTensor + R"(,"v":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})", "tensors.v.data_offsets",
                 "begins at byte 6, leaving a hole of 2 bytes after tensor 'w'", 10);
  expect_refused(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[1,5]}})", "tensors.w.data_offsets",
                 "leaving a hole of 1 bytes after the header", 5);
}

TEST_F(Safetensors, NestedDuplicateKeysAreRefused) {
  expect_refused(R"({"w":{"dtype":"U8","dtype":"I8","shape":[4],"data_offsets":[0,4]}})", "tensors.w.dtype",
                 "duplicate key 'dtype'");
  expect_refused("{" + kTensor + R"(,"__metadata__":{"a":"1","a":"2"}})", "__metadata__.a", "duplicate key 'a'");
}

TEST_F(Safetensors, HeaderMustBeginWithBrace) {
  expect_refused(" {" + kTensor + "}", "header", "must begin with '{' but byte 0x20 is at header offset 0");
  expect_refused("[]", "header", "must begin with '{' but byte 0x5b", 0);
  expect_refused("", "header", "is empty", 0);
}

TEST_F(Safetensors, OnlySpacePaddingMayFollowTheObject) {
  const std::string object = "{" + kTensor + "}";
  const std::string offset = "at header offset " + std::to_string(object.size());
  expect_refused(object + "\t", "header", "byte 0x09 " + offset + " after the JSON object: only 0x20 padding is allowed");
  expect_refused(object + "  \n", "header", "byte 0x0a at header offset " + std::to_string(object.size() + 2));
  expect_refused(object + std::string(1, '\0'), "header", "byte 0x00 " + offset);
  expect_refused(object + "x", "header", "byte 0x78 " + offset);
  expect_refused(object + "{}", "header", "byte 0x7b " + offset);
}

TEST_F(Safetensors, InvalidUtf8IsRefused) {
  // 0xff never appears in UTF-8; C0 AF is an overlong '/'; ED A0 80 a UTF-16 surrogate.
  for (const std::string& bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    const std::string header = R"({"__metadata__":{"a":")" + bad + R"("},)" + kTensor + "}";
    expect_refused(header, "header", "at header offset 22 is not valid UTF-8");
  }
}

TEST_F(Safetensors, DeepNestingIsRefused) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  // 64 containers are open (the header, __metadata__, 62 arrays) when the 65th starts.
  std::string field = "__metadata__.a";
  for (int i = 0; i < 62; ++i) field += "[0]";
  expect_refused(R"({"__metadata__":{"a":)" + deep + "}," + kTensor + "}", field, "nested deeper than 64 levels");
}

TEST_F(Safetensors, WrongJsonTypesNameTheField) {
  expect_refused(R"({"w":5})", "tensors.w", "is the number 5, expected an object");
  expect_refused(R"({"w":{"dtype":5,"shape":[4],"data_offsets":[0,4]}})", "tensors.w.dtype",
                 "is the number 5, expected a string");
  expect_refused(R"({"w":{"dtype":"U8","shape":["4"],"data_offsets":[0,4]}})", "tensors.w.shape[0]",
                 "expected an integer");
  expect_refused(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[-1,4]}})", "tensors.w.data_offsets[0]",
                 "expected a non-negative integer");
  expect_refused(R"({"w":{"dtype":"U8","shape":[4]}})", "tensors.w.data_offsets", "missing");
  expect_refused("{" + kTensor + R"(,"__metadata__":{"a":1}})", "__metadata__.a", "expected a string");
  expect_refused("{" + kTensor + R"(,"__metadata__":[]})", "__metadata__", "expected an object");
}

TEST_F(Safetensors, OverflowingShapesAreRefusedAtTheShape) {
  expect_refused(R"({"w":{"dtype":"U8","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})",
                 "tensors.w.shape", "element count overflows 64 bits");
  // 2^40 * 2^21 elements fit, their 8-byte F64 size does not.
  expect_refused(R"({"w":{"dtype":"F64","shape":[1099511627776,2097152],"data_offsets":[0,4]}})",
                 "tensors.w.shape", "byte count");
}

// ---- model directories -----------------------------------------------------------------------

class ModelDirFaults : public TempDir {
 protected:
  // One EXL3 linear layer (k = 256, n = 128, 2 bits, mcg) and a norm, written as upstream would.
  std::string write(int shards = 1) {
    ojson qc = {{"quant_method", "exl3"}, {"version", "0.0.32"}, {"bits", 2}};
    qc["tensor_storage"]["fc"] = exl3::mcg_linear_storage("fc", 256, 128, 2);
    qc["tensor_storage"]["norm"] = {{"stored_tensors", {{"norm.weight", {{"shape", {128}}, {"dtype", "torch.bfloat16"}}}}}};
    exl3::ModelOptions opt;
    opt.shards = shards;
    const std::string dir = (root_ / "model").string();
    exl3::write_model(qc, dir, opt);
    return dir;
  }

  static ojson read_json(const fs::path& p) { return parse_json_file<ojson>(p.string()); }
  static void write_json(const fs::path& p, const ojson& j) { std::ofstream(p) << j.dump(1); }

  // config.json edited through `f`.
  template <typename F>
  static void edit_config(const std::string& dir, F&& f) {
    const fs::path p = fs::path(dir) / "config.json";
    ojson j = read_json(p);
    f(j["quantization_config"]);
    write_json(p, j);
  }

  static void expect_refused(const std::string& dir, const std::string& file, const std::string& field,
                             const std::string& cause) {
    try {
      open_model_dir(dir, ModelData::mapped);
      ADD_FAILURE() << "opened " << dir;
    } catch (const FileError& e) {
      EXPECT_EQ(fs::path(e.file()).filename(), fs::path(file).filename()) << e.what();
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(cause), std::string::npos) << e.what();
    }
  }
};

TEST_F(ModelDirFaults, WrittenModelOpens) {
  const std::string dir = write(2);
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0].spec.rows, 128);
  EXPECT_EQ(m.layers[0].spec.cols, 256);
}

TEST_F(ModelDirFaults, ConfigJsonWrongTypes) {
  const std::string dir = write();
  edit_config(dir, [](ojson& qc) { qc["quant_method"] = 3; });
  expect_refused(dir, "config.json", "quantization_config.quant_method", "is the number 3, expected a string");

  ojson j = read_json(fs::path(dir) / "config.json");
  j["quantization_config"] = 7;
  write_json(fs::path(dir) / "config.json", j);
  expect_refused(dir, "config.json", "quantization_config", "is the number 7, expected an object");

  write_text(fs::path(dir) / "config.json", "[1, 2]");
  expect_refused(dir, "config.json", "", "is an array of 2, expected an object");
}

TEST_F(ModelDirFaults, ConfigJsonDuplicateKeysAndBadTextAreRefused) {
  const std::string dir = write();
  write_text(fs::path(dir) / "config.json",
             R"({"quantization_config": {"quant_method": "exl3", "quant_method": "gptq"}})");
  expect_refused(dir, "config.json", "quantization_config.quant_method", "duplicate key 'quant_method'");
  write_text(fs::path(dir) / "config.json", "{\"quantization_config\": {\"quant_method\": \"ex\xffl3\"}}");
  expect_refused(dir, "config.json", "", "byte 0xff at byte 44 is not valid UTF-8");
  write_text(fs::path(dir) / "config.json", R"({"quantization_config": })");
  expect_refused(dir, "config.json", "", "not valid JSON: parse error at line 1, column 25");
}

TEST_F(ModelDirFaults, IndexJsonWrongTypesAndDuplicates) {
  const std::string dir = write(2);
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const ojson good = read_json(index);

  ojson j = good;
  j["weight_map"] = ojson::array();
  write_json(index, j);
  expect_refused(dir, index.string(), "weight_map", "is an array of 0, expected an object");

  j = good;
  j["weight_map"]["fc.suh"] = 1;
  write_json(index, j);
  expect_refused(dir, index.string(), "weight_map.fc.suh", "is the number 1, expected a string");

  write_text(index, R"({"weight_map": {"fc.suh": "a.safetensors", "fc.suh": "b.safetensors"}})");
  expect_refused(dir, index.string(), "weight_map.fc.suh", "duplicate key 'fc.suh'");

  write_text(index, R"({"metadata": {}})");
  expect_refused(dir, index.string(), "weight_map", "missing");
}

TEST_F(ModelDirFaults, TensorStorageWrongTypesAtEachLevel) {
  struct Case {
    std::function<void(ojson&)> edit;
    std::string field, cause;
  };
  const std::vector<Case> cases = {
      {[](ojson& qc) { qc["tensor_storage"] = 5; }, "tensor_storage", "is the number 5, expected an object"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"] = 5; }, "tensor_storage.fc", "is the number 5, expected an object"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["stored_tensors"] = 5; }, "tensor_storage.fc.stored_tensors",
       "is the number 5, expected an object"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["stored_tensors"]["fc.trellis"] = 5; },
       "tensor_storage.fc.stored_tensors.fc.trellis", "is the number 5, expected an object"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["stored_tensors"]["fc.suh"] = 5; },
       "tensor_storage.fc.stored_tensors.fc.suh", "is the number 5, expected an object"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["stored_tensors"]["fc.suh"]["dtype"] = 5; },
       "tensor_storage.fc.stored_tensors.fc.suh.dtype", "is the number 5, expected a string"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["stored_tensors"]["fc.suh"]["shape"] = {"256"}; },
       "tensor_storage.fc.stored_tensors.fc.suh.shape[0]", "expected an integer"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["stored_tensors"]["fc.suh"].erase("shape"); },
       "tensor_storage.fc.stored_tensors.fc.suh.shape", "missing"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["stored_tensors"]["fc.trellis"]["shape"] = 5; },
       "tensor_storage.fc.stored_tensors.fc.trellis.shape", "is the number 5, expected an array"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["bits_per_weight"] = "2"; }, "tensor_storage.fc.bits_per_weight",
       "expected a number"},
      {[](ojson& qc) { qc["tensor_storage"]["fc"]["mcg_multiplier"] = "0xcbac1fed"; },
       "tensor_storage.fc.mcg_multiplier", "expected an integer"},
      // k = n = 2^44: k*n fp64 bytes do not fit in 64 bits.
      {[](ojson& qc) {
         qc["tensor_storage"]["fc"]["stored_tensors"]["fc.trellis"]["shape"] = {int64_t{1} << 40, int64_t{1} << 40, 32};
       },
       "tensor_storage.fc.stored_tensors.fc.trellis.shape", "overflow 64-bit byte counts"},
  };
  for (const Case& c : cases) {
    const std::string dir = write();
    edit_config(dir, c.edit);
    expect_refused(dir, "config.json", c.field, c.cause);
    fs::remove_all(dir);
  }
}

TEST_F(ModelDirFaults, ConfigLayersAloneRefuseOverflowingShapes) {
  ojson qc = {{"quant_method", "exl3"}};
  qc["tensor_storage"]["fc"]["stored_tensors"]["fc.trellis"] = {{"shape", {int64_t{1} << 59, 2, 32}},
                                                                {"dtype", "torch.int16"}};
  try {
    exl3::config_layers(qc, "q.json");
    ADD_FAILURE() << "accepted";
  } catch (const FileError& e) {
    EXPECT_EQ(e.field(), "tensor_storage.fc.stored_tensors.fc.trellis.shape") << e.what();
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos) << e.what();
  }
}

TEST_F(ModelDirFaults, DuplicateTensorInAShardIsRefused) {
  const std::string dir = write();
  const fs::path file = fs::path(dir) / "model.safetensors";
  SafetensorsFile s = read_safetensors(file.string());
  s.tensors.push_back(s.tensors.front());
  // The writer refuses it too: it would write one header entry for two tensors' data.
  EXPECT_THROW(write_safetensors(file.string(), s), FileError);
}

// ---- upstream vector manifests ---------------------------------------------------------------

class ManifestFaults : public TempDir {
 protected:
  // A GGML type folder holding only manifest.json (no data files: every check here fires first).
  fs::path ggml(const nlohmann::json& edits) {
    nlohmann::json m = {{"type", "q4_0"},       {"ggml_type_id", 2}, {"block_size", 32}, {"bytes_per_block", 18},
                        {"row_length", 64},     {"rows", 2},         {"row_bytes", 36},  {"vec_dot_type", "q8_0"},
                        {"cases", {{{"name", "foo"}, {"encodings", nlohmann::json::array()}}}}};
    m.merge_patch(edits);
    const fs::path dir = root_ / "src" / "q4_0";
    write_text(dir / "manifest.json", m.dump());
    return dir;
  }
  // An EXL3 case folder holding only manifest.json.
  fs::path exl3_case(const nlohmann::json& edits) {
    nlohmann::json m = {{"format", "exl3"},       {"case_kind", "decode"},  {"bits_per_weight", 2},
                        {"codebook", "3inst"},    {"in_features", 256},     {"out_features", 128},
                        {"trellis_shape", {16, 8, 32}}, {"files", nlohmann::json::object()}};
    m.merge_patch(edits);
    const fs::path dir = root_ / "src" / "case1";
    write_text(dir / "manifest.json", m.dump());
    return dir;
  }

  // import-vectors reports one failure naming the manifest, the field and the cause.
  void expect_failed(const fs::path& src, const std::string& needle) {
    const import::ImportReport r = import::import_vectors(src.string(), (root_ / "out").string());
    ASSERT_EQ(r.failed.size(), 1u) << (r.failed.empty() ? std::string("no failure") : r.failed.back());
    EXPECT_NE(r.failed[0].find(needle), std::string::npos) << r.failed[0];
    EXPECT_TRUE(r.written.empty());
  }
};

TEST_F(ManifestFaults, GgmlOverflowingSizesNameTheField) {
  // rows = 2^40, row_length = 2^37: the product wraps to 0 in 64 bits.
  expect_failed(ggml({{"rows", int64_t{1} << 40}, {"row_length", int64_t{1} << 37}, {"row_bytes", int64_t{9} << 33}}),
                "q4_0/manifest.json: rows: rows*row_length = 1099511627776*137438953472 overflows 64 bits");
  // The product fits, its fp32 byte count does not.
  expect_failed(ggml({{"rows", int64_t{1} << 30}, {"row_length", int64_t{1} << 32}, {"row_bytes", int64_t{9} << 28}}),
                "q4_0/manifest.json: rows: rows*row_length*4 = 4611686018427387904*4 overflows 64 bits");
}

// A non-positive row count is refused at rows, not at the row_length the layout then checks.
TEST_F(ManifestFaults, GgmlRowsMustBePositive) {
  expect_failed(ggml({{"rows", 0}}), "q4_0/manifest.json: rows: must be positive, got 0");
  expect_failed(ggml({{"rows", -8}}), "q4_0/manifest.json: rows: must be positive, got -8");
}

TEST_F(ManifestFaults, GgmlWrongTypesNameTheField) {
  expect_failed(ggml({{"rows", "2"}}), "q4_0/manifest.json: rows: is the string \"2\", expected an integer");
  expect_failed(ggml({{"rows", 2.5}}), "q4_0/manifest.json: rows: is the number 2.5, expected an integer");
  expect_failed(ggml({{"rows", 18446744073709551615ull}}), "q4_0/manifest.json: rows: is 18446744073709551615, above");
  expect_failed(ggml({{"cases", 5}}), "q4_0/manifest.json: cases: is the number 5, expected an array");
  expect_failed(ggml({{"type", 4}}), "q4_0/manifest.json: type: is the number 4, expected a string");
}

TEST_F(ManifestFaults, GgmlDuplicateKeysAreRefused) {
  const fs::path dir = ggml(nlohmann::json::object());
  std::string text;
  {
    std::ifstream in(dir / "manifest.json");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The case named twice: which one wins would be the parser's choice.
  const auto at = text.find(R"("name":"foo")");
  ASSERT_NE(at, std::string::npos);
  text.insert(at, R"("name":"bar",)");
  write_text(dir / "manifest.json", text);
  expect_failed(dir, "q4_0/manifest.json: cases[0].name: duplicate key 'name'");
}

TEST_F(ManifestFaults, Exl3OverflowingSizesNameTheField) {
  expect_failed(exl3_case({{"in_features", int64_t{1} << 40}, {"out_features", int64_t{1} << 40}}),
                "case1/manifest.json: in_features: in_features*out_features = 1099511627776*1099511627776 overflows");
}

TEST_F(ManifestFaults, Exl3WrongTypesNameTheField) {
  expect_failed(exl3_case({{"bits_per_weight", "2"}}),
                "case1/manifest.json: bits_per_weight: is the string \"2\", expected an integer");
  expect_failed(exl3_case({{"trellis_shape", 5}}), "case1/manifest.json: trellis_shape: is the number 5, expected an array");
  expect_failed(exl3_case({{"trellis_shape", {16, -8, 32}}}),
                "case1/manifest.json: trellis_shape[1]: is -8, a dimension cannot be negative");
  expect_failed(exl3_case({{"codebook", 3}}), "case1/manifest.json: codebook: is the number 3, expected a string");
}

}  // namespace
}  // namespace qb

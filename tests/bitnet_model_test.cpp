// BitNet b1.58 Hugging Face checkpoints: what make-bitnet-model's writer produces reads back as
// 2B-4T's seven projections per layer at the seed's shapes (../shared/seeds/002) with the
// weight_scale rule its linear_class declares, verify and bench --model run on it, and every
// malformed checkpoint is refused with the file and the field named.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "tests/temp_dir_test.h"

#include "tests/run_command.h"

#include "fixtures/import/bitnet/bitnet_model_writer.h"
#include "fixtures/import/model_shards.h"
#include "harness/family.h"
#include "harness/json_field.h"
#include "harness/model_dir.h"
#include "harness/safetensors.h"
#include "reference/bitnet/bitnet.h"
#include "reference/common/half.h"

namespace qb {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

class BitnetModel : public test::TempDirTest {
 protected:
  std::string write(const std::string& name, const bitnet::ModelOptions& opt) {
    const std::string dir = (root_ / name).string();
    bitnet::write_model(dir, opt);
    return dir;
  }
  // A small model for the malformed cases: hidden 256, 4 heads of 64, 2 KV heads, MLP 640.
  std::string small(const std::string& name, int layers = 1) {
    bitnet::ModelOptions opt;
    opt.layers = layers;
    opt.hidden = 256;
    opt.intermediate = 640;
    opt.heads = 4;
    opt.kv_heads = 2;
    opt.vocab = 64;
    return write(name, opt);
  }

  // Rewrites the directory's single safetensors file through `edit`.
  template <class F>
  void edit_weights(const std::string& dir, F edit) {
    const std::string path = dir + "/model.safetensors";
    SafetensorsFile f = read_safetensors(path);
    edit(f.tensors);
    write_safetensors(path, f);
  }
  static OwnedTensor& tensor(std::vector<OwnedTensor>& ts, const std::string& name) {
    const auto it = std::find_if(ts.begin(), ts.end(), [&](const OwnedTensor& t) { return t.name == name; });
    if (it == ts.end()) throw std::logic_error("no tensor " + name);
    return *it;
  }
  template <class F>
  void edit_config(const std::string& dir, F edit) {
    const std::string path = dir + "/config.json";
    ojson cfg = parse_json_file<ojson>(path);
    edit(cfg);
    import::write_json_file(path, cfg);
  }

  // open_model_dir refuses `dir` with a FileError whose file ends with `file` and whose field is `field`.
  static void expect_refused(const std::string& dir, const std::string& file, const std::string& field,
                             const std::string& needle = "") {
    try {
      open_model_dir(dir, ModelData::mapped);
      ADD_FAILURE() << dir << " accepted (expected " << field << ")";
    } catch (const FileError& e) {
      EXPECT_TRUE(ends_with(e.file(), file)) << e.what();
      EXPECT_EQ(field, e.field()) << e.what();
      EXPECT_NE(std::string::npos, std::string(e.what()).find(needle)) << e.what();
    }
  }
  static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
};

// The seed's per-layer projections (2B-4T, ../shared/seeds/002): out x in.
const std::map<std::string, std::pair<int64_t, int64_t>> kSeedShapes = {
    {"self_attn.q_proj", {2560, 2560}}, {"self_attn.k_proj", {640, 2560}},  {"self_attn.v_proj", {640, 2560}},
    {"self_attn.o_proj", {2560, 2560}}, {"mlp.gate_proj", {6912, 2560}},    {"mlp.up_proj", {6912, 2560}},
    {"mlp.down_proj", {2560, 6912}}};

float scale_of(const ModelLayer& l) {
  uint16_t h;
  std::memcpy(&h, l.weight.tensor("weight_scale").data, 2);
  return bits_to_f32(static_cast<uint32_t>(h) << 16);
}

std::string kind_of(const std::string& name) {  // "model.layers.1.mlp.up_proj" -> "mlp.up_proj"
  const std::size_t at = name.find('.', std::string("model.layers.").size());
  return name.substr(at + 1);
}

TEST_F(BitnetModel, WrittenDirectoryReadsBackAtTheSeedShapes) {
  const std::string dir = write("seed", bitnet::ModelOptions{});
  // The seed's tensor names, dtypes and packed shapes.
  const SafetensorsHeader h = read_safetensors_header(dir + "/model.safetensors");
  std::map<std::string, const TensorEntry*> by_name;
  for (const TensorEntry& t : h.tensors) by_name[t.name] = &t;
  EXPECT_EQ(2u * 18 + 1, h.tensors.size());  // per layer 7 x 2 + 4 norms; model.norm
  const TensorEntry* down = by_name.at("model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(DType::U8, down->dtype);
  EXPECT_EQ((std::vector<int64_t>{640, 6912}), down->shape);
  EXPECT_EQ((std::vector<int64_t>{160, 2560}), by_name.at("model.layers.1.self_attn.k_proj.weight")->shape);
  EXPECT_EQ((std::vector<int64_t>{1728, 2560}), by_name.at("model.layers.1.mlp.gate_proj.weight")->shape);
  EXPECT_EQ(DType::BF16, by_name.at("model.layers.0.self_attn.q_proj.weight_scale")->dtype);
  EXPECT_EQ((std::vector<int64_t>{1}), by_name.at("model.layers.0.self_attn.q_proj.weight_scale")->shape);
  EXPECT_EQ((std::vector<int64_t>{6912}), by_name.at("model.layers.1.mlp.ffn_sub_norm.weight")->shape);
  EXPECT_EQ((std::vector<int64_t>{2560}), by_name.at("model.layers.1.self_attn.attn_sub_norm.weight")->shape);
  EXPECT_EQ(DType::BF16, by_name.at("model.norm.weight")->dtype);
  EXPECT_FALSE(by_name.count("model.embed_tokens.weight"));

  for (const ModelData data : {ModelData::mapped, ModelData::headers_only}) {
    const ModelDir m = open_model_dir(dir, data);
    ASSERT_EQ(14u, m.layers.size());
    ASSERT_NE(nullptr, m.family);
    EXPECT_EQ("bitnet", m.family->id);
    std::map<std::string, int> seen;
    for (const ModelLayer& l : m.layers) {
      EXPECT_EQ("bitnet_hf", l.spec.format);
      const std::string kind = kind_of(l.spec.name);
      ASSERT_TRUE(kSeedShapes.count(kind)) << l.spec.name;
      EXPECT_EQ(kSeedShapes.at(kind).first, l.spec.rows) << l.spec.name;
      EXPECT_EQ(kSeedShapes.at(kind).second, l.spec.cols) << l.spec.name;
      EXPECT_EQ(nlohmann::json({{"scale_rule", "multiply"}}), l.spec.params) << l.spec.name;
      EXPECT_NE(std::string::npos, l.spec.summary.find("autobitlinear")) << l.spec.summary;
      ++seen[kind];
    }
    for (const auto& [kind, shape] : kSeedShapes) EXPECT_EQ(2, seen[kind]) << kind;
  }

  // weight_scale ~ mean|W| of 2B-4T (about 1.5) under autobitlinear's multiply rule.
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  for (const ModelLayer& l : m.layers) {
    const float s = scale_of(l);
    EXPECT_GE(s, 1.25f) << l.spec.name;
    EXPECT_LE(s, 1.85f) << l.spec.name;
  }

  // bench --model config.json: the config alone declares the same layers.
  std::string config_file;
  const ojson qc = load_quant_config(dir, &config_file);
  std::vector<LayerSpec> declared = bitnet::config_layers(qc, config_file);
  ASSERT_EQ(m.layers.size(), declared.size());
  for (const ModelLayer& l : m.layers) {
    const auto d = std::find_if(declared.begin(), declared.end(), [&](const LayerSpec& s) { return s.name == l.spec.name; });
    ASSERT_NE(declared.end(), d) << l.spec.name;
    EXPECT_EQ(l.spec.rows, d->rows);
    EXPECT_EQ(l.spec.cols, d->cols);
    EXPECT_EQ(l.spec.params, d->params);
  }
}

TEST_F(BitnetModel, ScaleRuleFollowsLinearClass) {
  for (const auto& [linear_class, rule] : std::vector<std::pair<std::string, std::string>>{
           {"autobitlinear", "multiply"}, {"bitlinear", "divide"}, {"", "divide"}}) {
    bitnet::ModelOptions opt;
    opt.layers = 1;
    opt.hidden = 256;
    opt.intermediate = 640;
    opt.heads = 4;
    opt.kv_heads = 2;
    opt.linear_class = linear_class;
    const std::string dir = write("class_" + (linear_class.empty() ? std::string("absent") : linear_class), opt);
    const ModelDir m = open_model_dir(dir, ModelData::mapped);
    ASSERT_EQ(7u, m.layers.size());
    for (const ModelLayer& l : m.layers) {
      EXPECT_EQ(nlohmann::json({{"scale_rule", rule}}), l.spec.params) << linear_class;
      // The writer stores mean|W| (multiply) or its reciprocal (divide).
      const float s = scale_of(l);
      EXPECT_TRUE(rule == "multiply" ? s > 1.2f : s < 0.8f) << linear_class << " " << s;
    }
  }
}

// out_features not a multiple of 4 (spec 2: padding fields decode to -1 and are sliced off): 5 heads
// of 50, one KV head (k/v out 50: 13 packed rows), MLP 630 (158 packed rows).
TEST_F(BitnetModel, OutFeaturesComeFromTheConfig) {
  bitnet::ModelOptions opt;
  opt.layers = 1;
  opt.hidden = 250;
  opt.intermediate = 630;
  opt.heads = 5;
  opt.kv_heads = 1;
  const std::string dir = write("odd", opt);
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  std::map<std::string, std::pair<int64_t, int64_t>> got;
  for (const ModelLayer& l : m.layers) got[kind_of(l.spec.name)] = {l.spec.rows, l.spec.cols};
  EXPECT_EQ((std::pair<int64_t, int64_t>{50, 250}), got.at("self_attn.k_proj"));
  EXPECT_EQ((std::pair<int64_t, int64_t>{630, 250}), got.at("mlp.up_proj"));
  EXPECT_EQ((std::pair<int64_t, int64_t>{250, 630}), got.at("mlp.down_proj"));

  // head_dim stated in config.json wins over hidden / heads: 5 x 40 = 200 q outputs do not fit 63 packed rows.
  edit_config(dir, [](ojson& c) { c["head_dim"] = 40; });
  expect_refused(dir, "model.safetensors", "tensors.model.layers.0.self_attn.k_proj.weight.shape", "head_dim 40");

  // A module of another name: out = 4 x packed rows, and its summary says so.
  const std::string extra = small("extra");
  edit_weights(extra, [](std::vector<OwnedTensor>& ts) {
    OwnedTensor w{"model.layers.0.mlp.extra_proj.weight", DType::U8, {3, 256}, std::vector<uint8_t>(3 * 256, 0x55)};
    OwnedTensor s{"model.layers.0.mlp.extra_proj.weight_scale", DType::BF16, {1}, {0xc0, 0x3f}};
    ts.push_back(std::move(w));
    ts.push_back(std::move(s));
  });
  const ModelDir e = open_model_dir(extra, ModelData::mapped);
  const auto it = std::find_if(e.layers.begin(), e.layers.end(),
                               [](const ModelLayer& l) { return l.spec.name == "model.layers.0.mlp.extra_proj"; });
  ASSERT_NE(e.layers.end(), it);
  EXPECT_EQ(12, it->spec.rows);
  EXPECT_EQ(256, it->spec.cols);
  EXPECT_NE(std::string::npos, it->spec.summary.find("4 x 3 packed rows")) << it->spec.summary;
}

TEST_F(BitnetModel, VerifyAndBenchRunOnIt) {
  // One layer at the seed's shapes (q/k/v/o, gate/up, down) for bench; verify on the odd-sized
  // model (padding rows, uneven thread splits) and the seed shapes at 2 threads.
  bitnet::ModelOptions opt;
  opt.layers = 1;
  const std::string seed = write("seed1", opt);
  opt.hidden = 250;
  opt.intermediate = 630;
  opt.heads = 5;
  opt.kv_heads = 1;
  const std::string odd = write("odd", opt);
  for (const std::string& dir : {odd, seed}) {
    const test::Command v = test::run_command(std::string(QB_VERIFY_BIN) + " " + dir + " --threads 2");
    EXPECT_EQ(0, v.status) << v.output;
    EXPECT_NE(std::string::npos, v.output.find(" 0 failed")) << v.output;
    EXPECT_NE(std::string::npos, v.output.find("bitnet_hf_gemv")) << v.output;
  }
  const test::Command b = test::run_command(std::string(QB_BENCH_BIN) + " --model " + seed +
                                            " --threads 1 --benchmark_min_time=0.01 --benchmark_filter=ref");
  EXPECT_EQ(0, b.status) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("projected GEMV time per token")) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("7 bitnet_hf layers")) << b.output;
  // The config alone (Family::config_layers): no weight file read (--warm: no 1 GiB rotation).
  const test::Command c = test::run_command(std::string(QB_BENCH_BIN) + " --model " + seed +
                                            "/config.json --warm --threads 1 --benchmark_min_time=0.01 --benchmark_filter=ref");
  EXPECT_EQ(0, c.status) << c.output;
  EXPECT_NE(std::string::npos, c.output.find("7 bitnet_hf layers")) << c.output;
}

TEST_F(BitnetModel, MalformedCheckpointsNameTheFileAndField) {
  const std::string q = "model.layers.0.self_attn.q_proj";

  const std::string dtype = small("dtype");
  edit_weights(dtype, [&](std::vector<OwnedTensor>& ts) { tensor(ts, q + ".weight").dtype = DType::I8; });
  expect_refused(dtype, "model.safetensors", "tensors." + q + ".weight.dtype", "expected U8");

  const std::string missing = small("missing");
  edit_weights(missing, [&](std::vector<OwnedTensor>& ts) {
    ts.erase(std::find_if(ts.begin(), ts.end(), [&](const OwnedTensor& t) { return t.name == q + ".weight_scale"; }));
  });
  expect_refused(missing, "model.safetensors", "tensors." + q + ".weight_scale", "missing");

  const std::string orphan = small("orphan");
  edit_weights(orphan, [&](std::vector<OwnedTensor>& ts) {
    ts.erase(std::find_if(ts.begin(), ts.end(), [&](const OwnedTensor& t) { return t.name == q + ".weight"; }));
  });
  expect_refused(orphan, "model.safetensors", "tensors." + q + ".weight", "missing");

  const std::string shape = small("scale_shape");
  edit_weights(shape, [&](std::vector<OwnedTensor>& ts) {
    OwnedTensor& s = tensor(ts, q + ".weight_scale");
    s.shape = {2};
    s.bytes = {0xc0, 0x3f, 0xc0, 0x3f};
  });
  expect_refused(shape, "model.safetensors", "tensors." + q + ".weight_scale.shape", "expected [1]");

  const std::string scale_dtype = small("scale_dtype");
  edit_weights(scale_dtype, [&](std::vector<OwnedTensor>& ts) {
    OwnedTensor& s = tensor(ts, q + ".weight_scale");
    s.dtype = DType::F32;
    s.bytes = {0, 0, 0xc0, 0x3f};
  });
  expect_refused(scale_dtype, "model.safetensors", "tensors." + q + ".weight_scale.dtype", "expected BF16");

  // Packed rows against the config: one KV head of 64 gives k_proj ceil(64/4) = 16 packed rows;
  // the file holds 32.
  const std::string rows = small("rows");
  edit_config(rows, [](ojson& c) { c["num_key_value_heads"] = 1; });
  expect_refused(rows, "model.safetensors", "tensors.model.layers.0.self_attn.k_proj.weight.shape",
                 "num_key_value_heads 1");

  // in_features against the config: down_proj takes 640 inputs, the config says 600.
  const std::string cols = small("cols");
  edit_config(cols, [](ojson& c) { c["intermediate_size"] = 600; });
  expect_refused(cols, "model.safetensors", "tensors.model.layers.0.mlp.down_proj.weight.shape", "intermediate_size 600");

  const std::string unknown = small("linear_class");
  edit_config(unknown, [](ojson& c) { c["quantization_config"]["linear_class"] = "bitlinear2"; });
  expect_refused(unknown, "config.json", "quantization_config.linear_class", "bitlinear2");

  const std::string mode = small("mode");
  edit_config(mode, [](ojson& c) { c["quantization_config"]["quantization_mode"] = "online"; });
  expect_refused(mode, "config.json", "quantization_config.quantization_mode", "online");

  const std::string no_size = small("no_size");
  edit_config(no_size, [](ojson& c) { c.erase("intermediate_size"); });
  expect_refused(no_size, "config.json", "intermediate_size", "missing");

  const std::string bias = small("bias");
  edit_weights(bias, [&](std::vector<OwnedTensor>& ts) {
    ts.push_back(OwnedTensor{q + ".bias", DType::BF16, {256}, std::vector<uint8_t>(512, 0)});
  });
  expect_refused(bias, "model.safetensors", "tensors." + q + ".bias", "no bias");

  // quant_method: a directory of another method handed to the BitNet reader directly.
  const std::string other = small("other");
  edit_config(other, [](ojson& c) { c["quantization_config"]["quant_method"] = "exl2"; });
  const ModelFiles files = open_model_files(other, ModelData::headers_only);
  try {
    bitnet::recognize_model(files);
    ADD_FAILURE() << "quant_method exl2 accepted";
  } catch (const FileError& e) {
    EXPECT_EQ("quantization_config.quant_method", e.field()) << e.what();
    EXPECT_TRUE(ends_with(e.file(), "config.json")) << e.what();
  }
  try {
    bitnet::config_layers(files.quant_config, files.config_file);
    ADD_FAILURE() << "quant_method exl2 accepted by config_layers";
  } catch (const FileError& e) {
    EXPECT_EQ("quantization_config.quant_method", e.field()) << e.what();
  }
}

// bench --model CONFIG: the layers config.json declares, without the weights.
TEST_F(BitnetModel, ConfigAloneDeclaresTheLayers) {
  const std::string dir = small("config", 2);
  ojson cfg = parse_json_file<ojson>(dir + "/config.json");
  // transformers leaves modules whose name contains an entry of modules_to_not_convert plain.
  cfg["quantization_config"]["modules_to_not_convert"] = {"lm_head", "layers.1.mlp.down_proj"};
  import::write_json_file(dir + "/config.json", cfg);
  const std::vector<LayerSpec> layers = bitnet::config_layers(cfg["quantization_config"], dir + "/config.json");
  ASSERT_EQ(13u, layers.size());
  EXPECT_EQ("model.layers.0.self_attn.q_proj", layers[0].name);
  EXPECT_EQ("model.layers.1.mlp.up_proj", layers.back().name);
  EXPECT_EQ(640, layers[4].rows);  // gate_proj
  EXPECT_EQ(256, layers[4].cols);
  EXPECT_EQ(128, layers[1].rows);  // k_proj: 2 KV heads of 64

  // A bare quantization_config with no config.json beside it has no sizes.
  const std::string bare = (root_ / "bare.json").string();
  import::write_json_file(bare, cfg["quantization_config"]);
  try {
    bitnet::config_layers(cfg["quantization_config"], bare);
    ADD_FAILURE() << "sizes invented";
  } catch (const FileError& e) {
    EXPECT_EQ(bare, e.file());
    EXPECT_EQ("num_hidden_layers", e.field());
  }
  // heads x head_dim beyond any model is refused before bench sizes buffers from it.
  cfg["num_attention_heads"] = 1 << 20;
  cfg["head_dim"] = 1 << 20;
  import::write_json_file(dir + "/config.json", cfg);
  try {
    bitnet::config_layers(cfg["quantization_config"], dir + "/config.json");
    ADD_FAILURE() << "2^40 features accepted";
  } catch (const FileError& e) {
    EXPECT_EQ("num_attention_heads", e.field()) << e.what();
  }
}

// A non-finite or zero weight_scale is accepted, as the format accepts it (model.cpp says why):
// verify's reference defines the layer's output.
TEST_F(BitnetModel, SpecialWeightScalesAreAccepted) {
  const std::string dir = small("special");
  const uint16_t nan = 0x7fc0, inf = 0x7f80, zero = 0;
  edit_weights(dir, [&](std::vector<OwnedTensor>& ts) {
    std::memcpy(tensor(ts, "model.layers.0.self_attn.q_proj.weight_scale").bytes.data(), &nan, 2);
    std::memcpy(tensor(ts, "model.layers.0.self_attn.k_proj.weight_scale").bytes.data(), &inf, 2);
    std::memcpy(tensor(ts, "model.layers.0.self_attn.v_proj.weight_scale").bytes.data(), &zero, 2);
  });
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  EXPECT_EQ(7u, m.layers.size());
}

}  // namespace
}  // namespace qb

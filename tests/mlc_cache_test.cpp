// MLC tensor caches (specs/mlc.md 4): the seed's metadata from its records, the upstream-written
// tiny cache read and decoded bit for bit, what make-mlc-cache's writer produces read back as
// layers, verify and bench --model on it, and every defect refused with the file, the field and
// the record named.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/temp_dir_test.h"

#include "tests/run_command.h"

#include "fixtures/import/mlc/mlc_cache_writer.h"
#include "fixtures/import/model_shards.h"
#include "harness/json_field.h"
#include "harness/model_dir.h"
#include "harness/prepared.h"
#include "reference/mlc/mlc.h"
#include "reference/mlc/tensor_cache.h"

namespace qb {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

const std::string kShared = QB_SOURCE_DIR "/../shared";
const std::string kSeed = kShared + "/seeds/001_ecf780223b2de7f7.txt";
const std::string kTiny = kShared + "/vectors/mlc/ndarray_cache_q4f32_1_tiny";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The seed is the JSON as a table dump shows it: every line ends in " |" and every other line is
// a lone "|". Dropping both gives the JSON back.
ojson seed_json() {
  std::istringstream in(read_text(kSeed));
  std::string text, line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "|") continue;
    if (line.size() >= 2 && line.compare(line.size() - 2, 2, " |") == 0) line.resize(line.size() - 2);
    text += line + "\n";
  }
  return parse_json_strict<ojson>(text.data(), text.size(), {kSeed, "", {}});
}

TEST(MlcCacheSeed, MetadataFromItsRecords) {
  if (!fs::exists(kSeed)) GTEST_SKIP() << kSeed << " missing";
  const ojson j = seed_json();
  const mlc::TensorCache cache = mlc::parse_tensor_cache(j, kSeed);
  // The listing is complete: all 65 records the metadata counts are there (6 layers x 10 + embed
  // q_weight/q_scale, lm_head q_weight/q_scale, final norm; spec 4.2), so nothing is
  // reconstructed. Its q_scale and norms show the b16 view (bfloat16 / raw, spec 8.2).
  ASSERT_EQ(65u, cache.records.size());
  const mlc::CacheRecord* qs = cache.find("lm_head.q_scale");
  ASSERT_NE(nullptr, qs);
  EXPECT_EQ("bfloat16", qs->dtype);
  // ParamBytes tells the preset (spec 4.2): q4f32_1, its scales and norms 4 bytes in memory.
  const mlc::Preset& p = *mlc::find_preset("q4f32_1");
  const std::vector<mlc::CacheLayer> layers = mlc::cache_layers(cache, p, nullptr);
  ASSERT_EQ(26u, layers.size());  // 6 x 4 projections, embedding, lm_head
  const mlc::CacheMetadata md = mlc::cache_metadata(cache, p, layers);
  EXPECT_EQ(65, md.param_size);
  EXPECT_EQ(63323136.0, md.param_bytes);
  EXPECT_EQ(101263104, md.source_params);
  EXPECT_EQ(5.002662055470865, md.bits_per_param);
  EXPECT_EQ(j["metadata"]["ParamBytes"].get<double>(), md.param_bytes);
  EXPECT_EQ(j["metadata"]["BitsPerParam"].get<double>(), md.bits_per_param);
  // Under q4bf16_1 the same bytes would be 56,974,848 (spec 4.2's other hypothesis).
  const mlc::Preset& bf = *mlc::find_preset("q4bf16_1");
  EXPECT_EQ(56974848.0, mlc::cache_metadata(cache, bf, mlc::cache_layers(cache, bf, nullptr)).param_bytes);
}

// make-mlc-cache's defaults are the seed's model: its b16 view lists the seed's records exactly
// (names, shapes, dtypes, offsets, shard sizes: the 32 MiB sharding rule), its metadata the seed's.
TEST(MlcCacheSeed, DefaultWriterReproducesTheSeedListing) {
  if (!fs::exists(kSeed)) GTEST_SKIP() << kSeed << " missing";
  const fs::path dir = fs::temp_directory_path() / ("qb_mlc_seed_" + std::to_string(::getpid()));
  mlc::write_cache(dir.string(), {});
  const ojson seed = seed_json();
  const ojson b16 = parse_json_file<ojson>((dir / "ndarray-cache-b16.json").string());
  EXPECT_EQ(seed["metadata"], b16["metadata"]);
  ASSERT_EQ(seed["records"].size(), b16["records"].size());
  for (std::size_t i = 0; i < seed["records"].size(); ++i) {
    EXPECT_EQ(seed["records"][i]["dataPath"], b16["records"][i]["dataPath"]);
    EXPECT_EQ(seed["records"][i]["nbytes"], b16["records"][i]["nbytes"]);
    EXPECT_EQ(seed["records"][i]["records"], b16["records"][i]["records"]);
  }
  const ojson main = parse_json_file<ojson>((dir / "ndarray-cache.json").string());
  EXPECT_EQ(seed["metadata"], main["metadata"]);
  EXPECT_EQ("float32", main["records"][0]["records"][1]["dtype"]);  // lm_head.q_scale, f32-to-bf16 on disk
  EXPECT_EQ("f32-to-bf16", main["records"][0]["records"][1]["format"]);
  fs::remove_all(dir);
}

// The layer of that name (layers come in record order, which sharding reorders).
const ModelLayer& layer(const ModelDir& m, const std::string& name) {
  for (const ModelLayer& l : m.layers)
    if (l.spec.name == name) return l;
  throw std::runtime_error("no layer " + name);
}

class MlcCache : public test::TempDirTest {
 protected:
  // One decoder layer at small sizes; a 6 KiB cap makes several shards, some out of band.
  static mlc::CacheOptions small(const std::string& preset = "q4f32_1") {
    mlc::CacheOptions o;
    o.preset = preset;
    o.layers = 1;
    o.hidden = 64;
    o.intermediate = 128;
    o.kv = 32;
    o.vocab = 96;
    o.shard_cap = 6 << 10;
    return o;
  }
  std::string write(const std::string& name, const mlc::CacheOptions& o = small()) {
    const std::string dir = (root_ / name).string();
    mlc::write_cache(dir, o);
    return dir;
  }
  static std::string index(const std::string& dir) { return dir + "/ndarray-cache.json"; }
  static void edit_json(const std::string& file, const std::function<void(ojson&)>& f) {
    ojson j = parse_json_file<ojson>(file);
    f(j);
    import::write_json_file(file, j);
  }
  // The shard and record index of a record name in a parsed index.
  static std::pair<std::size_t, std::size_t> locate(const ojson& j, const std::string& name) {
    for (std::size_t s = 0; s < j["records"].size(); ++s)
      for (std::size_t r = 0; r < j["records"][s]["records"].size(); ++r)
        if (j["records"][s]["records"][r]["name"] == name) return {s, r};
    ADD_FAILURE() << name << " not in the index";
    return {0, 0};
  }
  static std::string field(std::pair<std::size_t, std::size_t> at, const std::string& key) {
    return "records[" + std::to_string(at.first) + "].records[" + std::to_string(at.second) + "]." + key;
  }
  // open_model_dir must refuse the directory with a FileError on `file`, `field` (exact unless
  // empty) and a message holding every `needles` entry.
  static void expect_refused(const std::string& dir, const std::string& file, const std::string& fld,
                             const std::vector<std::string>& needles) {
    try {
      open_model_dir(dir, ModelData::mapped);
      ADD_FAILURE() << dir << " accepted";
    } catch (const FileError& e) {
      EXPECT_EQ(file, e.file()) << e.what();
      if (!fld.empty()) {
        EXPECT_EQ(fld, e.field()) << e.what();
      }
      for (const std::string& n : needles) EXPECT_NE(std::string::npos, std::string(e.what()).find(n)) << e.what();
    }
  }
};

TEST_F(MlcCache, WrittenCacheReadsBackAsItsLayers) {
  const std::string dir = write("m");
  ASSERT_TRUE(is_model_dir(dir));
  const mlc::TensorCache cache = mlc::read_tensor_cache(dir);
  EXPECT_NO_THROW(mlc::check_shard_md5(cache));
  EXPECT_GE(cache.shards.size(), 3u);
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  ASSERT_NE(nullptr, m.family);
  EXPECT_EQ("mlc", m.family->id);
  ASSERT_EQ(6u, m.layers.size());
  EXPECT_FALSE(layer(m, "lm_head").spec.lookup);
  const ModelLayer& embed = layer(m, "model.embed_tokens");
  EXPECT_TRUE(embed.spec.lookup);
  EXPECT_EQ(96, embed.spec.rows);
  EXPECT_EQ(64, embed.spec.cols);
  const ModelLayer& down = layer(m, "model.layers.0.mlp.down_proj");
  EXPECT_EQ(64, down.spec.rows);
  EXPECT_EQ(128, down.spec.cols);
  EXPECT_EQ(128, layer(m, "model.layers.0.self_attn.qkv_proj").spec.rows);
  for (const ModelLayer& l : m.layers) {
    EXPECT_EQ("mlc_q4f32_1", l.spec.format);
    // q4f32_1's scales are bf16 on disk, widened to the format's fp32.
    EXPECT_EQ(DType::F32, l.weight.tensor("q_scale").dtype);
    EXPECT_NE(nullptr, l.weight.tensor("q_scale").data);
  }
  // Three norms, float32 stored as bf16: not layers.
  ASSERT_EQ(1u, m.unquantized.size());
  EXPECT_EQ(3, m.unquantized[0].second);
  // Metadata as written equals the one computed from the records.
  const mlc::ChatConfig cfg = mlc::read_chat_config(dir);
  const mlc::CacheMetadata md = mlc::cache_metadata(cache, *cfg.preset, mlc::cache_layers(cache, *cfg.preset, &cfg));
  EXPECT_EQ(cache.metadata["ParamSize"].get<int64_t>(), md.param_size);
  EXPECT_EQ(cache.metadata["ParamBytes"].get<double>(), md.param_bytes);
  EXPECT_EQ(cache.metadata["BitsPerParam"].get<double>(), md.bits_per_param);
  // Headers only: shapes, no data.
  const ModelDir h = open_model_dir(dir, ModelData::headers_only);
  ASSERT_EQ(6u, h.layers.size());
  EXPECT_EQ(nullptr, h.layers[0].weight.tensor("q_weight").data);
}

TEST_F(MlcCache, TiedKnPaddedAndUnquantizedEmbeddings) {
  // Tied: the embedding is the output projection, a GEMV.
  mlc::CacheOptions tied = small();
  tied.tie = true;
  const ModelDir t = open_model_dir(write("tied", tied), ModelData::mapped);
  ASSERT_EQ(5u, t.layers.size());
  EXPECT_FALSE(layer(t, "model.embed_tokens").spec.lookup);

  // KN preset: projections and the untied lm_head KN, the embedding NK as the twin format.
  const ModelDir kn = open_model_dir(write("kn", small("q4f16_0")), ModelData::mapped);
  ASSERT_EQ(6u, kn.layers.size());
  const ModelLayer& head = layer(kn, "lm_head");
  const ModelLayer& embed = layer(kn, "model.embed_tokens");
  EXPECT_EQ("mlc_q4f16_0", head.spec.format);
  EXPECT_EQ("mlc_q4f16_1", embed.spec.format);
  EXPECT_EQ("mlc_q4f16_0", layer(kn, "model.layers.0.mlp.down_proj").spec.format);
  EXPECT_EQ(std::vector<int64_t>({8, 96}), head.weight.tensor("q_weight").shape);
  EXPECT_EQ(std::vector<int64_t>({96, 8}), embed.weight.tensor("q_weight").shape);
  EXPECT_EQ(DType::F16, embed.weight.tensor("q_scale").dtype);

  // K not a multiple of the group size: model_config's sizes give the true K.
  mlc::CacheOptions pad = small("q3f16_1");
  pad.hidden = 100;
  pad.intermediate = 150;
  const ModelDir p = open_model_dir(write("pad", pad), ModelData::mapped);
  ASSERT_EQ(6u, p.layers.size());
  EXPECT_EQ(100, layer(p, "model.embed_tokens").spec.cols);               // 3 groups of 40 stored
  EXPECT_EQ(150, layer(p, "model.layers.0.mlp.down_proj").spec.cols);     // 4 groups of 40
  EXPECT_EQ(100, layer(p, "model.layers.0.mlp.gate_up_proj").spec.cols);

  // q4f16_2 leaves embedding and lm_head unquantized: only the projections are layers.
  const ModelDir u = open_model_dir(write("q4f16_2", small("q4f16_2")), ModelData::mapped);
  ASSERT_EQ(4u, u.layers.size());
  for (const ModelLayer& l : u.layers) EXPECT_EQ(0u, l.spec.name.rfind("model.layers.0.", 0)) << l.spec.name;
  ASSERT_EQ(1u, u.unquantized.size());
  EXPECT_EQ("float16", u.unquantized[0].first);
  EXPECT_EQ(5, u.unquantized[0].second);

  // The newer index name.
  mlc::CacheOptions newer = small();
  newer.tensor_cache_name = true;
  const std::string nd = write("tensor_cache_name", newer);
  EXPECT_TRUE(fs::exists(nd + "/tensor-cache.json"));
  EXPECT_EQ(6u, open_model_dir(nd, ModelData::mapped).layers.size());
}

// A mixture-of-experts stack [E, N, words] (NK under every preset, spec 2.1) is one layer of
// E x N rows, of which a token uses model_config.num_experts_per_tok matrices.
TEST_F(MlcCache, StackedExpertsAreOneLayer) {
  const std::string dir = write("moe", small("q4f16_0"));
  const std::string key = "model.layers.0.mlp.gate_up_proj";
  edit_json(index(dir), [&](ojson& j) {
    const auto w = locate(j, key + ".q_weight");
    j["records"][w.first]["records"][w.second]["shape"] = {2, 128, 8};  // stored KN [8, 256]: same bytes
    const auto sc = locate(j, key + ".q_scale");
    j["records"][sc.first]["records"][sc.second]["shape"] = {2, 128, 2};
  });
  edit_json(dir + "/mlc-chat-config.json", [](ojson& j) { j["model_config"]["num_experts_per_tok"] = 1; });
  const ModelDir m = open_model_dir(dir, ModelData::mapped);
  const ModelLayer& l = layer(m, key);
  EXPECT_EQ("mlc_q4f16_1", l.spec.format);
  EXPECT_EQ(256, l.spec.rows);
  EXPECT_EQ(64, l.spec.cols);
  EXPECT_EQ(2, l.spec.experts);
  EXPECT_EQ(1, l.spec.experts_per_token);
  EXPECT_EQ(std::vector<int64_t>({256, 8}), l.weight.tensor("q_weight").shape);
}

TEST_F(MlcCache, AmbiguousInFeaturesAreRefused) {
  // hidden 80 is stored in 3 groups of 32, (64, 96]; an intermediate size of 90 would be too.
  mlc::CacheOptions o = small("q4f16_1");
  o.hidden = 80;
  const std::string dir = write("ambiguous", o);
  edit_json(dir + "/mlc-chat-config.json", [](ojson& j) { j["model_config"]["intermediate_size"] = 90; });
  expect_refused(dir, dir + "/mlc-chat-config.json", "model_config", {"hidden_size 80", "intermediate_size 90"});
}

TEST_F(MlcCache, VerifyAndBenchRunOnIt) {
  const std::string dir = write("m");
  const test::Command v = test::run_command(std::string(QB_VERIFY_BIN) + " " + dir + " --threads 2");
  EXPECT_EQ(0, v.status) << v.output;
  EXPECT_NE(std::string::npos, v.output.find(" 0 failed")) << v.output;
  EXPECT_NE(std::string::npos, v.output.find("model.embed_tokens")) << v.output;  // checked, though a lookup
  EXPECT_NE(std::string::npos, v.output.find("mlc_q4f32_1_gemv_ref")) << v.output;
  // Searched for in a folder: one model, its shards not taken for fixtures; its index stands for it.
  const test::Command r = test::run_command(std::string(QB_VERIFY_BIN) + " " + root_.string() + " --fixture-only --threads 1");
  EXPECT_EQ(0, r.status) << r.output;
  EXPECT_NE(std::string::npos, r.output.find("model.layers.0.self_attn.qkv_proj")) << r.output;
  const test::Command i = test::run_command(std::string(QB_VERIFY_BIN) + " " + index(dir) + " --threads 1");
  EXPECT_EQ(0, i.status) << i.output;

  const std::string bench = std::string(QB_BENCH_BIN) + " --threads 1 --benchmark_min_time=0.01 --benchmark_filter=ref --model ";
  const test::Command b = test::run_command(bench + dir);
  EXPECT_EQ(0, b.status) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("projected GEMV time per token")) << b.output;
  // lm_head + 4 projections; the untied embedding is a lookup, not a GEMV.
  EXPECT_NE(std::string::npos, b.output.find("5 mlc_q4f32_1 layers")) << b.output;
  EXPECT_NE(std::string::npos, b.output.find("1 lookup table(s)")) << b.output;
  mlc::CacheOptions tied = small();
  tied.tie = true;
  const test::Command t = test::run_command(bench + write("tied", tied));
  EXPECT_EQ(0, t.status) << t.output;
  EXPECT_NE(std::string::npos, t.output.find("5 mlc_q4f32_1 layers")) << t.output;
  EXPECT_EQ(std::string::npos, t.output.find("lookup table")) << t.output;
}

TEST_F(MlcCache, ContainerDefectsNameFileRecordAndField) {
  const std::string qw = "model.layers.0.self_attn.o_proj.q_weight", qs = "model.layers.0.self_attn.o_proj.q_scale";
  {  // A record past its shard's end.
    const std::string dir = write("past_end");
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) {
      at = locate(j, qs);
      j["records"][at.first]["records"][at.second]["byteOffset"] = j["records"][at.first]["nbytes"].get<int64_t>() - 2;
    });
    expect_refused(dir, index(dir), field(at, "byteOffset"), {qs, "past the end"});
  }
  {  // nbytes not shape x dtype (float32 stored as bf16: 2 bytes an element).
    const std::string dir = write("nbytes");
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) {
      at = locate(j, qs);
      j["records"][at.first]["records"][at.second]["nbytes"] = 4 * 64 * 2;
    });
    expect_refused(dir, index(dir), field(at, "nbytes"), {qs, "f32-to-bf16"});
  }
  {  // A shard file missing.
    const std::string dir = write("missing_shard");
    fs::remove(dir + "/params_shard_1.bin");
    expect_refused(dir, index(dir), "records[1].dataPath", {"params_shard_1.bin", "missing"});
  }
  {  // Only the b16 view left: named as such, not read as another container.
    const std::string dir = write("b16_only");
    fs::remove(index(dir));
    expect_refused(dir, dir + "/ndarray-cache-b16.json", "", {"bf16 view", "ndarray-cache.json is missing"});
  }
  {  // A shard file of another size than stated.
    const std::string dir = write("shard_size");
    std::ofstream(dir + "/params_shard_0.bin", std::ios::app) << 'x';
    expect_refused(dir, index(dir), "records[0].nbytes", {"params_shard_0.bin"});
  }
  {  // A shard that is a FIFO: refused, never opened (a read would block).
    const std::string dir = write("fifo");
    fs::remove(dir + "/params_shard_0.bin");
    ASSERT_EQ(0, ::mkfifo((dir + "/params_shard_0.bin").c_str(), 0600));
    expect_refused(dir, index(dir), "records[0].dataPath", {"not a regular file"});
  }
  {  // A shard outside the directory.
    const std::string dir = write("escape");
    edit_json(index(dir), [&](ojson& j) { j["records"][0]["dataPath"] = "../params_shard_0.bin"; });
    expect_refused(dir, index(dir), "records[0].dataPath", {"inside the cache directory"});
  }
  {  // Overlapping records within a shard.
    const std::string dir = write("overlap");
    std::string second;
    std::size_t shard = 0;
    edit_json(index(dir), [&](ojson& j) {
      for (shard = 0; j["records"][shard]["records"].size() < 2; ++shard) {
      }
      ojson& recs = j["records"][shard]["records"];
      recs[1]["byteOffset"] = recs[0]["byteOffset"].get<int64_t>() + 2;
      second = recs[1]["name"].get<std::string>();
    });
    expect_refused(dir, index(dir), "records[" + std::to_string(shard) + "].records[1].byteOffset", {second, "overlaps"});
  }
  {  // Duplicate names.
    const std::string dir = write("duplicate");
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) {
      at = locate(j, qs);
      j["records"][at.first]["records"][at.second]["name"] = qw;
    });
    expect_refused(dir, index(dir), field(at, "name"), {qw, "duplicate"});
  }
  {  // An unknown dtype.
    const std::string dir = write("dtype");
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) {
      at = locate(j, qs);
      j["records"][at.first]["records"][at.second]["dtype"] = "float7";
    });
    expect_refused(dir, index(dir), field(at, "dtype"), {qs, "unknown dtype 'float7'"});
  }
  {  // A q_weight without its q_scale.
    const std::string dir = write("no_scale");
    edit_json(index(dir), [&](ojson& j) {
      const auto at = locate(j, qs);
      j["records"][at.first]["records"].erase(at.second);
    });
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) { at = locate(j, qw); });
    expect_refused(dir, index(dir), field(at, "name"), {qw, qs});
  }
  {  // q_scale shaped against the preset (same bytes, [32, 4] for [64, 2]).
    const std::string dir = write("scale_shape");
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) {
      at = locate(j, qs);
      j["records"][at.first]["records"][at.second]["shape"] = {32, 4};
    });
    expect_refused(dir, index(dir), field(at, "shape"), {qs, "[32, 4]", "expected [64, 2]"});
  }
  {  // q_weight words that are not whole groups ([256, 2] for [64, 8]).
    const std::string dir = write("weight_shape");
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) {
      at = locate(j, qw);
      j["records"][at.first]["records"][at.second]["shape"] = {256, 2};
    });
    expect_refused(dir, index(dir), field(at, "shape"), {qw, "[256, 2]", "q4f32_1"});
  }
  {  // A scale dtype the preset does not have (float16 for q4f32_1, same bytes).
    const std::string dir = write("scale_dtype");
    std::pair<std::size_t, std::size_t> at;
    edit_json(index(dir), [&](ojson& j) {
      at = locate(j, qs);
      j["records"][at.first]["records"][at.second]["dtype"] = "float16";
    });
    expect_refused(dir, index(dir), field(at, "dtype"), {qs, "expected float32"});
  }
  {  // Preset unknown, not a group preset, missing; no mlc-chat-config.json.
    const std::string dir = write("preset");
    const std::string cfg = dir + "/mlc-chat-config.json";
    edit_json(cfg, [](ojson& j) { j["quantization"] = "q5f16_9"; });
    expect_refused(dir, cfg, "quantization", {"'q5f16_9'", "q4f32_1"});
    edit_json(cfg, [](ojson& j) { j["quantization"] = "q0f16"; });
    expect_refused(dir, cfg, "quantization", {"not a group-quantization preset"});
    edit_json(cfg, [](ojson& j) { j.erase("quantization"); });
    expect_refused(dir, cfg, "quantization", {"missing"});
    fs::remove(cfg);
    expect_refused(dir, cfg, "", {"missing"});
  }
  {  // A broken index: not JSON.
    const std::string dir = write("not_json");
    std::ofstream(index(dir)) << "{\"records\": [";
    expect_refused(dir, index(dir), "", {});
  }
  {  // md5sum: checked on request (it reads every shard in full).
    const std::string dir = write("md5");
    {
      std::fstream f(dir + "/params_shard_0.bin", std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(5);
      const char c = static_cast<char>(f.get());
      f.seekp(5);
      f.put(static_cast<char>(~c));
    }
    try {
      mlc::check_shard_md5(mlc::read_tensor_cache(dir));
      ADD_FAILURE() << "md5 mismatch accepted";
    } catch (const FileError& e) {
      EXPECT_EQ(index(dir), e.file());
      EXPECT_EQ("records[0].md5sum", e.field());
    }
  }
  // verify reports a broken cache as a failure with the file and field, exit 1.
  const std::string dir = write("verify_broken");
  fs::remove(dir + "/params_shard_1.bin");
  const test::Command v = test::run_command(std::string(QB_VERIFY_BIN) + " " + dir + " --threads 1");
  EXPECT_EQ(1, v.status) << v.output;
  EXPECT_NE(std::string::npos, v.output.find("records[1].dataPath")) << v.output;
}

// The cache upstream's dump_ndarray_cache wrote (3 shards, an out-of-band record, both JSONs):
// md5s, metadata, and every layer's reference decode against the shipped decoded matrices.
TEST(MlcCacheUpstream, TinyCacheDecodesBitExactly) {
  if (!fs::exists(kTiny)) GTEST_SKIP() << kTiny << " missing";
  const mlc::TensorCache cache = mlc::read_tensor_cache(kTiny + "/cache");
  EXPECT_EQ(kTiny + "/cache/ndarray-cache.json", cache.file);  // the main index, not the b16 view
  EXPECT_EQ(3u, cache.shards.size());
  EXPECT_NO_THROW(mlc::check_shard_md5(cache));
  const mlc::Preset& p = *mlc::find_preset("q4f32_1");
  const mlc::CacheMetadata md = mlc::cache_metadata(cache, p, mlc::cache_layers(cache, p, nullptr));
  EXPECT_EQ(15, md.param_size);
  EXPECT_EQ(28928.0, md.param_bytes);
  EXPECT_EQ(5.114568599717114, md.bits_per_param);
  // The b16 view (bfloat16 / raw) gives the same figures under the fp32 preset.
  const mlc::TensorCache b16 = mlc::read_tensor_cache(kTiny + "/cache/ndarray-cache-b16.json");
  EXPECT_EQ(md.param_bytes, mlc::cache_metadata(b16, p, mlc::cache_layers(b16, p, nullptr)).param_bytes);

  // Upstream's dir has no mlc-chat-config.json: a copy gets one naming the preset.
  const fs::path dir = fs::temp_directory_path() / ("qb_mlc_tiny_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(kTiny + "/cache")) fs::copy_file(e.path(), dir / e.path().filename());
  for (const auto& e : fs::directory_iterator(dir)) fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
  import::write_json_file((dir / "mlc-chat-config.json").string(), ojson{{"quantization", "q4f32_1"}});
  const ModelDir m = open_model_dir(dir.string(), ModelData::mapped);
  ASSERT_EQ(6u, m.layers.size());
  const ojson manifest = parse_json_file<ojson>(kTiny + "/manifest.json");
  for (const ModelLayer& l : m.layers) {
    SCOPED_TRACE(l.spec.name);
    ASSERT_TRUE(manifest["decoded"].contains(l.spec.name));
    const ojson& d = manifest["decoded"][l.spec.name];
    EXPECT_EQ(d["shape"][0].get<int64_t>(), l.spec.rows);
    EXPECT_EQ(d["shape"][1].get<int64_t>(), l.spec.cols);
    const std::string want = read_text(kTiny + "/" + d["file"].get<std::string>());
    ASSERT_EQ(static_cast<std::size_t>(l.spec.rows * l.spec.cols * 4), want.size());
    std::vector<float> got(static_cast<std::size_t>(l.spec.rows * l.spec.cols));
    mlc::dequant_ref(PreparedWeight(l.weight).get(), 0, l.spec.rows, got.data());
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size()));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qb

// MLC tensor cache reader and its model recognition (specs/mlc.md 2.1, 4, 4.1). Written from the
// spec's description of the container; the JSON is read through harness/json_field.h, so every
// error names the file and the field.
#include "reference/mlc/tensor_cache.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "harness/json_field.h"
#include "harness/mapped_file.h"
#include "harness/shape.h"
#include "harness/stored_check.h"
#include "reference/common/half.h"

namespace qb::mlc {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// Dims above this cannot be a real tensor, and keep numel x 8 far from int64 overflow checks'
// edge cases.
constexpr int64_t kMaxDim = int64_t{1} << 48;

bool mul_overflows(int64_t a, int64_t b, int64_t* out) { return __builtin_mul_overflow(a, b, out); }

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string last_component(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// The names MLC's model definitions give their nn.Embedding (llama & most: embed_tokens; gpt2:
// wte; gpt_neox: embed_in; chatglm: word_embeddings; some: embed). Spec 2.1: always stored NK.
bool is_embedding(const std::string& key) {
  static const std::set<std::string> names{"embed_tokens", "embed", "wte", "embed_in", "word_embeddings"};
  return names.count(last_component(key)) > 0;
}

// The final fc names spec 2.1 lists (head|lm_head|lm_head.linear|embed_out): when none is stored
// the embedding doubles as the output projection (tied weights).
bool is_output_projection(const std::string& record_name) {
  std::string key = record_name;
  for (const char* suffix : {".q_weight", ".q_scale", ".weight", ".bias"})
    if (ends_with(key, suffix)) {
      key.resize(key.size() - std::strlen(suffix));
      break;
    }
  const std::string last = last_component(key);
  return last == "lm_head" || last == "head" || last == "embed_out" || ends_with(key, "lm_head.linear");
}

// A dataPath stays inside the cache directory: relative, no "..".
bool inside_dir(const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return false;
  for (const auto& part : fs::path(p))
    if (part == "..") return false;
  return true;
}

std::string dtype_list() {
  return "uint8, int8, uint16, int16, uint32, int32, uint64, int64, float16, bfloat16, float32, float64, "
         "float8_e4m3fn, float8_e5m2";
}

std::string preset_list() {
  std::string s;
  for (const Preset& p : presets()) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

// The NK preset of a KN one: the same bits, group size and scale dtype (spec 1 rows _0 / _1).
const Preset& nk_twin(const Preset& p) {
  if (!p.kn) return p;
  std::string name = p.name;
  name.back() = '1';
  const Preset* t = find_preset(name);
  if (!t || t->kn || t->bits != p.bits || t->gs != p.gs || t->dtype != p.dtype)
    throw std::logic_error(std::string("mlc: KN preset ") + p.name + " has no NK twin " + name);
  return *t;
}

const char* dtype_string(ModelDType d) { return d == ModelDType::f16 ? "float16" : d == ModelDType::bf16 ? "bfloat16" : "float32"; }

}  // namespace

int64_t CacheRecord::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // bounded when read (parse_tensor_cache)
  return n;
}

const CacheRecord* TensorCache::find(const std::string& name) const {
  for (const CacheRecord& r : records)
    if (r.name == name) return &r;
  return nullptr;
}

std::string TensorCache::shard_path(const CacheRecord& r) const { return (fs::path(dir) / shards[r.shard].data_path).string(); }

int64_t cache_dtype_size(const std::string& d) {
  static const std::map<std::string, int64_t> sizes{
      {"uint8", 1},   {"int8", 1},    {"uint16", 2},   {"int16", 2},    {"uint32", 4},        {"int32", 4},         {"uint64", 8},
      {"int64", 8},   {"float16", 2}, {"bfloat16", 2}, {"float32", 4},  {"float64", 8},       {"float8_e4m3fn", 1}, {"float8_e5m2", 1}};
  const auto it = sizes.find(d);
  return it == sizes.end() ? 0 : it->second;
}

std::string cache_json_in(const std::string& dir) {
  std::error_code ec;
  for (const char* name : {"tensor-cache.json", "ndarray-cache.json"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

// The *-b16.json view alone (its main index lost or not copied): claimed, so that reading it
// says what is missing instead of failing as some other container.
std::string b16_view_in(const std::string& dir) {
  std::error_code ec;
  for (const char* name : {"tensor-cache-b16.json", "ndarray-cache-b16.json"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

bool is_tensor_cache_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && (!cache_json_in(dir).empty() || !b16_view_in(dir).empty());
}

TensorCache parse_tensor_cache(const ojson& j, const std::string& file) {
  TensorCache c;
  c.file = file;
  c.dir = fs::path(file).has_parent_path() ? fs::path(file).parent_path().string() : ".";
  require_object(j, file, "");
  if (const ojson* meta = find_field(j, file, "", "metadata")) c.metadata = require_object(*meta, file, "metadata");
  const ojson& shards = require_array(require_field(j, file, "", "records"), file, "records");
  std::map<std::string, std::string> names;       // record name -> its field
  std::map<std::string, std::string> data_paths;  // dataPath -> its shard's field
  for (std::size_t i = 0; i < shards.size(); ++i) {
    CacheShard s;
    s.field = field_path("records", i);
    const ojson& sj = require_object(shards[i], file, s.field);
    s.data_path = get_string(require_field(sj, file, s.field, "dataPath"), file, field_path(s.field, "dataPath"));
    if (!inside_dir(s.data_path))
      throw FileError(file, field_path(s.field, "dataPath"),
                      "is " + in_quotes(s.data_path) + ": a shard must be a relative path inside the cache directory");
    if (const auto [it, fresh] = data_paths.emplace(fs::path(s.data_path).lexically_normal().string(), s.field); !fresh)
      throw FileError(file, field_path(s.field, "dataPath"), "names shard " + in_quotes(s.data_path) + " again (also " + it->second + ")");
    const std::string fmt = get_string(require_field(sj, file, s.field, "format"), file, field_path(s.field, "format"));
    if (fmt != "raw-shard")
      throw FileError(file, field_path(s.field, "format"), "is " + in_quotes(fmt) + ", expected 'raw-shard' (the only shard format)");
    s.nbytes = get_int(require_field(sj, file, s.field, "nbytes"), file, field_path(s.field, "nbytes"), 0);
    if (auto md5 = optional_string(sj, file, s.field, "md5sum")) s.md5sum = *md5;
    const ojson& recs = require_array(require_field(sj, file, s.field, "records"), file, field_path(s.field, "records"));
    const std::size_t shard_index = c.shards.size();
    c.shards.push_back(s);
    std::vector<std::size_t> in_shard;
    for (std::size_t k = 0; k < recs.size(); ++k) {
      CacheRecord r;
      r.shard = shard_index;
      r.field = field_path(field_path(s.field, "records"), k);
      const ojson& rj = require_object(recs[k], file, r.field);
      r.name = get_string(require_field(rj, file, r.field, "name"), file, field_path(r.field, "name"));
      if (r.name.empty()) throw FileError(file, field_path(r.field, "name"), "is empty");
      if (const auto [it, fresh] = names.emplace(r.name, r.field); !fresh)
        throw FileError(file, field_path(r.field, "name"), "duplicate record name " + in_quotes(r.name) + " (also " + it->second + ")");
      const std::string who = "record " + in_quotes(r.name);
      const ojson& shape = require_array(require_field(rj, file, r.field, "shape"), file, field_path(r.field, "shape"));
      int64_t numel = 1;
      for (std::size_t d = 0; d < shape.size(); ++d) {
        const int64_t v = get_int(shape[d], file, field_path(field_path(r.field, "shape"), d), 0, kMaxDim);
        if (mul_overflows(numel, v, &numel) || numel > kMaxDim)
          throw FileError(file, field_path(r.field, "shape"), who + ": " + shape_str(r.shape) + " x " + std::to_string(v) + " elements overflow");
        r.shape.push_back(v);
      }
      r.dtype = get_string(require_field(rj, file, r.field, "dtype"), file, field_path(r.field, "dtype"));
      const int64_t size = cache_dtype_size(r.dtype);
      if (size == 0)
        throw FileError(file, field_path(r.field, "dtype"), who + ": unknown dtype " + in_quotes(r.dtype) + "; known: " + dtype_list());
      r.format = get_string(require_field(rj, file, r.field, "format"), file, field_path(r.field, "format"));
      if (r.format != "f32-to-bf16" && r.format != "raw")
        throw FileError(file, field_path(r.field, "format"), who + ": unknown encoding " + in_quotes(r.format) + "; known: f32-to-bf16, raw");
      r.nbytes = get_int(require_field(rj, file, r.field, "nbytes"), file, field_path(r.field, "nbytes"), 0);
      const int64_t expect = numel * (r.bf16_encoded() ? 2 : size);  // numel <= 2^48: no overflow
      if (r.nbytes != expect)
        throw FileError(file, field_path(r.field, "nbytes"),
                        who + ": is " + std::to_string(r.nbytes) + ", but shape " + shape_str(r.shape) + " of " + r.dtype +
                            (r.bf16_encoded() ? " stored as bf16 (f32-to-bf16: 2 bytes per element)" : "") + " holds " +
                            std::to_string(expect));
      r.byte_offset = get_int(require_field(rj, file, r.field, "byteOffset"), file, field_path(r.field, "byteOffset"), 0);
      if (r.byte_offset > s.nbytes || r.nbytes > s.nbytes - r.byte_offset)
        throw FileError(file, field_path(r.field, "byteOffset"),
                        who + ": " + std::to_string(r.nbytes) + " bytes at byteOffset " + std::to_string(r.byte_offset) +
                            " run past the end of its shard " + in_quotes(s.data_path) + " (nbytes " + std::to_string(s.nbytes) + ")");
      in_shard.push_back(c.records.size());
      c.records.push_back(std::move(r));
    }
    // Records never share bytes (the writer concatenates them); overlapping ones mean a broken
    // or hand-edited index whose tensors would alias.
    std::sort(in_shard.begin(), in_shard.end(), [&](std::size_t a, std::size_t b) {
      return c.records[a].byte_offset != c.records[b].byte_offset ? c.records[a].byte_offset < c.records[b].byte_offset : a < b;
    });
    const CacheRecord* prev = nullptr;
    for (std::size_t idx : in_shard) {
      const CacheRecord& r = c.records[idx];
      if (r.nbytes == 0) continue;
      if (prev && r.byte_offset < prev->byte_offset + prev->nbytes)
        throw FileError(file, field_path(r.field, "byteOffset"),
                        "record " + in_quotes(r.name) + " [" + std::to_string(r.byte_offset) + ", " +
                            std::to_string(r.byte_offset + r.nbytes) + ") overlaps record " + in_quotes(prev->name) + " [" +
                            std::to_string(prev->byte_offset) + ", " + std::to_string(prev->byte_offset + prev->nbytes) +
                            ") in shard " + in_quotes(s.data_path));
      prev = &r;
    }
  }
  return c;
}

TensorCache read_tensor_cache(const std::string& dir_or_json) {
  std::error_code ec;
  std::string file = dir_or_json;
  if (fs::is_directory(dir_or_json, ec)) {
    file = cache_json_in(dir_or_json);
    if (file.empty() && !b16_view_in(dir_or_json).empty())
      throw FileError(b16_view_in(dir_or_json), "",
                      "is only the bf16 view of a tensor cache, which is not read (its float32 records are relabelled): "
                      "the main tensor-cache.json or ndarray-cache.json is missing from this directory");
    if (file.empty()) throw FileError(dir_or_json, "", "no tensor-cache.json or ndarray-cache.json in this directory");
  } else if (!fs::is_regular_file(dir_or_json, ec)) {
    throw FileError(dir_or_json, "", "not a tensor cache directory or a regular cache JSON file");
  }
  TensorCache c = parse_tensor_cache(parse_json_file<ojson>(file), file);
  for (const CacheShard& s : c.shards) {
    const fs::path p = fs::path(c.dir) / s.data_path;
    if (!fs::is_regular_file(p, ec))
      throw FileError(file, field_path(s.field, "dataPath"),
                      "shard file " + in_quotes(s.data_path) + (fs::exists(p, ec) ? " is not a regular file" : " is missing"));
    const auto size = fs::file_size(p, ec);
    if (ec) throw FileError(p.string(), "", "cannot read its size");
    if (static_cast<uintmax_t>(s.nbytes) != size)
      throw FileError(file, field_path(s.field, "nbytes"),
                      "is " + std::to_string(s.nbytes) + ", but shard file " + in_quotes(s.data_path) + " holds " + std::to_string(size) +
                          " bytes");
  }
  return c;
}

std::string md5_hex(const uint8_t* data, std::size_t n) {
  static const unsigned char kEmpty = 0;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data ? data : &kEmpty, n, digest, &length, EVP_md5(), nullptr) != 1)
    throw std::runtime_error("MD5 failed (OpenSSL)");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += {kHex[digest[i] >> 4], kHex[digest[i] & 15]};
  return hex;
}

void check_shard_md5(const TensorCache& c) {
  for (const CacheShard& s : c.shards) {
    if (s.md5sum.empty()) continue;
    const MappedFile f((fs::path(c.dir) / s.data_path).string());
    const std::string hex = md5_hex(f.data(), f.size());
    std::string stated = s.md5sum;
    std::transform(stated.begin(), stated.end(), stated.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (stated != hex)
      throw FileError(c.file, field_path(s.field, "md5sum"),
                      "is " + s.md5sum + ", but shard file " + in_quotes(s.data_path) + " has MD5 " + hex);
  }
}

ChatConfig read_chat_config(const std::string& dir) {
  ChatConfig cfg;
  cfg.file = (fs::path(dir) / "mlc-chat-config.json").string();
  std::error_code ec;
  if (!fs::is_regular_file(cfg.file, ec))
    throw FileError(cfg.file, "", "missing: a tensor cache's quantization preset is named by mlc-chat-config.json's 'quantization'");
  const ojson j = parse_json_file<ojson>(cfg.file);
  require_object(j, cfg.file, "");
  const std::string q = get_string(require_field(j, cfg.file, "", "quantization"), cfg.file, "quantization");
  cfg.preset = find_preset(q);
  if (!cfg.preset)
    throw FileError(cfg.file, "quantization",
                    "is " + in_quotes(q) + ": not a group-quantization preset quantbench reads (" + preset_list() + ")");
  const ojson* mc = find_field(j, cfg.file, "", "model_config");
  if (!mc) return cfg;
  require_object(*mc, cfg.file, "model_config");
  // A size given as null is an unset optional of the model's dataclass, not an error.
  const auto size = [&](const char* key) -> int64_t {
    const ojson* v = find_field(*mc, cfg.file, "model_config", key);
    if (!v || v->is_null()) return 0;
    return get_int(*v, cfg.file, field_path("model_config", key), 1, kMaxDim);
  };
  for (const char* key : {"hidden_size", "intermediate_size", "moe_intermediate_size", "n_embd", "n_inner"})
    if (const int64_t v = size(key)) cfg.in_features.emplace_back(key, v);
  const int64_t heads = size("num_attention_heads"), head_dim = size("head_dim");
  if (heads && head_dim) cfg.in_features.emplace_back("num_attention_heads x head_dim", heads * head_dim);
  cfg.experts_per_token = size("num_experts_per_tok");
  return cfg;
}

int64_t resolve_in_features(int64_t ng, int64_t gs, const ChatConfig* config, const std::string& what) {
  const int64_t padded = ng * gs, lo = (ng - 1) * gs;
  if (!config) return padded;
  std::vector<std::pair<std::string, int64_t>> hits;
  for (const auto& c : config->in_features)
    if (c.second > lo && c.second <= padded &&
        std::none_of(hits.begin(), hits.end(), [&](const auto& h) { return h.second == c.second; }))
      hits.push_back(c);
  if (hits.empty()) return padded;
  if (hits.size() > 1)
    throw FileError(config->file, "model_config",
                    hits[0].first + " " + std::to_string(hits[0].second) + " and " + hits[1].first + " " +
                        std::to_string(hits[1].second) + " both lie in the last group of " + what + " (in_features in (" +
                        std::to_string(lo) + ", " + std::to_string(padded) + "]): the stored tensors cannot tell which is K");
  return hits[0].second;
}

std::vector<CacheLayer> cache_layers(const TensorCache& cache, const Preset& preset, const ChatConfig* config) {
  std::vector<CacheLayer> layers;
  bool has_output = false;
  for (const CacheRecord& r : cache.records) has_output |= is_output_projection(r.name);
  for (const CacheRecord& qw : cache.records) {
    if (!ends_with(qw.name, ".q_weight")) continue;
    CacheLayer l;
    l.key = qw.name.substr(0, qw.name.size() - std::string(".q_weight").size());
    l.q_weight = &qw;
    l.q_scale = cache.find(l.key + ".q_scale");
    if (!l.q_scale)
      throw FileError(cache.file, field_path(qw.field, "name"),
                      "record " + in_quotes(qw.name) + " has no " + in_quotes(l.key + ".q_scale") +
                          " record: a group-quantized weight is q_weight + q_scale (spec 2.1)");
    const CacheRecord& qs = *l.q_scale;
    l.embedding = is_embedding(l.key);
    l.tied = l.embedding && !has_output;
    // Embeddings and MoE expert stacks are NK under every preset (spec 2.1).
    const bool stacked = qw.shape.size() == 3;
    const Preset& p = (l.embedding || stacked) ? nk_twin(preset) : preset;
    l.preset = &p;
    if (qw.dtype != "uint32")
      throw FileError(cache.file, field_path(qw.field, "dtype"),
                      "record " + in_quotes(qw.name) + " is " + qw.dtype + ", expected uint32 (packed codes, spec 2.2)");
    const bool scale_ok = qs.dtype == dtype_string(p.dtype) || (p.dtype == ModelDType::f32 && qs.dtype == "bfloat16");
    if (!scale_ok)
      throw FileError(cache.file, field_path(qs.field, "dtype"),
                      "record " + in_quotes(qs.name) + " is " + qs.dtype + ", expected " + dtype_string(p.dtype) + " (" + p.name +
                          "'s scale dtype" + (p.dtype == ModelDType::f32 ? "; or bfloat16, its b16 view" : "") + ")");
    const std::string layout = std::string(p.name) + (p.kn ? " (KN: q_weight [words, N])" : " (NK: q_weight [N, words])");
    if (qw.shape.size() != 2 && !stacked)
      throw FileError(cache.file, field_path(qw.field, "shape"),
                      "record " + in_quotes(qw.name) + " is " + shape_str(qw.shape) + ": expected 2 dimensions, or 3 for experts");
    const int64_t n = p.kn ? qw.shape[1] : qw.shape[qw.shape.size() - 2];
    const int64_t nw = p.kn ? qw.shape[0] : qw.shape.back();
    if (n < 1 || nw < 1 || nw % p.spg != 0)
      throw FileError(cache.file, field_path(qw.field, "shape"),
                      "record " + in_quotes(qw.name) + " is " + shape_str(qw.shape) + ": not a " + layout + " weight of " +
                          std::to_string(p.epw) + " codes per word in groups of " + std::to_string(p.spg) + " words (" +
                          std::to_string(p.gs) + " codes)");
    const int64_t ng = nw / p.spg;
    std::vector<int64_t> want = p.kn ? std::vector<int64_t>{ng, n} : std::vector<int64_t>{n, ng};
    if (stacked) want.insert(want.begin(), qw.shape[0]);
    if (qs.shape != want)
      throw FileError(cache.file, field_path(qs.field, "shape"),
                      "record " + in_quotes(qs.name) + " is " + shape_str(qs.shape) + ", expected " + shape_str(want) + " for " +
                          in_quotes(qw.name) + " " + shape_str(qw.shape) + " under " + layout);
    l.experts = stacked ? qw.shape[0] : 1;
    if (l.experts < 1)
      throw FileError(cache.file, field_path(qw.field, "shape"), "record " + in_quotes(qw.name) + " stacks no experts");
    l.rows = n * l.experts;
    l.cols = resolve_in_features(ng, p.gs, config, in_quotes(l.key));
    layers.push_back(l);
  }
  return layers;
}

CacheMetadata cache_metadata(const TensorCache& cache, const Preset& preset, const std::vector<CacheLayer>& layers) {
  CacheMetadata m;
  std::map<const CacheRecord*, int64_t> source;  // quantized records -> their source elements
  for (const CacheLayer& l : layers) {
    source[l.q_weight] = l.rows * l.cols;
    source[l.q_scale] = 0;  // made by the quantizer, not in the source files
  }
  m.param_size = static_cast<int64_t>(cache.records.size());
  for (const CacheRecord& r : cache.records) {
    // In memory a float32 array is 4 bytes per element whatever the disk holds; under an fp32
    // model a bfloat16 record is the b16 view of one (spec 4, 4.2).
    const bool f32_in_memory = r.dtype == "float32" || (r.dtype == "bfloat16" && preset.dtype == ModelDType::f32);
    m.param_bytes += static_cast<double>(r.numel()) * static_cast<double>(f32_in_memory ? 4 : cache_dtype_size(r.dtype));
    const auto s = source.find(&r);
    // Each term is below 2^52; only an index of thousands of absurd records could overflow.
    if (__builtin_add_overflow(m.source_params, s == source.end() ? r.numel() : s->second, &m.source_params))
      throw FileError(cache.file, r.field, "source parameter count overflows at record " + in_quotes(r.name));
  }
  m.bits_per_param = m.source_params > 0 ? m.param_bytes * 8 / static_cast<double>(m.source_params) : 0.0;
  return m;
}

namespace {

DType stored_dtype(const std::string& d) {
  if (d == "uint32") return DType::U32;
  if (d == "float16") return DType::F16;
  if (d == "bfloat16") return DType::BF16;
  return DType::F32;
}

// Scales of an fp32 preset held as bf16 bits (f32-to-bf16 float32, or the b16 view's bfloat16):
// widened exactly, u16 << 16 (spec 4 reader rule).
std::shared_ptr<const std::vector<uint8_t>> widen_bf16(const uint8_t* src, int64_t numel) {
  auto out = std::make_shared<std::vector<uint8_t>>(static_cast<std::size_t>(numel) * 4);
  for (int64_t i = 0; i < numel; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    std::memcpy(out->data() + 4 * i, &bits, 4);
  }
  return out;
}

std::string summary_of(const CacheLayer& l, const Preset& model) {
  std::string s = l.preset->name;
  s += l.preset->kn ? " KN" : " NK";
  if (l.preset != &model) s += std::string(" (") + model.name + " stores this NK)";
  const int64_t padded = (l.cols + l.preset->gs - 1) / l.preset->gs * l.preset->gs;
  if (padded != l.cols) s += ", K " + std::to_string(l.cols) + " padded to " + std::to_string(padded);
  if (l.embedding) s += l.tied ? ", embedding tied to the output" : ", embedding (lookup)";
  return s;
}

}  // namespace

ModelDir open_tensor_cache(const std::string& dir, ModelData data) {
  const TensorCache cache = read_tensor_cache(dir);
  const ChatConfig config = read_chat_config(dir);
  const std::vector<CacheLayer> layers = cache_layers(cache, *config.preset, &config);

  ModelDir m;
  m.files.dir = dir;
  m.files.config_file = cache.file;
  m.files.quant_method = config.preset->name;
  std::vector<std::shared_ptr<const MappedFile>> maps;
  for (const CacheShard& s : cache.shards) {
    m.files.files.push_back((fs::path(cache.dir) / s.data_path).string());
    if (data != ModelData::mapped) continue;
    auto f = std::make_shared<const MappedFile>(m.files.files.back());
    if (f->size() != static_cast<std::size_t>(s.nbytes))
      throw FileError(cache.file, field_path(s.field, "nbytes"),
                      "is " + std::to_string(s.nbytes) + ", but shard file " + in_quotes(s.data_path) + " now holds " +
                          std::to_string(f->size()) + " bytes");
    maps.push_back(f);
    m.storage.push_back(f);
  }
  const auto bytes_of = [&](const CacheRecord& r) -> const uint8_t* {
    return maps.empty() || r.nbytes == 0 ? nullptr : maps[r.shard]->data() + r.byte_offset;
  };

  std::set<const CacheRecord*> used;
  for (const CacheLayer& cl : layers) {
    used.insert(cl.q_weight);
    used.insert(cl.q_scale);
    const CacheRecord& qw = *cl.q_weight;
    const CacheRecord& qs = *cl.q_scale;
    ModelLayer l;
    l.spec.name = cl.key;
    l.spec.format = format_id(*cl.preset);
    l.spec.rows = cl.rows;
    l.spec.cols = cl.cols;
    l.spec.experts = cl.experts;
    l.spec.experts_per_token =
        cl.experts > 1 && config.experts_per_token > 0 ? std::min(config.experts_per_token, cl.experts) : cl.experts;
    l.spec.lookup = cl.embedding && !cl.tied;
    l.spec.summary = summary_of(cl, *config.preset);
    l.file = cache.shard_path(qw);
    l.weight.format = find_format(l.spec.format);
    if (!l.weight.format) throw std::logic_error("mlc: format " + l.spec.format + " is not registered");
    l.weight.rows = cl.rows;
    l.weight.cols = cl.cols;
    // A stacked [E, N, words] tensor is E row blocks of one [E N, words] matrix.
    std::vector<int64_t> qw_shape = qw.shape, qs_shape = qs.shape;
    if (cl.experts > 1 || qw_shape.size() == 3) {
      qw_shape = {cl.rows, qw.shape[2]};
      qs_shape = {cl.rows, qs.shape[2]};
    }
    l.weight.tensors.push_back({"q_weight", DType::U32, qw_shape, bytes_of(qw), static_cast<std::size_t>(qw.nbytes)});
    const bool widen = cl.preset->dtype == ModelDType::f32 && (qs.bf16_encoded() || qs.dtype == "bfloat16");
    if (widen) {
      const uint8_t* src = bytes_of(qs);
      const uint8_t* wide = nullptr;
      if (src) {
        auto buf = widen_bf16(src, qs.numel());
        wide = buf->data();
        m.storage.push_back(buf);
      }
      l.weight.tensors.push_back({"q_scale", DType::F32, qs_shape, wide, static_cast<std::size_t>(qs.numel()) * 4});
    } else {
      l.weight.tensors.push_back({"q_scale", stored_dtype(qs.dtype), qs_shape, bytes_of(qs), static_cast<std::size_t>(qs.nbytes)});
    }
    // The same checks as a fixture's (harness/stored_check.h), named by the cache's record.
    try {
      check_stored(l.weight);
    } catch (const StoredTensorError& e) {
      const CacheRecord& bad = e.tensor() == "q_scale" ? qs : qw;
      throw FileError(cache.file, field_path(bad.field, e.field().empty() ? "shape" : e.field()),
                      "record " + in_quotes(bad.name) + ": " + e.what());
    }
    m.layers.push_back(std::move(l));
  }
  for (const CacheRecord& r : cache.records) {
    if (used.count(&r)) continue;
    const std::string type = r.bf16_encoded() ? "float32 (bf16 on disk)" : r.dtype;
    auto it = std::find_if(m.unquantized.begin(), m.unquantized.end(), [&](const auto& u) { return u.first == type; });
    if (it == m.unquantized.end()) it = m.unquantized.insert(m.unquantized.end(), {type, 0});
    ++it->second;
  }
  return m;
}

}  // namespace qb::mlc

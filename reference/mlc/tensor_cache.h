// MLC-LLM's tensor cache (specs/mlc.md section 4): the directory `mlc_llm convert_weight` writes,
//   ndarray-cache.json or tensor-cache.json   records: name, shape, dtype, format, nbytes, byteOffset
//   params_shard_<i>.bin                      the records' bytes, concatenated
//   mlc-chat-config.json                      "quantization": the preset; "model_config": sizes
// read as a model: every `X.q_weight` + `X.q_scale` pair is a layer of format mlc_<preset>.
//
// Which file: tensor-cache.json (the current name, spec 0) when present, else ndarray-cache.json;
// the *-cache-b16.json views are never read (they describe the same bytes with float32 records
// relabelled bfloat16, spec 4). Records are little-endian; a record whose dtype is float32 and
// format f32-to-bf16 holds 2 bytes per element (bf16 bits, widened as u16 << 16); every other
// record is raw bytes whatever its format says.
//
// Every error is a FileError naming the file (the cache JSON, a shard, mlc-chat-config.json),
// the field ("records[1].records[4].byteOffset") and, in the message, the record's name.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/model_dir.h"
#include "reference/mlc/mlc.h"

namespace qb::mlc {

struct CacheShard {
  std::string data_path;  // as the JSON names it, relative to the cache directory
  int64_t nbytes = 0;     // the shard file's size as the JSON states it
  std::string md5sum;     // hex; empty when the JSON has none
  std::string field;      // "records[i]", for messages
};

struct CacheRecord {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;   // as stored: "uint32", "float32", "bfloat16", ...
  std::string format;  // "f32-to-bf16" or "raw"
  int64_t nbytes = 0;  // on disk
  int64_t byte_offset = 0;
  std::size_t shard = 0;  // index into TensorCache::shards
  std::string field;      // "records[i].records[j]", for messages
  int64_t numel() const;  // checked against overflow when read
  // float32 stored as bf16 bits (2 bytes per element on disk, spec 4).
  bool bf16_encoded() const { return dtype == "float32" && format == "f32-to-bf16"; }
};

struct TensorCache {
  std::string dir;
  std::string file;  // the cache JSON read
  nlohmann::ordered_json metadata;  // as stored (null when absent); cache_metadata() recomputes it
  std::vector<CacheShard> shards;
  std::vector<CacheRecord> records;  // in file order
  const CacheRecord* find(const std::string& name) const;
  std::string shard_path(const CacheRecord& r) const;  // dir / data_path
};

// Bytes per element of a cache dtype string, or 0 for a dtype this reader does not know.
int64_t cache_dtype_size(const std::string& dtype);

// The cache JSON in `dir` (tensor-cache.json preferred over ndarray-cache.json; regular files
// only), or "" when there is none.
std::string cache_json_in(const std::string& dir);
// Whether `dir` holds a cache JSON (Family::containers detect).
bool is_tensor_cache_dir(const std::string& dir);

// The records of a cache JSON already parsed (`file` names it in errors), checked without
// touching any shard file: records unique by name, known dtype and format, nbytes = numel x
// element size (2 for f32-to-bf16 float32), inside the shard's stated nbytes, no two records of a
// shard overlapping. Throws FileError.
TensorCache parse_tensor_cache(const nlohmann::ordered_json& j, const std::string& file);
// The cache of a directory (or its cache JSON): parse_tensor_cache, then every shard file must
// exist as a regular file (dataPath inside the directory) of exactly its stated nbytes.
TensorCache read_tensor_cache(const std::string& dir_or_json);
// Lower-case hex MD5 of bytes (a shard's md5sum).
std::string md5_hex(const uint8_t* data, std::size_t n);
// The md5 of every shard that states one; FileError (the JSON, records[i].md5sum) on the first
// mismatch. Reads every shard in full.
void check_shard_md5(const TensorCache& cache);

// mlc-chat-config.json: the preset and the model sizes K may be read from.
struct ChatConfig {
  std::string file;
  const Preset* preset = nullptr;  // a group preset (spec 1); others are refused
  // Candidate in_features (name, value) from model_config: hidden_size, intermediate_size,
  // moe_intermediate_size, n_embd, n_inner, num_attention_heads x head_dim. Used only where K is
  // not a multiple of the group size (resolve_in_features).
  std::vector<std::pair<std::string, int64_t>> in_features;
  int64_t experts_per_token = 0;  // model_config.num_experts_per_tok; 0 when absent
};
// Throws FileError: file missing, "quantization" missing or not a string, a preset quantbench
// does not read (the message lists the group presets), model_config sizes not positive integers.
ChatConfig read_chat_config(const std::string& dir);

// The true K of a quantized weight stored in `ng` groups of `gs` (spec 2.2: the last group is
// padded): a model_config size lying in the last group, (ng - 1) gs < K <= ng gs, else ng gs
// (a K that is a multiple of gs, or no model_config). Two different sizes in the last group
// cannot be told apart from the tensors: FileError (config file, "model_config"), naming both
// and `what`.
int64_t resolve_in_features(int64_t ng, int64_t gs, const ChatConfig* config, const std::string& what);

// One quantized weight of a cache: X.q_weight + X.q_scale as a layer.
struct CacheLayer {
  std::string key;  // X
  const Preset* preset = nullptr;  // the weight's own layout: an embedding of a KN preset is stored
                                   // NK (spec 2.1), so it is the preset's NK twin (same bits, group
                                   // size, scale dtype): q3f16_0 -> q3f16_1, q4f16_0 -> q4f16_1,
                                   // q4bf16_0 -> q4bf16_1
  int64_t rows = 0, cols = 0;      // N (experts x N for a stacked MoE tensor), K
  int64_t experts = 1;
  bool embedding = false;  // an embedding table (lookup unless it is the tied lm_head)
  bool tied = false;       // an embedding also used as the output projection (no lm_head stored)
  const CacheRecord* q_weight = nullptr;
  const CacheRecord* q_scale = nullptr;
};
// Every X.q_weight with its X.q_scale, in record order, shapes checked against the format's
// layout (q_weight uint32; q_scale the preset's scale dtype, or for an fp32 preset bfloat16 /
// f32-to-bf16 float32, widened when read). FileError (the cache JSON, the record's field).
std::vector<CacheLayer> cache_layers(const TensorCache& cache, const Preset& preset, const ChatConfig* config);

// Spec 4.1, computed from the records (what convert_weight writes into "metadata").
struct CacheMetadata {
  int64_t param_size = 0;      // records
  double param_bytes = 0;      // in memory: float32 counts 4 bytes even when stored as bf16, and so
                               // does a bfloat16 record of an fp32 preset (the b16 view of float32)
  int64_t source_params = 0;   // source (HF) elements: N x K per quantized weight (K logical),
                               // numel of every other record except q_scale
  double bits_per_param = 0;   // param_bytes x 8 / source_params
};
CacheMetadata cache_metadata(const TensorCache& cache, const Preset& preset, const std::vector<CacheLayer>& layers);

// Family::containers: the cache directory as a model. Layers in record order; an embedding is a
// lookup (LayerSpec::lookup) unless no output projection (lm_head, head, embed_out) is stored.
// Records that are not part of a layer are counted per dtype in ModelDir::unquantized.
ModelDir open_tensor_cache(const std::string& dir, ModelData data);

}  // namespace qb::mlc

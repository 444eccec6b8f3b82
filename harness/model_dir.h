// Models, for every family: a GGUF file (harness/gguf.h), a directory some family's container
// detects (Family::containers: a converter's own layout, such as a tensor cache of shard files),
// or a Hugging Face style directory: config.json with a
// quantization_config (or a separate quantization_config.json), weights in one *.safetensors
// file or in shards (listed by model.safetensors.index.json, or every *.safetensors present),
// memory-mapped. The family whose quant_methods claims quantization_config.quant_method turns
// the tensors into layers (Family::recognize); in a GGUF file every tensor of a quantized type is a
// layer of the family listing GGUF type ids. Every error is a FileError naming the file and
// the field or tensor; the JSON files are parsed strictly (harness/json_field.h: duplicate keys
// and invalid UTF-8 are refused).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/gguf.h"
#include "harness/qweight.h"
#include "harness/safetensors.h"

namespace qb {

struct GgufDialect;  // harness/family.h

struct Family;
class MappedFile;

// One linear layer as a family declares it: registry rows x cols = out x in features.
struct LayerSpec {
  std::string name;    // module key, e.g. "model.layers.0.self_attn.q_proj"
  std::string format;  // registry id
  int64_t rows = 0, cols = 0;
  nlohmann::json params = nlohmann::json::object();
  std::string summary;  // the family's few words on the params, for report lines ("bits 4 mcg")
  // A mixture-of-experts tensor stacks `experts` matrices of rows/experts x cols, of which one
  // token multiplies `experts_per_token` (GGUF: ne[2] and <arch>.expert_used_count).
  int64_t experts = 1, experts_per_token = 1;
  // A table a token reads one row of (a token embedding), not a matrix it multiplies: verify
  // checks it like any layer, bench's per-token GEMV projection leaves it out. A table that also
  // serves as the output projection (tied weights) is a GEMV and not marked.
  bool lookup = false;
};

struct ModelLayer {
  LayerSpec spec;
  std::string file;  // the file holding the layer's main tensor
  QWeight weight;    // tensors view the mapped files; data null when opened headers-only
};

// One tensor of a model directory: its header entry and the file holding it.
struct ModelTensor {
  const TensorEntry* entry = nullptr;
  std::size_t file = 0;        // index into ModelFiles::files
  const uint8_t* data = nullptr;  // null when opened headers-only
};

enum class ModelData { headers_only, mapped };

// The container read, before any family looks at it.
class ModelFiles {
 public:
  std::string dir;
  std::string config_file;  // where quant_config came from
  nlohmann::ordered_json quant_config;
  std::string quant_method;
  std::vector<std::string> files;  // safetensors files, in load order

  const ModelTensor* find(const std::string& name) const;
  const std::vector<std::string>& names() const { return order_; }  // every tensor, in file order
  const std::string& file_of(const ModelTensor& t) const { return files[t.file]; }
  // FileError "tensors.<name>.dtype/.shape" unless the tensor has this dtype and rank.
  void expect(const ModelTensor& t, DType dtype, std::size_t dims) const;
  // A QWeight tensor named `as` viewing this tensor's bytes.
  TensorView view(const ModelTensor& t, const std::string& as) const;
  // Whether tensor data is mapped (ModelData::mapped) or only the headers were read.
  bool mapped() const { return !maps_.empty(); }

 private:
  friend ModelFiles open_model_files(const std::string& dir, ModelData data);
  // Shared, so that copies of a ModelFiles keep the entries their ModelTensors point to.
  std::vector<std::shared_ptr<const SafetensorsHeader>> headers_;
  std::map<std::string, ModelTensor> tensors_;
  std::vector<std::string> order_;
  std::vector<std::shared_ptr<const MappedFile>> maps_;  // owners of the weights' data
};

// quantization_config from a bare quantization_config JSON, a config.json that embeds one, or a
// model directory; `config_file` receives the file it came from. quant_method must be a string
// some family claims: otherwise FileError naming the file, the field, the value and the known
// methods.
nlohmann::ordered_json load_quant_config(const std::string& file_or_dir, std::string* config_file = nullptr);

// A folder holding config.json, or one a family's container detects: verify treats it as one
// model, not as a folder of fixtures.
bool is_model_dir(const std::string& dir);
// A regular file named *.gguf or beginning with the GGUF magic: one model, too.
bool is_gguf_model(const std::string& path);

ModelFiles open_model_files(const std::string& dir, ModelData data);

// check_stored (harness/stored_check.h) on a layer a family built from `files`, its tensors named
// <module>.<layout name>: a StoredTensorError becomes a FileError naming the file that holds the
// faulty tensor and its field, or `whole` (the layer's main tensor) with ".shape" when the
// weight's shape or params are at fault.
void check_layer_stored(const ModelFiles& files, const QWeight& w, const std::string& module, const std::string& whole);

struct ModelDir {
  ModelFiles files;  // a GGUF model: dir and files name the .gguf file, no safetensors tensors
  const Family* family = nullptr;  // the claiming family; null for a GGUF file (its layers' formats name theirs)
  std::vector<ModelLayer> layers;  // in file order
  // GGUF: the file (its map owns the layers' bytes), and its unquantized tensors (norms,
  // embeddings kept in f32/f16), counted per type name in first-seen order: no format checks them.
  std::shared_ptr<const GgufFile> gguf;
  const GgufDialect* gguf_dialect = nullptr;  // the dialect that claimed it (harness/family.h), or null
  std::vector<std::pair<std::string, int64_t>> unquantized;
  // A container's (Family::containers): owners of what its layers' tensors view (mapped shard
  // files, copies it converted to the format's stored dtype).
  std::vector<std::shared_ptr<const void>> storage;
};
// A model directory, a directory some family's container detects (that container opens it, even
// when config.json is present too), or a GGUF file (is_gguf_model). GGUF tensor ne = [in, out, ...] becomes a
// layer of rows = out x (any further dims), cols = in; GGUF data is always mapped (pages are read
// only when touched, so a headers-only listing costs no more).
ModelDir open_model_dir(const std::string& dir, ModelData data);

}  // namespace qb

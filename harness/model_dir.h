// EXL3 model directories as upstream writes them: config.json with a quantization_config (or a
// separate quantization_config.json), weights in one model.safetensors or in shards (with or
// without model.safetensors.index.json). Every linear layer (X.trellis + X.suh + X.svh, codebook
// marker X.mcg / X.mul1) becomes a QWeight of format "exl3" whose tensors view the mapped files.
// Every error is a FileError naming the file and the field or tensor.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/qweight.h"
#include "harness/safetensors.h"

namespace qb {

// One EXL3 linear layer: k = in features (suh), n = out features (svh); the weight is n x k.
struct Exl3LayerSpec {
  std::string name;  // module key, e.g. "layers.0.self_attn.q_proj"
  int64_t k = 0, n = 0;
  int bits = 0;
  std::string codebook;  // "3inst", "mcg", "mul1"
  nlohmann::json params() const { return {{"bits", bits}, {"codebook", codebook}}; }
};

// quantization_config from a bare quantization_config JSON (what upstream writes to
// quantization_config.json), a config.json that embeds one, or a model directory.
nlohmann::ordered_json load_quant_config(const std::string& file_or_dir);
// The EXL3 layers tensor_storage lists, in its order; `file` names the source in errors.
std::vector<Exl3LayerSpec> exl3_layers_of(const nlohmann::ordered_json& quant_config, const std::string& file);

// A folder holding config.json: verify treats it as one model, not as a folder of fixtures.
bool is_model_dir(const std::string& dir);

struct ModelLayer {
  Exl3LayerSpec spec;
  std::string file;  // the file holding the trellis
  QWeight weight;    // format exl3 (null while unregistered); data null when opened headers-only
};

class MappedFile;

struct ModelDir {
  std::string path;
  std::string config_file;  // where quant_config came from
  nlohmann::ordered_json quant_config;
  std::vector<std::string> files;  // safetensors files, in load order
  std::vector<ModelLayer> layers;  // in file order
  std::vector<std::shared_ptr<const MappedFile>> maps;  // owners of the weights' data
};

enum class ModelData { headers_only, mapped };
ModelDir open_model_dir(const std::string& dir, ModelData data);

}  // namespace qb

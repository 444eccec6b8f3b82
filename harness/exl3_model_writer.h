// Synthetic EXL3 model directories in upstream's layout, from a real quantization_config: the
// seed's layer names, dtypes and codebooks, shapes scaled down, random trellis words and scales.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace qb {

struct Exl3ModelOptions {
  double scale = 1.0;  // dims that are multiples of 128 (above 128) shrink by this, rounded up to 128
  int layers = -1;     // keep layers.0 .. layers.N-1 (and every module outside `layers.`); -1: all
  uint64_t seed = 1;
  int shards = 1;      // > 1: model-0000i-of-0000N.safetensors + model.safetensors.index.json
};

// `config` is a config.json holding quantization_config (its other fields are kept) or a bare
// quantization_config. Writes config.json, quantization_config.json and the weights into `dir`.
void write_exl3_model(const nlohmann::ordered_json& config, const std::string& dir, const Exl3ModelOptions& opt);

// A dimension after scaling (the rule above).
int64_t scaled_dim(int64_t d, double scale);

}  // namespace qb

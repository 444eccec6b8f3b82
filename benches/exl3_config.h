// bench --exl3-config: the GEMVs of one token of a real EXL3 model, from its quantization_config
// (shape, bits and codebook of every linear layer), and the per-token time they add up to.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "benches/bench_context.h"

namespace qb::bench {

struct ModelCases {
  std::string source;
  int64_t layers = 0;  // EXL3 linear layers in the model
  std::vector<BenchCase> cases;  // one per distinct (shape, bits, codebook), in first-seen order
};
// Throws qb::FileError naming the file and field.
ModelCases exl3_model_cases(const std::string& file_or_dir);

struct Projection {
  std::string variant;
  double seconds_per_token = 0;  // sum over cases of seconds per call x multiplicity
  int64_t layers_measured = 0;   // < ModelCases::layers when a filter dropped some rows
};
std::vector<Projection> project(const ModelCases& model,
                                const std::map<std::string, std::map<std::string, double>>& seconds);
void print_projection(const ModelCases& model, const std::vector<Projection>& p, int threads);
// Adds "exl3_model" (cases and projection) to a Google Benchmark JSON file written by this run.
void add_projection_to_json(const std::string& json_path, const ModelCases& model, const std::vector<Projection>& p);

}  // namespace qb::bench

// bench --model: the GEMVs of one token of a real model, from its directory (the layers its
// family recognizes in the weight files' headers) or its quantization config alone (the layers
// the family reads from it), and the per-token time they add up to.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "benches/bench_context.h"
#include "harness/model_dir.h"

namespace qb::bench {

struct ModelCases {
  std::string source;
  int64_t layers = 0;             // GEMVs per token: linear layers, a MoE tensor's experts_per_token each
  std::string moe_note;           // "K of N experts" when the model has mixture-of-experts tensors
  int64_t lookups = 0;            // lookup tables (LayerSpec::lookup) left out: no GEMV per token
  std::vector<BenchCase> cases;  // one per distinct (format, shape, params), in first-seen order
};
// A model directory (or a directory a family's container detects, or a JSON file in one), or a
// JSON file holding a quantization_config (config.json, or a bare quantization_config as
// quantization_config.json). Throws qb::FileError naming the file and
// field, e.g. for a quant_method no family claims.
ModelCases model_cases(const std::string& dir_or_config);
// Layers grouped into one case per distinct (format, shape, params), each with its multiplicity
// (the GEMVs of that case one token runs) and a tag of the layer kinds it stands for; lookup
// tables (LayerSpec::lookup) are counted in `lookups`, not benched. Throws
// qb::FileError (file = source) for a layer of an unregistered format.
ModelCases cases_of_layers(const std::string& source, const std::vector<LayerSpec>& layers);
// A family's shape suite (harness/family.h ShapeSuite) as a model; std::invalid_argument naming
// the known suites for an unknown name.
ModelCases suite_cases(const std::string& name);

struct Projection {
  std::string variant;
  double seconds_per_token = 0;  // sum over cases of seconds per call x multiplicity
  int64_t layers_measured = 0;   // < ModelCases::layers when a filter dropped some rows
  double weight_bytes = 0;       // stored weight bytes of the measured layers (GB/s = bytes / seconds)
};
// One row per variant (a variant runs its own format's layers only); for a model of several
// formats first a "fastest per layer" row, which needs each variant's format (variant_format).
std::vector<Projection> project(const ModelCases& model,
                                const std::map<std::string, std::map<std::string, double>>& seconds,
                                const std::map<std::string, std::string>& variant_format);
void print_projection(const ModelCases& model, const std::vector<Projection>& p, int threads);
// Adds "model" (cases and projection) to a Google Benchmark JSON file written by this run.
void add_projection_to_json(const std::string& json_path, const ModelCases& model, const std::vector<Projection>& p);

// bench --<a family's ModelChoices option> FILE: one model per choice the file offers.
struct ChoiceModel {
  std::string name;  // the choice's name (ModelChoice::name)
  double bpw = 0;    // as the file records it; 0: not recorded
  ModelCases model;
  std::vector<Projection> projection;  // filled after the run
};
// One table, a row per choice: its name (column `label`), bpw, and per variant the projected
// ms/token and the weights read per second (all layers' stored bytes over that time).
void print_choice_table(const std::string& source, const std::string& label, const std::vector<ChoiceModel>& choices,
                        int threads);
// Adds "choices" (each one's name, bpw, cases and projection) to a Google Benchmark JSON file.
void add_choices_to_json(const std::string& json_path, const std::vector<ChoiceModel>& choices);

}  // namespace qb::bench

// EXL2 model directories (Family::recognize): Hugging Face directories whose config.json carries
// quantization_config.quant_method "exl2" (specs/exl2.md section 1), sharded safetensors; every
// linear layer X is X.q_weight + X.q_scale + X.q_scale_max + X.q_groups + X.q_invperm (+ X.bias).
// The group table is read from q_groups' data, so the files must be mapped. Every error is a
// FileError naming the file and the tensor field.
#include <cstdio>
#include <string>

#include "harness/model_dir.h"
#include "harness/registry.h"
#include "harness/safetensors.h"
#include "harness/shape.h"
#include "harness/stored_check.h"
#include "reference/exl2/exl2.h"

namespace qb::exl2 {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<ModelLayer> recognize_model(const ModelFiles& files) {
  const Format* format = find_format("exl2");
  std::vector<ModelLayer> layers;
  for (const auto& name : files.names()) {
    const std::string suffix = ".q_weight";
    if (!ends_with(name, suffix)) continue;
    const std::string key = name.substr(0, name.size() - suffix.size());
    const ModelTensor& qw = *files.find(name);
    files.expect(qw, DType::I32, 2);
    const ModelTensor* parts[4] = {files.find(key + ".q_scale"), files.find(key + ".q_scale_max"),
                                   files.find(key + ".q_groups"), files.find(key + ".q_invperm")};
    const char* part_names[4] = {"q_scale", "q_scale_max", "q_groups", "q_invperm"};
    for (int i = 0; i < 4; ++i)
      if (!parts[i])
        throw FileError(files.file_of(qw), "tensors." + key + "." + part_names[i],
                        "missing: an EXL2 layer is q_weight + q_scale + q_scale_max + q_groups + q_invperm");
    files.expect(*parts[0], DType::I32, 2);
    files.expect(*parts[1], DType::F16, 1);
    files.expect(*parts[2], DType::I16, 1);
    files.expect(*parts[3], DType::I32, 1);
    const ModelTensor* bias = files.find(key + ".bias");
    if (bias) files.expect(*bias, DType::F16, 1);
    const int64_t n = qw.entry->shape[1], k = parts[3]->entry->shape[0];
    const ModelTensor& qg = *parts[2];
    if (!qg.data)
      throw FileError(files.file_of(qg), "tensors." + key + ".q_groups",
                      "has no data to read: EXL2 group tables live in q_groups' values");
    // The table q_groups states must meet upstream's rules (bits descending, whole rows, covering
    // the q_invperm's input features): its errors name q_groups, not the shapes they imply.
    std::vector<Group> groups;
    try {
      groups = groups_from_stored(qg.data, qg.entry->shape[0], qw.entry->shape[0]);
      parse_params({{"groups", groups_json(groups)}}, k);
    } catch (const std::invalid_argument& e) {
      throw FileError(files.file_of(qg), "tensors." + key + ".q_groups.value", e.what());
    }

    ModelLayer layer;
    layer.spec.name = key;
    layer.spec.format = "exl2";
    layer.spec.rows = n;
    layer.spec.cols = k;
    layer.spec.params = {{"groups", groups_json(groups)}};
    if (bias) layer.spec.params["bias"] = true;
    double bits = 0;
    for (const Group& g : groups) bits += static_cast<double>(g.bits * g.rows);
    char summary[64];
    std::snprintf(summary, sizeof summary, "%.3g bits/weight in levels, %zu groups", k > 0 ? bits / static_cast<double>(k) : 0.0,
                  groups.size());
    layer.spec.summary = summary;
    layer.file = files.file_of(qw);
    layer.weight.format = format;
    layer.weight.rows = n;
    layer.weight.cols = k;
    layer.weight.params = layer.spec.params;
    layer.weight.tensors.push_back(files.view(qw, "q_weight"));
    for (int i = 0; i < 4; ++i) layer.weight.tensors.push_back(files.view(*parts[i], part_names[i]));
    if (bias) layer.weight.tensors.push_back(files.view(*bias, "bias"));
    // The same checks as a fixture's: the file named is the one holding the faulty tensor.
    check_layer_stored(files, layer.weight, key, name);
    layers.push_back(std::move(layer));
  }
  return layers;
}

}  // namespace qb::exl2

// A 2023 exllamav2 measurement.json (converter <= v0.0.9, specs/exl2.md section 10): per linear
// layer, the candidate options with their bpw, total_bits and measured relative output error.
//
//   {"measurement": [{"key", "numel", "options": [{"desc", "bpw", "total_bits", "err", "qparams"}],
//                     "best_option"?, "best_option_max"?}, ...],
//    "last_module_idx"?, "base_perplexity"?}
//
// Only this per-layer form is read. Master's measurement (an "accuracy" per whole attention/MLP
// module over option combinations, exllamav2/conversion/measure.py, spec 10) is a different
// document; reading one fails with a FileError at the first field that does not fit.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/family.h"
#include "reference/exl2/qparams.h"

namespace qb::exl2 {

struct MeasurementOption {
  std::string desc;       // the 2023 option string; agrees with qparams (checked)
  double bpw = 0;         // bits per weight, upstream's float (spec 10)
  double total_bits = 0;  // numel * bpw as a Python float product (not always an integer)
  double err = 0;         // mean relative output error ||X.W'^T - Y|| / ||Y|| over calibration rows
  QParams qparams;
};

struct MeasurementLayer {
  std::string key;  // module name, e.g. "model.layers.0.self_attn.q_proj"
  int64_t numel = 0;  // in_features * out_features; the 2023 file records no shape
  std::vector<MeasurementOption> options;  // in file order, at least one
  // The optimizer's choices where the file records them (the 2023 converter writes both).
  std::optional<MeasurementOption> best_option, best_option_max;
};

struct Measurement {
  std::string file;  // the path it was read from (named by layer_shape's errors)
  std::vector<MeasurementLayer> layers;  // in file order, keys unique
  std::optional<int64_t> last_module_idx;  // how far the measurement pass got (module index)
  std::optional<double> base_perplexity;   // the unquantized model's perplexity on the calibration set

  const MeasurementLayer* find(const std::string& key) const;  // nullptr when absent
};

// Reads and checks a measurement.json. Throws qb::FileError naming the file and the JSON path of
// the field at fault ("measurement[3].options[7].qparams.bits[1]") for any problem: unreadable or
// truncated file, invalid JSON or UTF-8, duplicate object keys, wrong types, missing keys, numel
// <= 0, an empty option list, non-finite or negative bpw / total_bits / err, an invalid qparams
// (the rules of qparams_from_json), a desc that does not parse or disagrees with its qparams, a
// layer key given twice. Unknown keys outside qparams are ignored (annotations).
Measurement read_measurement(const std::string& path);

// (K in_features, N out_features) of a layer of a Llama-style model, inferred from numel (the 2023
// file has no shapes). hidden = sqrt(numel of the same decoder layer's self_attn.q_proj, or of the
// first q_proj in the file when that layer has none), exact; then
//   q_proj, o_proj: (hidden, hidden)    k_proj, v_proj, gate_proj, up_proj, lm_head: (hidden, numel/hidden)
//   down_proj: (numel/hidden, hidden)
// Throws qb::FileError (file = m.file, field = the layer's "measurement[i].numel" or "...key")
// naming the key when the shape cannot be inferred: an unknown module name, no q_proj, a q_proj
// whose numel is not a square, a numel not divisible by hidden, an o_proj that is not hidden^2.
std::pair<int64_t, int64_t> layer_shape(const Measurement& m, const MeasurementLayer& layer);

// The model a measurement describes, under each option (reference/exl2/measurement_layers.cpp;
// `bench --exl2-measurement FILE`).
//
// The options every layer lists, in the first layer's order (the 2023 converter measures each
// layer with the same list). A choice's layers are every measured layer, in file order: format
// "exl2", rows = N, cols = K from layer_shape, params {"option": desc}. Its bpw is the file's own
// figure for the whole model: the sum of the option's total_bits over the sum of numel.
// FileError (file and field) when no option is listed by every layer, or from layer_shape.
std::vector<ModelChoice> measurement_choices(const Measurement& m);
// read_measurement, then measurement_choices: Family::model_choices' `read`.
std::vector<ModelChoice> measurement_choices_of_file(const std::string& path);

}  // namespace qb::exl2

// A 2023 measurement.json as the model it measured, once per option (`bench --exl2-measurement
// FILE`): every measured layer at the shape layer_shape infers, quantized with that option.
#include <map>
#include <set>

#include "harness/json_field.h"
#include "reference/exl2/measurement.h"

namespace qb::exl2 {

std::vector<ModelChoice> measurement_choices(const Measurement& m) {
  // The options every layer lists, in the first layer's order. Each layer's options by desc, for
  // the bpw sums below (a desc listed twice in one layer counts once, its first entry).
  std::vector<std::map<std::string, const MeasurementOption*>> by_desc(m.layers.size());
  for (std::size_t i = 0; i < m.layers.size(); ++i)
    for (const MeasurementOption& o : m.layers[i].options) by_desc[i].emplace(o.desc, &o);
  std::vector<std::string> descs;
  std::set<std::string> seen;
  for (const MeasurementOption& o : m.layers.front().options) {
    if (!seen.insert(o.desc).second) continue;
    bool everywhere = true;
    for (std::size_t i = 1; i < m.layers.size() && everywhere; ++i) everywhere = by_desc[i].count(o.desc) > 0;
    if (everywhere) descs.push_back(o.desc);
  }
  if (descs.empty())
    throw FileError(m.file, "measurement", "no option desc is listed by every layer: the model cannot be built with any one option");

  // Shapes do not depend on the option: inferred once per layer.
  std::vector<std::pair<int64_t, int64_t>> shapes;  // (K, N)
  shapes.reserve(m.layers.size());
  for (const MeasurementLayer& l : m.layers) shapes.push_back(layer_shape(m, l));

  std::vector<ModelChoice> out;
  for (const std::string& desc : descs) {
    ModelChoice c;
    c.name = desc;
    double bits = 0, numel = 0;
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      const MeasurementLayer& l = m.layers[i];
      bits += by_desc[i].at(desc)->total_bits;
      numel += static_cast<double>(l.numel);
      LayerSpec s;
      s.name = l.key;
      s.format = "exl2";
      s.rows = shapes[i].second;  // N out_features
      s.cols = shapes[i].first;   // K in_features
      s.params = {{"option", desc}};
      s.summary = desc;
      c.layers.push_back(std::move(s));
    }
    c.bpw = numel > 0 ? bits / numel : 0;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ModelChoice> measurement_choices_of_file(const std::string& path) {
  return measurement_choices(read_measurement(path));
}

}  // namespace qb::exl2

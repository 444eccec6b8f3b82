#include "benches/exl3_config.h"

#include <cstdio>
#include <fstream>

#include "harness/model_dir.h"

namespace qb::bench {

ModelCases exl3_model_cases(const std::string& file_or_dir) {
  ModelCases m;
  m.source = file_or_dir;
  const auto qc = load_quant_config(file_or_dir);
  std::map<std::string, std::size_t> index;  // case key -> position in m.cases
  for (const Exl3LayerSpec& l : exl3_layers_of(qc, file_or_dir)) {
    ++m.layers;
    // "layers.3.mlp.up_proj" -> "mlp.up_proj": the kind a decoder stack repeats.
    std::string kind = l.name;
    if (kind.rfind("layers.", 0) == 0) {
      const auto dot = kind.find('.', 7);
      if (dot != std::string::npos) kind = kind.substr(dot + 1);
    }
    const Shape shape{l.n, l.k};
    const std::string id = shape.str() + "/K" + std::to_string(l.bits) + "-" + l.codebook;
    auto it = index.find(id);
    if (it == index.end()) {
      it = index.emplace(id, m.cases.size()).first;
      BenchCase c;
      c.shape = shape;
      c.params = l.params();
      c.tag = kind;
      c.multiplicity = 0;
      c.model_layers = true;
      m.cases.push_back(std::move(c));
    }
    BenchCase& c = m.cases[it->second];
    ++c.multiplicity;
    if (("+" + c.tag + "+").find("+" + kind + "+") == std::string::npos) c.tag += "+" + kind;
  }
  for (BenchCase& c : m.cases)
    c.tag += "-K" + c.params["bits"].dump() + "-" + c.params["codebook"].get<std::string>() + "-x" +
             std::to_string(c.multiplicity);
  return m;
}

std::vector<Projection> project(const ModelCases& model,
                                const std::map<std::string, std::map<std::string, double>>& seconds) {
  std::vector<Projection> out;
  for (const auto& [variant, by_case] : seconds) {
    Projection p;
    p.variant = variant;
    for (const BenchCase& c : model.cases)
      if (const auto s = by_case.find(c.key()); s != by_case.end()) {
        p.seconds_per_token += s->second * static_cast<double>(c.multiplicity);
        p.layers_measured += c.multiplicity;
      }
    out.push_back(p);
  }
  return out;
}

void print_projection(const ModelCases& model, const std::vector<Projection>& p, int threads) {
  std::printf("\nprojected GEMV time per token (m=1, %d threads): %lld EXL3 layers of %s, %zu distinct\n", threads,
              static_cast<long long>(model.layers), model.source.c_str(), model.cases.size());
  for (const Projection& r : p) {
    std::printf("  %-28s %10.3f ms/token  %9.1f tokens/s", r.variant.c_str(), r.seconds_per_token * 1e3,
                r.seconds_per_token > 0 ? 1.0 / r.seconds_per_token : 0.0);
    if (r.layers_measured < model.layers)
      std::printf("  (only %lld of %lld layers measured)", static_cast<long long>(r.layers_measured),
                  static_cast<long long>(model.layers));
    std::printf("\n");
  }
  std::fflush(stdout);
}

void add_projection_to_json(const std::string& json_path, const ModelCases& model, const std::vector<Projection>& p) {
  nlohmann::ordered_json j;
  {
    std::ifstream in(json_path);
    j = nlohmann::ordered_json::parse(in, nullptr, false);
  }
  if (j.is_discarded()) {
    std::fprintf(stderr, "bench: %s is not JSON; the projection is not added\n", json_path.c_str());
    return;
  }
  auto cases = nlohmann::ordered_json::array();
  for (const BenchCase& c : model.cases)
    cases.push_back({{"key", c.key()}, {"rows", c.shape.rows}, {"cols", c.shape.cols}, {"params", c.params},
                     {"multiplicity", c.multiplicity}});
  auto proj = nlohmann::ordered_json::array();
  for (const Projection& r : p)
    proj.push_back({{"variant", r.variant},
                    {"ms_per_token", r.seconds_per_token * 1e3},
                    {"tokens_per_s", r.seconds_per_token > 0 ? 1.0 / r.seconds_per_token : 0.0},
                    {"layers_measured", r.layers_measured}});
  j["exl3_model"] = {{"source", model.source}, {"layers", model.layers}, {"cases", cases}, {"projection", proj}};
  std::ofstream(json_path) << j.dump(2) << "\n";
}

}  // namespace qb::bench

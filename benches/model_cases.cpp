#include "benches/model_cases.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "harness/family.h"
#include "harness/model_dir.h"

namespace qb::bench {
namespace {

// "model.layers.3.mlp.up_proj" -> "mlp.up_proj", and GGUF's "blk.3.ffn_up.weight" ->
// "ffn_up.weight": the kind of module a decoder stack repeats.
std::string layer_kind(const std::string& name) {
  for (const std::string stack : {"layers.", "blk."}) {
    for (std::size_t at = name.find(stack); at != std::string::npos; at = name.find(stack, at + 1)) {
      if (at > 0 && name[at - 1] != '.') continue;
      std::size_t i = at + stack.size();
      const std::size_t digits = i;
      while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
      if (i > digits && i + 1 < name.size() && name[i] == '.') return name.substr(i + 1);
    }
  }
  return name;
}

// The layers of a directory (recognized in its weight files' headers), a GGUF file, or a config file.
std::vector<LayerSpec> layers_of(const std::string& dir_or_config) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<LayerSpec> specs;
  if (fs::is_directory(dir_or_config, ec) || is_gguf_model(dir_or_config)) {
    for (const ModelLayer& l : open_model_dir(dir_or_config, ModelData::mapped).layers) specs.push_back(l.spec);
    return specs;
  }
  // A file of a container's directory (its index, its config) stands for the directory.
  const fs::path parent = fs::path(dir_or_config).has_parent_path() ? fs::path(dir_or_config).parent_path() : fs::path(".");
  if (find_container(parent.string())) return layers_of(parent.string());
  std::string file;
  const nlohmann::ordered_json qc = load_quant_config(dir_or_config, &file);
  const std::string method = qc["quant_method"].get<std::string>();
  const Family& fam = *family_for_method(method);  // load_quant_config refused unclaimed methods
  if (fam.config_layers) return fam.config_layers(qc, file);
  // Families whose config lists no layers: the weight files next to the config have them.
  const std::string dir = fs::path(file).parent_path().string();
  if (!fs::exists(fs::path(dir.empty() ? "." : dir) / "config.json", ec))
    throw FileError(file, "quant_method",
                    "is '" + method + "': family " + fam.id +
                        " reads its layers from the weight files; pass the model directory");
  return layers_of(dir.empty() ? "." : dir);
}

}  // namespace

// Layers grouped into one case per distinct (format, shape, params) with its multiplicity: the
// GEMVs of that case one token runs (a MoE tensor: its experts_per_token matrices of one expert's
// shape).
ModelCases cases_of_layers(const std::string& source, const std::vector<LayerSpec>& layers) {
  ModelCases m;
  m.source = source;
  std::map<std::string, std::size_t> index;  // case key -> position in m.cases
  for (const LayerSpec& l : layers) {
    if (l.lookup) {
      ++m.lookups;  // a token reads one row of it: no GEMV to time
      continue;
    }
    m.layers += l.experts_per_token;
    if (l.experts > 1) m.moe_note = std::to_string(l.experts_per_token) + " of " + std::to_string(l.experts) + " experts";
    const Format* format = find_format(l.format);
    if (!format) throw FileError(source, l.name, "format '" + l.format + "' is not registered");
    const std::string kind = layer_kind(l.name);
    const Shape shape{l.rows / l.experts, l.cols};
    const std::string id = l.format + "/" + shape.str() + "/" + l.params.dump();
    auto it = index.find(id);
    if (it == index.end()) {
      it = index.emplace(id, m.cases.size()).first;
      BenchCase c;
      c.format = l.format;
      c.shape = shape;
      c.params = l.params;
      c.tag = kind;
      c.multiplicity = 0;
      c.model_layers = true;
      m.cases.push_back(std::move(c));
    }
    BenchCase& c = m.cases[it->second];
    c.multiplicity += l.experts_per_token;
    if (("+" + c.tag + "+").find("+" + kind + "+") == std::string::npos) c.tag += "+" + kind;
  }
  for (BenchCase& c : m.cases) {
    const Family& fam = family_of(*find_format(c.format));
    const std::string tag = fam.case_tag ? fam.case_tag(c.params) : "";
    if (!tag.empty()) c.tag += "-" + tag;
    c.tag += "-x" + std::to_string(c.multiplicity);
  }
  return m;
}

ModelCases model_cases(const std::string& dir_or_config) { return cases_of_layers(dir_or_config, layers_of(dir_or_config)); }

ModelCases suite_cases(const std::string& name) {
  const ShapeSuite* suite = find_suite(name);
  if (!suite) throw std::invalid_argument("no suite '" + name + "'; suites: " + known_suites());
  return cases_of_layers("suite " + suite->name + " (" + suite->source + ")", suite->layers());
}

namespace {

double case_weight_bytes(const BenchCase& c) {
  const Format* f = find_format(c.format);
  return f ? static_cast<double>(f->stored_bytes(c.shape.rows, c.shape.cols, c.params)) * static_cast<double>(c.multiplicity)
           : 0.0;
}

std::string gbps(const Projection& r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", r.seconds_per_token > 0 ? r.weight_bytes / r.seconds_per_token / 1e9 : 0.0);
  return buf;
}

nlohmann::ordered_json model_json(const ModelCases& model, const std::vector<Projection>& p) {
  auto cases = nlohmann::ordered_json::array();
  for (const BenchCase& c : model.cases)
    cases.push_back({{"key", c.key()}, {"format", c.format}, {"rows", c.shape.rows}, {"cols", c.shape.cols},
                     {"params", c.params}, {"multiplicity", c.multiplicity}});
  auto proj = nlohmann::ordered_json::array();
  for (const Projection& r : p)
    proj.push_back({{"variant", r.variant},
                    {"ms_per_token", r.seconds_per_token * 1e3},
                    {"tokens_per_s", r.seconds_per_token > 0 ? 1.0 / r.seconds_per_token : 0.0},
                    {"weight_GBps", r.seconds_per_token > 0 ? r.weight_bytes / r.seconds_per_token / 1e9 : 0.0},
                    {"layers_measured", r.layers_measured}});
  return {{"source", model.source}, {"layers", model.layers}, {"lookups_left_out", model.lookups}, {"cases", cases},
          {"projection", proj}};
}

// The JSON file this run wrote, `key` set to `value`.
void add_to_json(const std::string& json_path, const char* key, nlohmann::ordered_json value) {
  nlohmann::ordered_json j;
  {
    std::ifstream in(json_path);
    j = nlohmann::ordered_json::parse(in, nullptr, false);
  }
  if (j.is_discarded()) {
    std::fprintf(stderr, "bench: %s is not JSON; the projection is not added\n", json_path.c_str());
    return;
  }
  j[key] = std::move(value);
  std::ofstream(json_path) << j.dump(2) << "\n";
}

}  // namespace

std::vector<Projection> project(const ModelCases& model,
                                const std::map<std::string, std::map<std::string, double>>& seconds,
                                const std::map<std::string, std::string>& variant_format) {
  std::vector<Projection> out;
  // Layers of several formats: no one variant runs them all, so first the sum of each layer's
  // fastest variant of its own format.
  bool several = false;
  for (const BenchCase& c : model.cases) several |= c.format != model.cases.front().format;
  if (several) {
    Projection best;
    best.variant = "fastest per layer";
    for (const BenchCase& c : model.cases) {
      double s = -1;
      for (const auto& [variant, by_case] : seconds) {
        const auto f = variant_format.find(variant);
        const auto t = by_case.find(c.key());
        if (f != variant_format.end() && f->second == c.format && t != by_case.end() && (s < 0 || t->second < s)) s = t->second;
      }
      if (s < 0) continue;
      best.seconds_per_token += s * static_cast<double>(c.multiplicity);
      best.layers_measured += c.multiplicity;
      best.weight_bytes += case_weight_bytes(c);
    }
    if (best.layers_measured > 0) out.push_back(best);
  }
  for (const auto& [variant, by_case] : seconds) {
    Projection p;
    p.variant = variant;
    for (const BenchCase& c : model.cases)
      if (const auto s = by_case.find(c.key()); s != by_case.end()) {
        p.seconds_per_token += s->second * static_cast<double>(c.multiplicity);
        p.layers_measured += c.multiplicity;
        p.weight_bytes += case_weight_bytes(c);
      }
    out.push_back(p);
  }
  return out;
}

void print_projection(const ModelCases& model, const std::vector<Projection>& p, int threads) {
  std::string formats;
  for (const BenchCase& c : model.cases)
    if (("," + formats + ",").find("," + c.format + ",") == std::string::npos) formats += (formats.empty() ? "" : ",") + c.format;
  std::printf("\nprojected GEMV time per token (m=1, %d threads): %lld %s layers of %s, %zu distinct%s%s\n", threads,
              static_cast<long long>(model.layers), formats.c_str(), model.source.c_str(), model.cases.size(),
              model.moe_note.empty() ? "" : ("; mixture-of-experts tensors as the " + model.moe_note + " a token uses").c_str(),
              model.lookups == 0 ? ""
                                 : ("; " + std::to_string(model.lookups) +
                                    " lookup table(s) (embeddings: a token reads one row) left out")
                                       .c_str());
  for (const Projection& r : p) {
    std::printf("  %-28s %10.3f ms/token  %9.1f tokens/s  %8s GB/s", r.variant.c_str(), r.seconds_per_token * 1e3,
                r.seconds_per_token > 0 ? 1.0 / r.seconds_per_token : 0.0, gbps(r).c_str());
    if (r.layers_measured < model.layers)
      std::printf("  (only %lld of %lld layers measured)", static_cast<long long>(r.layers_measured),
                  static_cast<long long>(model.layers));
    std::printf("\n");
  }
  std::fflush(stdout);
}

void add_projection_to_json(const std::string& json_path, const ModelCases& model, const std::vector<Projection>& p) {
  add_to_json(json_path, "model", model_json(model, p));
}

void print_choice_table(const std::string& source, const std::string& label, const std::vector<ChoiceModel>& choices,
                        int threads) {
  // Columns: every variant that measured something, in the projections' order.
  std::vector<std::string> variants;
  int64_t layers = 0;
  std::size_t distinct = 0, name_width = label.size();
  for (const ChoiceModel& c : choices) {
    layers = std::max(layers, c.model.layers);
    distinct = std::max(distinct, c.model.cases.size());
    name_width = std::max(name_width, c.name.size());
    for (const Projection& p : c.projection)
      if (std::find(variants.begin(), variants.end(), p.variant) == variants.end()) variants.push_back(p.variant);
  }
  const int w = static_cast<int>(name_width);
  int g = 20;  // a variant's columns: ms/token and GB/s under its name
  for (const std::string& v : variants) g = std::max(g, static_cast<int>(v.size()));
  std::printf("\nprojected GEMV time per token (m=1, %d threads) of each %s of %s: %lld layers, %zu distinct shapes"
              " and params per %s\n",
              threads, label.c_str(), source.c_str(), static_cast<long long>(layers), distinct, label.c_str());
  std::printf("%-*s %7s", w, "", "");
  for (const std::string& v : variants) std::printf("  %-*s", g, v.c_str());
  std::printf("\n%-*s %7s", w, label.c_str(), "bpw");
  for (std::size_t i = 0; i < variants.size(); ++i) std::printf("  %*s %8s", g - 9, "ms/token", "GB/s");
  std::printf("\n");
  bool partial = false;
  for (const ChoiceModel& c : choices) {
    std::printf("%-*s %7.4f", w, c.name.c_str(), c.bpw);
    for (const std::string& v : variants) {
      const auto r = std::find_if(c.projection.begin(), c.projection.end(), [&](const Projection& p) { return p.variant == v; });
      if (r == c.projection.end() || r->layers_measured == 0) {
        std::printf("  %*s %8s", g - 9, "-", "-");
        continue;
      }
      const bool some = r->layers_measured < c.model.layers;
      partial |= some;
      std::printf("  %*.3f%s %8s", g - 10, r->seconds_per_token * 1e3, some ? "*" : " ", gbps(*r).c_str());
    }
    std::printf("\n");
  }
  std::printf("bpw: as the file records it, all layers' bits over all their weights; GB/s: the stored weights "
              "a token reads over its projected time\n");
  if (partial) std::printf("*: only some of the layers measured (a filter dropped rows)\n");
  std::fflush(stdout);
}

void add_choices_to_json(const std::string& json_path, const std::vector<ChoiceModel>& choices) {
  auto all = nlohmann::ordered_json::array();
  for (const ChoiceModel& c : choices)
    all.push_back({{"name", c.name}, {"bpw", c.bpw}, {"model", model_json(c.model, c.projection)}});
  add_to_json(json_path, "choices", std::move(all));
}

}  // namespace qb::bench

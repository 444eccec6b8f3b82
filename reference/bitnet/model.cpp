// BitNet b1.58 Hugging Face checkpoints (Family::recognize and Family::config_layers;
// specs/bitnet.md 1, 2, 2.1): config.json with quantization_config.quant_method "bitnet", every
// BitLinear projection stored as <module>.weight U8 [ceil(out/4), in] (four 2-bit codes per byte,
// packed along the output dimension) beside <module>.weight_scale BF16 [1]. Every such pair is a
// layer of format bitnet_hf; other tensors (the bf16 token embedding, the norms, modules left
// unconverted) are not BitNet weights and are left out.
//
// out_features: the packed rows give only ceil(out/4), so out comes from config.json for the
// projections a BitNet / Llama decoder layer has (q/k/v/o/gate/up/down_proj: hidden_size,
// intermediate_size, num_attention_heads, num_key_value_heads, head_dim or hidden/heads), and
// must agree with the packed rows and in_features; a module of another name is read as 4 x its
// packed rows (its summary says so). Every error is a FileError naming the file and the field.
//
// weight_scale values are not checked: a NaN, Inf, zero or negative scale is accepted, as the
// bitnet_hf format itself accepts it (its reference defines the decode and GEMV of such a scale,
// and verify plants them in derived cases); a container is never stricter about a tensor than
// the format is (harness/stored_check.h), and a headers-only open has no values to check.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "harness/json_field.h"
#include "harness/model_dir.h"
#include "harness/registry.h"
#include "harness/safetensors.h"
#include "harness/shape.h"
#include "harness/stored_check.h"
#include "reference/bitnet/bitnet.h"

namespace qb::bitnet {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// Sizes beyond any model: keeps every product of two of them (rows x cols, bytes) far from
// overflowing 64 bits when a config alone sizes bench's buffers.
constexpr int64_t kMaxSize = int64_t{1} << 24;
constexpr int64_t kMaxLayers = int64_t{1} << 16;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Where the quantization_config and the model's sizes come from.
struct Config {
  std::string qc_file;     // the file holding quantization_config
  std::string qc_field;    // its path there: "quantization_config" (in config.json), "" (a bare file)
  std::string model_file;  // the config.json holding hidden_size etc. ("" when there is none)
  ojson model;             // its top-level object
};

Config read_config(const std::string& qc_file) {
  Config c;
  c.qc_file = qc_file;
  ojson j = parse_json_file<ojson>(qc_file);
  require_object(j, qc_file, "");
  if (j.contains("quantization_config")) {
    c.qc_field = "quantization_config";
    c.model_file = qc_file;
    c.model = std::move(j);
    return c;
  }
  // A bare quantization_config.json: the sizes are in the config.json beside it, if any.
  const fs::path parent = fs::path(qc_file).has_parent_path() ? fs::path(qc_file).parent_path() : fs::path(".");
  const fs::path beside = parent / "config.json";
  std::error_code ec;
  if (fs::is_regular_file(beside, ec)) {
    c.model_file = beside.string();
    c.model = parse_json_file<ojson>(c.model_file);
    require_object(c.model, c.model_file, "");
  }
  return c;
}

struct Rule {
  ScaleRule rule = ScaleRule::divide;
  std::string summary;  // "scale multiply (linear_class autobitlinear)"
};

// quant_method, linear_class and quantization_mode of the checkpoint's quantization_config.
Rule rule_of(const ojson& qc, const Config& c) {
  const std::string& file = c.qc_file;
  require_object(qc, file, c.qc_field);
  const std::string method_field = field_path(c.qc_field, "quant_method");
  const std::string method = get_string(require_field(qc, file, c.qc_field, "quant_method"), file, method_field);
  if (method != "bitnet") throw FileError(file, method_field, "is '" + method + "', not 'bitnet' (the BitNet family's reader)");
  // The weight_scale convention is the checkpoint's linear_class (specs/bitnet.md 2.1):
  // transformers' AutoBitLinear ("autobitlinear", offline) computes F.linear(ActQuant(x), T) *
  // weight_scale (multiply; weight_scale ~ mean|W|, 2B-4T's ~1.5), BitLinear ("bitlinear")
  // computes (x_q @ T^T) / (weight_scale * input_scale) (divide; weight_scale ~ 1/mean|W|).
  // BitNetQuantConfig's default linear_class is "bitlinear", so a config without the field
  // divides; transformers refuses any other value, and so do we.
  const std::string class_field = field_path(c.qc_field, "linear_class");
  const std::optional<std::string> linear_class = optional_string(qc, file, c.qc_field, "linear_class");
  Rule r;
  if (!linear_class || *linear_class == "bitlinear") {
    r.rule = ScaleRule::divide;
    r.summary = linear_class ? "scale divide (linear_class bitlinear)" : "scale divide (no linear_class: bitlinear)";
  } else if (*linear_class == "autobitlinear") {
    r.rule = ScaleRule::multiply;
    r.summary = "scale multiply (linear_class autobitlinear)";
  } else {
    throw FileError(file, class_field,
                    "is '" + *linear_class + "'; known: 'bitlinear' (weight_scale divides, the default) and "
                    "'autobitlinear' (weight_scale multiplies) (specs/bitnet.md 2.1)");
  }
  // quantization_mode (default "offline"): only AutoBitLinear reads it; "online" means the
  // stored weights are floats it quantizes at every forward, so there is no packed layer to read.
  const std::string mode_field = field_path(c.qc_field, "quantization_mode");
  const std::optional<std::string> mode = optional_string(qc, file, c.qc_field, "quantization_mode");
  if (mode && *mode != "offline" && *mode != "online")
    throw FileError(file, mode_field, "is '" + *mode + "'; known: 'offline' (the default) and 'online'");
  if (mode && *mode == "online" && r.rule == ScaleRule::multiply)
    throw FileError(file, mode_field,
                    "is 'online' with linear_class 'autobitlinear': the checkpoint stores unquantized weights that "
                    "AutoBitLinear quantizes at load, not BitNet's packed U8 + weight_scale layers");
  return r;
}

// A size derived from config.json, with how it was derived (for messages).
struct Size {
  int64_t value = 0;
  std::string how;
};

// The projections of a BitNet (Llama-style) decoder layer and their out/in features.
enum class Dim { q, kv, hidden, intermediate };
struct Projection {
  const char* name;  // the module's last name component
  const char* path;  // where config_layers places it in a decoder layer
  Dim out, in;
};
constexpr Projection kProjections[] = {
    {"q_proj", "self_attn.q_proj", Dim::q, Dim::hidden},
    {"k_proj", "self_attn.k_proj", Dim::kv, Dim::hidden},
    {"v_proj", "self_attn.v_proj", Dim::kv, Dim::hidden},
    {"o_proj", "self_attn.o_proj", Dim::hidden, Dim::q},
    {"gate_proj", "mlp.gate_proj", Dim::intermediate, Dim::hidden},
    {"up_proj", "mlp.up_proj", Dim::intermediate, Dim::hidden},
    {"down_proj", "mlp.down_proj", Dim::hidden, Dim::intermediate},
};

const Projection* projection_named(const std::string& module) {
  const std::size_t dot = module.rfind('.');
  const std::string last = dot == std::string::npos ? module : module.substr(dot + 1);
  for (const Projection& p : kProjections)
    if (last == p.name) return &p;
  return nullptr;
}

class Sizes {
 public:
  explicit Sizes(const Config& c) : c_(c) {}

  Size of(Dim d) const {
    switch (d) {
      case Dim::hidden:
        return named("hidden_size");
      case Dim::intermediate:
        return named("intermediate_size");
      case Dim::q:
        return product(heads(), head_dim(), "num_attention_heads");
      case Dim::kv:
        return product(kv_heads(), head_dim(), "num_key_value_heads");
    }
    return {};
  }

  int64_t layers() const { return get("num_hidden_layers", kMaxLayers); }

 private:
  int64_t get(const std::string& key, int64_t hi = kMaxSize) const {
    if (c_.model_file.empty())
      throw FileError(c_.qc_file, key,
                      "missing: a bare quantization_config with no config.json beside it; BitNet's packed rows give only "
                      "ceil(out/4), and config.json's sizes give out");
    return get_int(require_field(c_.model, c_.model_file, "", key), c_.model_file, key, 1, hi);
  }
  Size named(const std::string& key) const {
    const int64_t v = get(key);
    return {v, key + " " + std::to_string(v)};
  }
  // heads x head_dim, held to the same bound as a stated size (both factors are at most 2^24).
  Size product(const Size& heads, const Size& head_dim, const char* field) const {
    const int64_t v = heads.value * head_dim.value;
    if (v > kMaxSize)
      throw FileError(c_.model_file, field,
                      heads.how + " x " + head_dim.how + " = " + std::to_string(v) + " features, above " + std::to_string(kMaxSize));
    return {v, heads.how + " x " + head_dim.how};
  }
  Size heads() const { return named("num_attention_heads"); }
  // transformers' default: as many KV heads as attention heads.
  Size kv_heads() const {
    if (!c_.model_file.empty() && c_.model.contains("num_key_value_heads") && !c_.model["num_key_value_heads"].is_null())
      return named("num_key_value_heads");
    const Size h = heads();
    return {h.value, "num_attention_heads " + std::to_string(h.value) + " (no num_key_value_heads)"};
  }
  // head_dim when config.json states it, otherwise hidden_size / num_attention_heads (integer
  // division, as transformers derives it).
  Size head_dim() const {
    if (!c_.model_file.empty() && c_.model.contains("head_dim") && !c_.model["head_dim"].is_null()) return named("head_dim");
    const int64_t hidden = get("hidden_size"), h = get("num_attention_heads");
    if (hidden / h < 1)
      throw FileError(c_.model_file, "num_attention_heads",
                      "is " + std::to_string(h) + ", more than hidden_size " + std::to_string(hidden) + ": head_dim would be 0");
    return {hidden / h, "head_dim " + std::to_string(hidden / h) + " (hidden_size / num_attention_heads)"};
  }

  const Config& c_;
};

LayerSpec make_spec(const std::string& name, int64_t rows, int64_t cols, const Rule& rule, const std::string& note) {
  LayerSpec s;
  s.name = name;
  s.format = "bitnet_hf";
  s.rows = rows;
  s.cols = cols;
  s.params = {{"scale_rule", rule.rule == ScaleRule::multiply ? "multiply" : "divide"}};
  s.summary = rule.summary + note;
  return s;
}

std::string str(int64_t v) { return std::to_string(v); }

const std::string& sizes_file(const Config& c) { return c.model_file.empty() ? c.qc_file : c.model_file; }

}  // namespace

std::vector<LayerSpec> config_layers(const ojson& quant_config, const std::string& file) {
  const Config c = read_config(file);
  const Rule rule = rule_of(quant_config, c);
  const Sizes sizes(c);
  // transformers leaves a module plain when its dotted name contains an entry of
  // modules_to_not_convert (lm_head, typically): not a BitNet layer.
  std::vector<std::string> skip;
  if (const ojson* m = find_field(quant_config, file, c.qc_field, "modules_to_not_convert"); m && !m->is_null()) {
    const std::string field = field_path(c.qc_field, "modules_to_not_convert");
    require_array(*m, file, field);
    for (std::size_t i = 0; i < m->size(); ++i) skip.push_back(get_string((*m)[i], file, field_path(field, i)));
  }
  const int64_t n = sizes.layers();
  std::vector<LayerSpec> out;
  for (int64_t l = 0; l < n; ++l)
    for (const Projection& p : kProjections) {
      const std::string name = "model.layers." + str(l) + "." + p.path;
      bool plain = false;
      for (const std::string& s : skip) plain |= !s.empty() && name.find(s) != std::string::npos;
      if (!plain) out.push_back(make_spec(name, sizes.of(p.out).value, sizes.of(p.in).value, rule, ""));
    }
  return out;
}

std::vector<ModelLayer> recognize_model(const ModelFiles& files) {
  const Config c = read_config(files.config_file);
  if (files.quant_method != "bitnet")
    throw FileError(files.config_file, field_path(c.qc_field, "quant_method"),
                    "is '" + files.quant_method + "', not 'bitnet' (the BitNet family's reader)");
  const Rule rule = rule_of(files.quant_config, c);
  const Sizes sizes(c);
  const Format* format = find_format("bitnet_hf");
  std::vector<ModelLayer> layers;
  for (const std::string& name : files.names()) {
    if (ends_with(name, ".weight_scale")) {
      const std::string module = name.substr(0, name.size() - std::string(".weight_scale").size());
      if (!files.find(module + ".weight"))
        throw FileError(files.file_of(*files.find(name)), "tensors." + module + ".weight",
                        "missing: " + name + " has no packed weight beside it");
      continue;
    }
    if (!ends_with(name, ".weight")) continue;
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    const ModelTensor& w = *files.find(name);
    const ModelTensor* scale = files.find(module + ".weight_scale");
    const std::string field = "tensors." + name;
    if (!scale) {
      if (w.entry->dtype != DType::U8) continue;  // a float tensor: embedding, norm, unconverted module
      throw FileError(files.file_of(w), "tensors." + module + ".weight_scale",
                      "missing: a U8 packed BitNet weight needs its BF16 [1] weight_scale (specs/bitnet.md 2)");
    }
    if (w.entry->dtype != DType::U8)
      throw FileError(files.file_of(w), field + ".dtype",
                      "is " + std::string(dtype_name(w.entry->dtype)) +
                          ", expected U8: a weight beside a weight_scale is BitNet's packed ternary weight, 4 codes a byte");
    files.expect(w, DType::U8, 2);
    files.expect(*scale, DType::BF16, 1);
    if (scale->entry->shape[0] != 1)
      throw FileError(files.file_of(*scale), "tensors." + module + ".weight_scale.shape",
                      "is " + shape_str(scale->entry->shape) + ", expected [1]: one scale per projection");
    if (const ModelTensor* bias = files.find(module + ".bias"))
      throw FileError(files.file_of(*bias), "tensors." + module + ".bias",
                      "present: format bitnet_hf has no bias term, so its GEMV would not be the layer's");

    const int64_t packed = w.entry->shape[0], cols = w.entry->shape[1];
    int64_t rows = 4 * packed;  // dims read from safetensors are at most 2^40: no overflow
    std::string note;
    if (const Projection* p = projection_named(module)) {
      const Size out = sizes.of(p->out), in = sizes.of(p->in);
      if (cols != in.value)
        throw FileError(files.file_of(w), field + ".shape",
                        "is " + shape_str(w.entry->shape) + ": in_features " + str(cols) + ", but " + sizes_file(c) + " gives " +
                            p->name + " in_features " + str(in.value) + " (" + in.how + ")");
      if ((out.value + 3) / 4 != packed)
        throw FileError(files.file_of(w), field + ".shape",
                        "is " + shape_str(w.entry->shape) + ": " + str(packed) + " packed rows, but " + sizes_file(c) + " gives " +
                            p->name + " out_features " + str(out.value) + " (" + out.how + "), ceil(out/4) = " +
                            str((out.value + 3) / 4));
      rows = out.value;
    } else {
      note = "; out = 4 x " + str(packed) + " packed rows (no config size for this module)";
    }

    ModelLayer layer;
    layer.spec = make_spec(module, rows, cols, rule, note);
    layer.file = files.file_of(w);
    layer.weight.format = format;
    layer.weight.rows = rows;
    layer.weight.cols = cols;
    layer.weight.params = layer.spec.params;
    layer.weight.tensors.push_back(files.view(w, "weight"));
    layer.weight.tensors.push_back(files.view(*scale, "weight_scale"));
    // The same checks as a fixture's: the file named is the one holding the faulty tensor.
    check_layer_stored(files, layer.weight, module, name);
    layers.push_back(std::move(layer));
  }
  if (layers.empty())
    throw FileError(files.config_file, field_path(c.qc_field, "quant_method"),
                    "is 'bitnet', but no weight file holds a packed BitNet layer (<module>.weight U8 [ceil(out/4), in] "
                    "with <module>.weight_scale BF16 [1])");
  return layers;
}

}  // namespace qb::bitnet

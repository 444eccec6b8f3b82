#include "reference/exl2/measurement.h"

#include <cmath>
#include <ios>
#include <map>

#include <nlohmann/json.hpp>

#include "harness/json_field.h"
#include "harness/safetensors.h"

namespace qb::exl2 {

namespace {

using nlohmann::json;

std::string str(int64_t v) { return std::to_string(v); }

// A finite number >= 0 (bpw, total_bits, err: a size or an error norm ratio; JSON cannot say NaN,
// but a number too large for a double parses to infinity).
double non_negative(const json& obj, const std::string& file, const std::string& path, const char* key) {
  const std::string at = field_path(path, key);
  const double v = get_number(require_field(obj, file, path, key), file, at);
  if (!std::isfinite(v) || v < 0) throw FileError(file, at, "is " + std::to_string(v) + ", expected a finite number >= 0");
  return v;
}

MeasurementOption read_option(const json& o, const std::string& file, const std::string& path) {
  require_object(o, file, path);
  MeasurementOption opt;
  const std::string qpath = field_path(path, "qparams");
  try {
    opt.qparams = qparams_from_json(require_field(o, file, path, "qparams"));
  } catch (const QParamsFieldError& e) {
    throw FileError(file, e.field().empty() ? qpath : qpath + "." + e.field(), e.cause());
  }
  const std::string dpath = field_path(path, "desc");
  opt.desc = get_string(require_field(o, file, path, "desc"), file, dpath);
  // The desc labels the option the numbers belong to; one that says something else means the
  // file was edited or mixed up.
  QParams from_desc;
  try {
    from_desc = parse_desc(opt.desc);
  } catch (const std::invalid_argument& e) {
    throw FileError(file, dpath, e.what());
  }
  if (!same_option(from_desc, opt.qparams))
    throw FileError(file, dpath, "'" + opt.desc + "' disagrees with qparams, which say '" +
                                     (opt.qparams.per_width_group_size ? desc_current(opt.qparams) : desc_2023(opt.qparams)) + "'");
  opt.bpw = non_negative(o, file, path, "bpw");
  opt.total_bits = non_negative(o, file, path, "total_bits");
  opt.err = non_negative(o, file, path, "err");
  return opt;
}

// The module a key names, for layer_shape: the last dotted component and the part before it.
struct KeyParts {
  std::string prefix;  // "model.layers.3" for "model.layers.3.self_attn.q_proj"
  std::string block;   // "self_attn", "mlp" or "" (lm_head)
  std::string name;    // "q_proj", ..., "lm_head"
};

KeyParts split_key(const std::string& key) {
  KeyParts k;
  const std::size_t last = key.rfind('.');
  k.name = last == std::string::npos ? key : key.substr(last + 1);
  if (last == std::string::npos) return k;
  const std::string head = key.substr(0, last);
  const std::size_t prev = head.rfind('.');
  k.block = prev == std::string::npos ? head : head.substr(prev + 1);
  k.prefix = prev == std::string::npos ? "" : head.substr(0, prev);
  return k;
}

// floor(sqrt(v)) exactly, for v up to 2^62.
int64_t isqrt(int64_t v) {
  int64_t r = static_cast<int64_t>(std::sqrt(static_cast<double>(v)));
  while (r > 0 && r > v / r) --r;
  while ((r + 1) <= v / (r + 1)) ++r;
  return r;
}

}  // namespace

const MeasurementLayer* Measurement::find(const std::string& key) const {
  for (const MeasurementLayer& l : layers)
    if (l.key == key) return &l;
  return nullptr;
}

Measurement read_measurement(const std::string& path) {
  json doc;
  try {
    doc = parse_json_file<json>(path);  // FileError on I/O, invalid JSON/UTF-8, duplicate keys
  } catch (const std::ios_base::failure& e) {
    // libstdc++'s filebuf throws on a read error (a directory: EISDIR) even with no exception mask.
    throw FileError(path, "", std::string("cannot read: ") + e.what());
  }
  const std::string& file = path;
  Measurement m;
  m.file = path;
  require_object(doc, file, "");
  const json& layers = require_array(require_field(doc, file, "", "measurement"), file, "measurement");
  if (layers.empty()) throw FileError(file, "measurement", "is empty: no layer was measured");
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string lpath = field_path("measurement", i);
    const json& l = require_object(layers[i], file, lpath);
    MeasurementLayer layer;
    layer.key = get_string(require_field(l, file, lpath, "key"), file, field_path(lpath, "key"));
    if (layer.key.empty()) throw FileError(file, field_path(lpath, "key"), "is empty");
    if (const auto [it, fresh] = seen.emplace(layer.key, i); !fresh)
      throw FileError(file, field_path(lpath, "key"),
                      "'" + layer.key + "' was already measured at " + field_path("measurement", it->second));
    layer.numel = get_int(require_field(l, file, lpath, "numel"), file, field_path(lpath, "numel"), 1);
    const std::string opath = field_path(lpath, "options");
    const json& options = require_array(require_field(l, file, lpath, "options"), file, opath);
    if (options.empty()) throw FileError(file, opath, "is empty: a measured layer has at least one option");
    for (std::size_t j = 0; j < options.size(); ++j) layer.options.push_back(read_option(options[j], file, field_path(opath, j)));
    if (const json* b = find_field(l, file, lpath, "best_option")) layer.best_option = read_option(*b, file, field_path(lpath, "best_option"));
    if (const json* b = find_field(l, file, lpath, "best_option_max"))
      layer.best_option_max = read_option(*b, file, field_path(lpath, "best_option_max"));
    m.layers.push_back(std::move(layer));
  }
  if (const json* v = find_field(doc, file, "", "last_module_idx")) m.last_module_idx = get_int(*v, file, "last_module_idx", 0);
  if (const json* v = find_field(doc, file, "", "base_perplexity")) {
    const double p = get_number(*v, file, "base_perplexity");
    if (!std::isfinite(p) || p <= 0) throw FileError(file, "base_perplexity", "is " + std::to_string(p) + ", expected a positive number");
    m.base_perplexity = p;
  }
  return m;
}

std::pair<int64_t, int64_t> layer_shape(const Measurement& m, const MeasurementLayer& layer) {
  // The layer's own JSON path for errors (it may be a copy, so look it up by key).
  std::size_t index = m.layers.size();
  for (std::size_t i = 0; i < m.layers.size(); ++i)
    if (m.layers[i].key == layer.key) index = i;
  if (index == m.layers.size()) throw FileError(m.file, "measurement", "has no layer '" + layer.key + "'");
  const std::string numel_at = field_path(field_path("measurement", index), "numel");
  const std::string key_at = field_path(field_path("measurement", index), "key");

  const KeyParts k = split_key(layer.key);
  const bool attn = k.block == "self_attn" && (k.name == "q_proj" || k.name == "k_proj" || k.name == "v_proj" || k.name == "o_proj");
  const bool mlp = k.block == "mlp" && (k.name == "gate_proj" || k.name == "up_proj" || k.name == "down_proj");
  const bool head = k.name == "lm_head";
  if (!attn && !mlp && !head)
    throw FileError(m.file, key_at, "cannot infer the shape of '" + layer.key +
                                        "': not a Llama-style self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj or lm_head");

  // hidden from q_proj (square in Llama: hidden -> heads * head_dim = hidden), preferably the
  // same decoder layer's.
  const MeasurementLayer* q = head ? nullptr : m.find(k.prefix + (k.prefix.empty() ? "" : ".") + "self_attn.q_proj");
  std::size_t q_index = 0;
  if (!q)
    for (std::size_t i = 0; i < m.layers.size() && !q; ++i) {
      const KeyParts p = split_key(m.layers[i].key);
      if (p.block == "self_attn" && p.name == "q_proj") q = &m.layers[i];
    }
  if (!q) throw FileError(m.file, key_at, "cannot infer the shape of '" + layer.key + "': no self_attn.q_proj to take the hidden size from");
  for (std::size_t i = 0; i < m.layers.size(); ++i)
    if (m.layers[i].key == q->key) q_index = i;
  const int64_t hidden = isqrt(q->numel);
  if (hidden * hidden != q->numel)
    throw FileError(m.file, field_path(field_path("measurement", q_index), "numel"),
                    "cannot infer the shape of '" + layer.key + "': q_proj '" + q->key + "' has numel " + str(q->numel) +
                        ", not a square (hidden x hidden)");

  const int64_t numel = layer.numel;
  if (numel % hidden != 0)
    throw FileError(m.file, numel_at, "cannot infer the shape of '" + layer.key + "': numel " + str(numel) +
                                          " is not a multiple of the hidden size " + str(hidden));
  if (k.name == "q_proj" || k.name == "o_proj") {
    if (numel != hidden * hidden)
      throw FileError(m.file, numel_at, "cannot infer the shape of '" + layer.key + "': numel " + str(numel) +
                                            " is not hidden^2 = " + str(hidden * hidden));
    return {hidden, hidden};
  }
  if (k.name == "down_proj") return {numel / hidden, hidden};
  return {hidden, numel / hidden};  // k_proj, v_proj, gate_proj, up_proj, lm_head
}

}  // namespace qb::exl2

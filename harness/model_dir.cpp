#include "harness/model_dir.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "harness/family.h"
#include "harness/json_field.h"
#include "harness/mapped_file.h"
#include "harness/registry.h"
#include "harness/shape.h"
#include "harness/stored_check.h"

namespace qb {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// quantization_config of one JSON file: embedded in a config.json, or the whole file.
ojson quant_config_of_file(const std::string& file) {
  const ojson j = parse_json_file<ojson>(file);
  require_object(j, file, "");
  const ojson* embedded = find_field(j, file, "", "quantization_config");
  if (!embedded && !find_field(j, file, "", "quant_method"))
    throw FileError(file, "quantization_config",
                    "missing: neither a config.json holding a quantization_config nor a bare quantization_config "
                    "(no quant_method)");
  const std::string field = embedded ? "quantization_config" : "";
  const ojson& qc = require_object(embedded ? *embedded : j, file, field);
  const std::string method_field = field_path(field, "quant_method");
  const std::string method = get_string(require_field(qc, file, field, "quant_method"), file, method_field);
  if (!family_for_method(method))
    throw FileError(file, method_field, "is '" + method + "'; known methods: " + known_quant_methods());
  return qc;
}

}  // namespace

ojson load_quant_config(const std::string& file_or_dir, std::string* config_file) {
  std::error_code ec;
  std::string file = file_or_dir;
  if (fs::is_directory(file_or_dir, ec)) {
    const std::string config = (fs::path(file_or_dir) / "config.json").string();
    const std::string separate = (fs::path(file_or_dir) / "quantization_config.json").string();
    const bool have_config = fs::exists(config, ec);
    if (have_config) {
      const ojson c = parse_json_file<ojson>(config);
      if (find_field(c, config, "", "quantization_config")) file = config;
    }
    if (file == file_or_dir) {
      if (!fs::exists(separate, ec))
        throw FileError(config, "quantization_config",
                        have_config ? "missing, and there is no quantization_config.json next to it"
                                    : "no config.json (nor quantization_config.json) in this directory");
      file = separate;
    }
  }
  ojson qc = quant_config_of_file(file);
  if (config_file) *config_file = file;
  return qc;
}

bool is_model_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "config.json", ec) || (fs::is_directory(dir, ec) && find_container(dir));
}

bool is_gguf_model(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && (fs::path(path).extension() == ".gguf" || has_gguf_magic(path));
}

const ModelTensor* ModelFiles::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void ModelFiles::expect(const ModelTensor& t, DType dtype, std::size_t dims) const {
  const std::string field = "tensors." + t.entry->name;
  if (t.entry->dtype != dtype)
    throw FileError(file_of(t), field + ".dtype",
                    "is " + std::string(dtype_name(t.entry->dtype)) + ", expected " + std::string(dtype_name(dtype)));
  if (t.entry->shape.size() != dims)
    throw FileError(file_of(t), field + ".shape",
                    "is " + shape_str(t.entry->shape) + ", expected " + std::to_string(dims) + " dimensions");
}

TensorView ModelFiles::view(const ModelTensor& t, const std::string& as) const {
  return {as, t.entry->dtype, t.entry->shape, t.data, static_cast<std::size_t>(t.entry->nbytes)};
}

ModelFiles open_model_files(const std::string& dir, ModelData data) {
  ModelFiles m;
  m.dir = dir;
  const fs::path root(dir);
  std::error_code ec;
  m.quant_config = load_quant_config(dir, &m.config_file);
  m.quant_method = get_string(require_field(m.quant_config, m.config_file, "quantization_config", "quant_method"),
                              m.config_file, "quantization_config.quant_method");

  // Shards: the index's weight_map when there is one, otherwise every *.safetensors here.
  const std::string index_file = (root / "model.safetensors.index.json").string();
  std::map<std::string, std::string> weight_map;  // tensor -> file name
  if (fs::exists(index_file, ec)) {
    const ojson index = parse_json_file<ojson>(index_file);
    const ojson& wm = require_object(require_field(index, index_file, "", "weight_map"), index_file, "weight_map");
    std::set<std::string> names;
    for (const auto& [tensor, file] : wm.items()) {
      const std::string field = "weight_map." + tensor;
      const std::string name = get_string(file, index_file, field);
      if (!fs::is_regular_file(root / name, ec))
        throw FileError(index_file, field, "shard '" + name + "' does not exist");
      weight_map[tensor] = name;
      names.insert(name);
    }
    for (const auto& n : names) m.files.push_back((root / n).string());
  } else {
    for (const auto& e : fs::directory_iterator(root, ec))
      if (e.is_regular_file() && e.path().extension() == ".safetensors") m.files.push_back(e.path().string());
    std::sort(m.files.begin(), m.files.end());
  }
  if (m.files.empty()) throw FileError(dir, "", "no *.safetensors weights in this model directory");

  for (const auto& f : m.files) {
    m.headers_.push_back(std::make_shared<const SafetensorsHeader>(read_safetensors_header(f)));
    if (data == ModelData::mapped) m.maps_.push_back(std::make_shared<const MappedFile>(f));
  }

  for (std::size_t fi = 0; fi < m.headers_.size(); ++fi)
    for (const auto& t : m.headers_[fi]->tensors) {
      const std::string field = "tensors." + t.name;
      if (const auto prev = m.tensors_.find(t.name); prev != m.tensors_.end())
        throw FileError(m.files[fi], field, "also stored in " + m.files[prev->second.file]);
      if (!weight_map.empty()) {
        const auto w = weight_map.find(t.name);
        if (w == weight_map.end()) throw FileError(index_file, "weight_map." + t.name, "missing; the tensor is in " + m.files[fi]);
        if ((root / w->second).string() != m.files[fi])
          throw FileError(index_file, "weight_map." + t.name, "names " + w->second + " but the tensor is in " + m.files[fi]);
      }
      const uint8_t* bytes = m.maps_.empty() ? nullptr : m.maps_[fi]->data() + m.headers_[fi]->data_begin + t.offset;
      m.tensors_[t.name] = {&t, fi, bytes};
      m.order_.push_back(t.name);
    }
  for (const auto& [tensor, file] : weight_map)
    if (!m.tensors_.count(tensor))
      throw FileError((root / file).string(), "tensors." + tensor, "listed in the index but not in this shard");
  return m;
}

void check_layer_stored(const ModelFiles& files, const QWeight& w, const std::string& module, const std::string& whole) {
  try {
    check_stored(w);
  } catch (const StoredTensorError& e) {
    const ModelTensor* t = e.tensor().empty() ? nullptr : files.find(module + "." + e.tensor());
    if (!t) t = files.find(whole);
    throw FileError(files.file_of(*t), e.tensor().empty() ? "tensors." + whole + ".shape" : e.field_path("tensors." + module + "."),
                    e.what());
  }
}

namespace {

// A GGUF tensor's stored tensors as its format lays them out: the tensor's bytes cut in layout
// order, then each companion tensor (GgufTypeId::companions) for the layout's last ones.
void cut_gguf_tensor(const GgufFile& g, const GgufTensor& t, const std::vector<StoredTensorSpec>& specs, ModelLayer& l) {
  const std::string field = "tensors." + t.name;
  const std::vector<std::string>& companions = t.type->companions;
  if (companions.size() > specs.size())
    throw std::logic_error("GGUF type " + t.type->name + " names more companions than " + l.weight.format->id + " has tensors");
  const std::size_t own = specs.size() - companions.size();
  std::size_t need = 0;
  for (std::size_t i = 0; i < own; ++i) need += specs[i].bytes();
  if (need != t.nbytes)
    throw FileError(g.path, field, "holds " + std::to_string(t.nbytes) + " bytes where a " + l.weight.format->id + " weight of " +
                                       std::to_string(l.spec.rows) + "x" + std::to_string(l.spec.cols) + " has " + std::to_string(need));
  std::size_t at = 0;
  for (std::size_t i = 0; i < own; ++i) {
    const std::size_t n = specs[i].bytes();
    l.weight.tensors.push_back({specs[i].name, specs[i].dtype, specs[i].shape, t.data + at, n});
    at += n;
  }
  for (std::size_t j = 0; j < companions.size(); ++j) {
    const StoredTensorSpec& s = specs[own + j];
    const std::string name = t.name + companions[j];
    const GgufTensor* c = g.find_tensor(name);
    if (!c)
      throw FileError(g.path, "tensors." + name, "missing: " + t.name + " (" + t.type->name + ") keeps its " + s.name + " there");
    if (!c->type->format.empty() || c->type->block_bytes != static_cast<int64_t>(dtype_size(s.dtype)) ||
        c->nbytes != s.bytes())
      throw FileError(g.path, "tensors." + name, "is " + c->type->name + " of " + std::to_string(c->numel()) + " elements, not the " +
                                                  std::string(dtype_name(s.dtype)) + " " + s.name + " of " +
                                                  std::to_string(s.bytes() / dtype_size(s.dtype)) +
                                                  " elements that " + t.name + " needs");
    l.weight.tensors.push_back({s.name, s.dtype, s.shape, c->data, static_cast<std::size_t>(c->nbytes)});
  }
}

ModelDir open_gguf_model(const std::string& path) {
  ModelDir m;
  if (gguf_types().empty()) throw FileError(path, "", "a GGUF file, but no registered family lists GGUF tensor types");
  m.gguf = std::make_shared<const GgufFile>(read_gguf(path, gguf_types_for));
  m.gguf_dialect = gguf_dialect_for(*m.gguf);
  m.files.dir = path;
  m.files.config_file = path;
  m.files.files = {path};
  // Experts a token uses (llama.cpp's <arch>.expert_used_count); without it a projection counts all.
  int64_t used = 0;
  std::string used_key;
  if (const GgufValue* arch = m.gguf->find("general.architecture"); arch && arch->type() == GgufValueType::string) {
    used_key = std::string(arch->as_string()) + ".expert_used_count";
    if (const GgufValue* v = m.gguf->find(used_key)) {
      try {
        used = static_cast<int64_t>(v->as_uint());
      } catch (const std::exception& e) {
        throw FileError(path, "metadata." + used_key, e.what());
      }
      if (used < 1) throw FileError(path, "metadata." + used_key, "is " + std::to_string(used) + ": a token uses at least one expert");
    }
  }
  std::set<std::string> companions;  // tensors that complete a layer, not layers of their own
  for (const GgufTensor& t : m.gguf->tensors)
    for (const std::string& suffix : t.type->companions) companions.insert(t.name + suffix);
  for (const GgufTensor& t : m.gguf->tensors) {
    if (companions.count(t.name)) continue;
    if (t.type->format.empty()) {
      auto it = std::find_if(m.unquantized.begin(), m.unquantized.end(), [&](const auto& u) { return u.first == t.type->name; });
      if (it == m.unquantized.end()) it = m.unquantized.insert(m.unquantized.end(), {t.type->name, 0});
      ++it->second;
      continue;
    }
    const std::string field = "tensors." + t.name;
    const Format* f = find_format(t.type->format);
    if (!f) throw FileError(path, field + ".type", "is " + t.type->name + ", whose format is not registered");
    ModelLayer l;
    l.spec.name = t.name;
    l.spec.format = f->id;
    l.spec.cols = t.ne.empty() ? 1 : t.ne[0];
    l.spec.rows = l.spec.cols == 0 ? 0 : t.numel() / l.spec.cols;
    if (t.ne.size() == 3 && t.ne[2] > 1) {
      l.spec.experts = t.ne[2];
      l.spec.experts_per_token = used ? used : t.ne[2];
      if (used > t.ne[2])
        throw FileError(path, "metadata." + used_key,
                        "is " + std::to_string(used) + ", more than the " + std::to_string(t.ne[2]) + " experts of " + t.name);
    }
    l.file = path;
    l.weight.format = f;
    l.weight.rows = l.spec.rows;
    l.weight.cols = l.spec.cols;
    if (m.gguf_dialect) {  // say whose numbering the type id was read in, and any params it brought
      if (m.gguf_dialect->params) l.spec.params = m.gguf_dialect->params(*m.gguf, t);
      l.spec.summary = m.gguf_dialect->name + " " + t.type->name + " (type " + std::to_string(t.type->id) + ")";
      for (const auto& [key, value] : l.spec.params.items()) l.spec.summary += " " + key + " " + value.dump();
    }
    l.weight.params = l.spec.params;
    try {
      cut_gguf_tensor(*m.gguf, t, f->layout(l.spec.rows, l.spec.cols, l.spec.params), l);
      check_stored(l.weight);
    } catch (const std::invalid_argument& e) {  // the layout's or check_stored's (a StoredTensorError)
      throw FileError(path, field + ".ne", "gives rows x cols " + std::to_string(l.spec.rows) + "x" + std::to_string(l.spec.cols) +
                                               ", not a " + f->id + " weight: " + e.what());
    }
    m.layers.push_back(std::move(l));
  }
  return m;
}

}  // namespace

ModelDir open_model_dir(const std::string& dir, ModelData data) {
  if (is_gguf_model(dir)) return open_gguf_model(dir);
  std::error_code ec;
  const Family* owner = nullptr;
  if (const ModelContainer* c = fs::is_directory(dir, ec) ? find_container(dir, &owner) : nullptr) {
    ModelDir m = c->open(dir, data);
    m.family = owner;
    for (const ModelLayer& l : m.layers)
      if (!l.weight.format || l.weight.format->id != l.spec.format || !find_format(l.spec.format))
        throw FileError(l.file, l.spec.name, "format '" + l.spec.format + "' is not registered (" + c->name + ")");
    return m;
  }
  ModelDir m;
  m.files = open_model_files(dir, data);
  m.family = family_for_method(m.files.quant_method);  // load_quant_config refused unclaimed methods
  if (!m.family->recognize)
    throw FileError(m.files.config_file, "quantization_config.quant_method",
                    "is '" + m.files.quant_method + "': family " + m.family->id + " reads no model directories");
  m.layers = m.family->recognize(m.files);
  for (const ModelLayer& l : m.layers)
    if (!l.weight.format || l.weight.format->id != l.spec.format)
      throw FileError(l.file, "tensors." + l.spec.name,
                      "format '" + l.spec.format + "' is not registered (family " + m.family->id + ")");
  return m;
}

}  // namespace qb

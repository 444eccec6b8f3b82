#include "harness/model_dir.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "harness/exl3_random.h"
#include "harness/registry.h"

namespace qb {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw FileError(path, "", "cannot open file");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      throw FileError(path, "", "cannot stat file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      ::close(fd);
      if (p == MAP_FAILED) throw FileError(path, "", "mmap failed");
      data_ = static_cast<const uint8_t*>(p);
    } else {
      ::close(fd);
    }
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  const uint8_t* data() const { return data_; }

 private:
  const uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

ojson parse_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FileError(path, "", "cannot open file");
  try {
    return ojson::parse(in);
  } catch (const ojson::parse_error& e) {
    throw FileError(path, "", std::string("not valid JSON: ") + e.what());
  }
}

// torch dtype names as tensor_storage writes them.
std::optional<DType> torch_dtype(const std::string& s) {
  static const std::map<std::string, DType> names = {
      {"torch.int16", DType::I16},   {"torch.int32", DType::I32},   {"torch.float16", DType::F16},
      {"torch.bfloat16", DType::BF16}, {"torch.float32", DType::F32}, {"torch.int8", DType::I8},
      {"torch.uint8", DType::U8},    {"torch.int64", DType::I64},   {"torch.float64", DType::F64}};
  const auto it = names.find(s);
  if (it == names.end()) return std::nullopt;
  return it->second;
}

std::vector<int64_t> json_shape(const ojson& j, const std::string& file, const std::string& field) {
  if (!j.is_array()) throw FileError(file, field, "must be an array of non-negative integers");
  std::vector<int64_t> s;
  for (const auto& d : j) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) throw FileError(file, field, "must be an array of non-negative integers");
    s.push_back(d.get<int64_t>());
  }
  return s;
}

const ojson& storage_of(const ojson& qc, const std::string& file) {
  const auto ts = qc.find("tensor_storage");
  if (ts == qc.end() || !ts->is_object()) throw FileError(file, "tensor_storage", "missing or not an object");
  return *ts;
}

// In-file checks of one layer's tensors; `where` maps a tensor name to its file.
struct Found {
  const TensorEntry* entry = nullptr;
  std::size_t file = 0;
};

}  // namespace

ojson load_quant_config(const std::string& file_or_dir) {
  std::error_code ec;
  if (fs::is_directory(file_or_dir, ec)) {
    const std::string config = (fs::path(file_or_dir) / "config.json").string();
    const std::string separate = (fs::path(file_or_dir) / "quantization_config.json").string();
    if (fs::exists(config, ec)) {
      const ojson c = parse_json_file(config);
      if (c.is_object() && c.contains("quantization_config")) return load_quant_config(config);
    }
    if (fs::exists(separate, ec)) return load_quant_config(separate);
    throw FileError(config, "quantization_config", "missing, and there is no quantization_config.json next to it");
  }
  const ojson j = parse_json_file(file_or_dir);
  if (!j.is_object()) throw FileError(file_or_dir, "", "must be a JSON object");
  const ojson& qc = j.contains("quantization_config") ? j["quantization_config"] : j;
  const std::string field = j.contains("quantization_config") ? "quantization_config." : "";
  if (!qc.is_object()) throw FileError(file_or_dir, "quantization_config", "must be an object");
  const auto method = qc.find("quant_method");
  if (method == qc.end() || !method->is_string())
    throw FileError(file_or_dir, field + "quant_method", "missing (neither a quantization_config nor a config.json holding one)");
  if (*method != "exl3")
    throw FileError(file_or_dir, field + "quant_method", "is '" + method->get<std::string>() + "', expected 'exl3'");
  return qc;
}

std::vector<Exl3LayerSpec> exl3_layers_of(const ojson& qc, const std::string& file) {
  std::vector<Exl3LayerSpec> layers;
  for (const auto& [module, entry] : storage_of(qc, file).items()) {
    const std::string field = "tensor_storage." + module;
    const auto st = entry.find("stored_tensors");
    if (st == entry.end() || !st->is_object()) throw FileError(file, field + ".stored_tensors", "missing or not an object");
    const auto trellis = st->find(module + ".trellis");
    if (trellis == st->end()) continue;
    const std::string tfield = field + ".stored_tensors." + module + ".trellis.shape";
    const auto shape = json_shape(trellis->value("shape", ojson()), file, tfield);
    if (shape.size() != 3 || shape[2] % 16 != 0 || shape[2] < 16 || shape[2] > 128)
      throw FileError(file, tfield, "is " + shape_str(shape) + ", expected [k/16, n/16, 16*bits] with bits 1..8");
    Exl3LayerSpec s;
    s.name = module;
    s.k = shape[0] * 16;
    s.n = shape[1] * 16;
    s.bits = static_cast<int>(shape[2] / 16);
    const bool mcg = entry.contains("mcg_multiplier") || st->contains(module + ".mcg");
    const bool mul1 = entry.contains("mul1_multiplier") || st->contains(module + ".mul1");
    if (mcg && mul1) throw FileError(file, field, "names both the mcg and the mul1 codebook");
    s.codebook = mcg ? "mcg" : mul1 ? "mul1" : "3inst";
    if (const auto bpw = entry.find("bits_per_weight"); bpw != entry.end() && (!bpw->is_number() || *bpw != s.bits))
      throw FileError(file, field + ".bits_per_weight",
                      "is " + bpw->dump() + " but the trellis shape " + shape_str(shape) + " means " + std::to_string(s.bits));
    for (const auto& [key, want] : {std::pair<const char*, uint32_t>{"mcg_multiplier", kMcgMultiplier},
                                    std::pair<const char*, uint32_t>{"mul1_multiplier", kMul1Multiplier}}) {
      const auto m = entry.find(key);
      if (m != entry.end() && (!m->is_number_integer() || m->get<int64_t>() != static_cast<int64_t>(want)))
        throw FileError(file, field + "." + key,
                        "is " + m->dump() + ", not the locked constant " + std::to_string(want) +
                            " (pre-lock models decode wrongly on current upstream too)");
    }
    layers.push_back(std::move(s));
  }
  return layers;
}

bool is_model_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "config.json", ec);
}

ModelDir open_model_dir(const std::string& dir, ModelData data) {
  ModelDir m;
  m.path = dir;
  const fs::path root(dir);
  std::error_code ec;
  m.config_file = (root / "config.json").string();
  if (!fs::exists(m.config_file, ec) || !parse_json_file(m.config_file).contains("quantization_config"))
    m.config_file = (root / "quantization_config.json").string();
  if (!fs::exists(m.config_file, ec)) m.config_file = (root / "config.json").string();
  m.quant_config = load_quant_config(dir);
  const std::vector<Exl3LayerSpec> declared = exl3_layers_of(m.quant_config, m.config_file);

  // Shards: the index's weight_map when there is one, otherwise every *.safetensors here.
  const std::string index_file = (root / "model.safetensors.index.json").string();
  std::map<std::string, std::string> weight_map;  // tensor -> file name
  if (fs::exists(index_file, ec)) {
    const ojson index = parse_json_file(index_file);
    const auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object()) throw FileError(index_file, "weight_map", "missing or not an object");
    std::set<std::string> names;
    for (const auto& [tensor, file] : wm->items()) {
      if (!file.is_string()) throw FileError(index_file, "weight_map." + tensor, "must be a file name");
      const std::string name = file.get<std::string>();
      if (!fs::is_regular_file(root / name, ec))
        throw FileError(index_file, "weight_map." + tensor, "shard '" + name + "' does not exist");
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

  std::vector<SafetensorsHeader> headers;
  for (const auto& f : m.files) {
    headers.push_back(read_safetensors_header(f));
    if (data == ModelData::mapped) m.maps.push_back(std::make_shared<const MappedFile>(f));
  }

  std::map<std::string, Found> tensors;
  std::vector<std::string> order;
  for (std::size_t fi = 0; fi < headers.size(); ++fi)
    for (const auto& t : headers[fi].tensors) {
      const std::string field = "tensors." + t.name;
      if (const auto prev = tensors.find(t.name); prev != tensors.end())
        throw FileError(m.files[fi], field, "also stored in " + m.files[prev->second.file]);
      if (!weight_map.empty()) {
        const auto w = weight_map.find(t.name);
        if (w == weight_map.end()) throw FileError(index_file, "weight_map." + t.name, "missing; the tensor is in " + m.files[fi]);
        if ((root / w->second).string() != m.files[fi])
          throw FileError(index_file, "weight_map." + t.name, "names " + w->second + " but the tensor is in " + m.files[fi]);
      }
      tensors[t.name] = {&t, fi};
      order.push_back(t.name);
    }
  for (const auto& [tensor, file] : weight_map)
    if (!tensors.count(tensor)) throw FileError((root / file).string(), "tensors." + tensor, "listed in the index but not in this shard");

  const auto find = [&](const std::string& name) -> const Found* {
    const auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  };
  const auto file_of = [&](const Found& f) { return m.files[f.file]; };
  const auto bytes_of = [&](const Found& f) -> const uint8_t* {
    return m.maps.empty() ? nullptr : m.maps[f.file]->data() + headers[f.file].data_begin + f.entry->offset;
  };
  const auto expect = [&](const Found& f, DType dtype, std::size_t dims) {
    const std::string field = "tensors." + f.entry->name;
    if (f.entry->dtype != dtype)
      throw FileError(file_of(f), field + ".dtype",
                      "is " + std::string(dtype_name(f.entry->dtype)) + ", expected " + std::string(dtype_name(dtype)));
    if (f.entry->shape.size() != dims)
      throw FileError(file_of(f), field + ".shape",
                      "is " + shape_str(f.entry->shape) + ", expected " + std::to_string(dims) + " dimensions");
  };

  const Format* exl3 = find_format("exl3");
  for (const auto& name : order) {
    const std::string suffix = ".trellis";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string key = name.substr(0, name.size() - suffix.size());
    const Found& tr = *find(name);
    expect(tr, DType::I16, 3);
    const auto& ts = tr.entry->shape;
    if (ts[2] % 16 != 0 || ts[2] < 16 || ts[2] > 128)
      throw FileError(file_of(tr), "tensors." + name + ".shape",
                      "is " + shape_str(ts) + ": the last dimension must be 16*bits with bits 1..8");
    const Found* suh = find(key + ".suh");
    const Found* svh = find(key + ".svh");
    if (!suh || !svh) {
      const std::string missing = !suh ? ".suh" : ".svh";
      throw FileError(file_of(tr), "tensors." + key + missing,
                      (find(key + ".su") || find(key + ".sv") ? "missing (legacy packed su/sv signs are not supported)"
                                                               : "missing: an EXL3 layer is trellis + suh + svh"));
    }
    expect(*suh, DType::F16, 1);
    expect(*svh, DType::F16, 1);
    Exl3LayerSpec s;
    s.name = key;
    s.k = suh->entry->shape[0];
    s.n = svh->entry->shape[0];
    s.bits = static_cast<int>(ts[2] / 16);
    if (s.k % 128 != 0) throw FileError(file_of(*suh), "tensors." + key + ".suh.shape", "k = " + std::to_string(s.k) + " is not a multiple of 128");
    if (s.n % 128 != 0) throw FileError(file_of(*svh), "tensors." + key + ".svh.shape", "n = " + std::to_string(s.n) + " is not a multiple of 128");
    if (ts[0] * 16 != s.k || ts[1] * 16 != s.n)
      throw FileError(file_of(tr), "tensors." + name + ".shape",
                      "is " + shape_str(ts) + " but suh/svh give k = " + std::to_string(s.k) + ", n = " + std::to_string(s.n));
    const Found* mcg = find(key + ".mcg");
    const Found* mul1 = find(key + ".mul1");
    if (mcg && mul1) throw FileError(file_of(*mul1), "tensors." + key + ".mul1", "present together with " + key + ".mcg; upstream rejects both");
    s.codebook = mcg ? "mcg" : mul1 ? "mul1" : "3inst";
    ModelLayer layer;
    layer.file = file_of(tr);
    layer.weight.format = exl3;
    layer.weight.rows = s.n;
    layer.weight.cols = s.k;
    layer.weight.params = s.params();
    const auto view = [&](const Found& f, const std::string& as) {
      layer.weight.tensors.push_back({as, f.entry->dtype, f.entry->shape, bytes_of(f), static_cast<std::size_t>(f.entry->nbytes)});
    };
    view(tr, "trellis");
    view(*suh, "suh");
    view(*svh, "svh");
    if (const Found* marker = mcg ? mcg : mul1) {
      expect(*marker, DType::I32, 0);
      view(*marker, s.codebook);
      if (const uint8_t* p = bytes_of(*marker)) {
        uint32_t v;
        std::memcpy(&v, p, sizeof v);
        const uint32_t want = mcg ? kMcgMultiplier : kMul1Multiplier;
        if (v != want)
          throw FileError(file_of(*marker), "tensors." + marker->entry->name,
                          "holds " + std::to_string(v) + ", not the locked multiplier " + std::to_string(want));
      }
    }
    layer.spec = std::move(s);
    m.layers.push_back(std::move(layer));
  }

  // tensor_storage must describe exactly what the files hold.
  for (const auto& [module, entry] : storage_of(m.quant_config, m.config_file).items()) {
    for (const auto& [tensor, desc] : entry["stored_tensors"].items()) {
      const std::string field = "tensor_storage." + module + ".stored_tensors." + tensor;
      const Found* f = find(tensor);
      if (!f) throw FileError(m.config_file, field, "lists a tensor no safetensors file holds");
      const auto shape = json_shape(desc.value("shape", ojson()), m.config_file, field + ".shape");
      if (shape != f->entry->shape)
        throw FileError(file_of(*f), "tensors." + tensor + ".shape",
                        "is " + shape_str(f->entry->shape) + " but " + m.config_file + " " + field + " says " + shape_str(shape));
      const auto dt = torch_dtype(desc.value("dtype", std::string()));
      if (!dt) throw FileError(m.config_file, field + ".dtype", "unknown dtype " + desc.value("dtype", ojson()).dump());
      if (*dt != f->entry->dtype)
        throw FileError(file_of(*f), "tensors." + tensor + ".dtype",
                        "is " + std::string(dtype_name(f->entry->dtype)) + " but " + m.config_file + " " + field + " says " +
                            desc["dtype"].get<std::string>());
    }
  }
  for (const auto& layer : m.layers) {
    const auto d = std::find_if(declared.begin(), declared.end(), [&](const Exl3LayerSpec& s) { return s.name == layer.spec.name; });
    if (d == declared.end())
      throw FileError(layer.file, "tensors." + layer.spec.name + ".trellis", "is an EXL3 layer tensor_storage does not list");
    if (d->codebook != layer.spec.codebook)
      throw FileError(layer.file, "tensors." + layer.spec.name + "." + (layer.spec.codebook == "3inst" ? d->codebook : layer.spec.codebook),
                      "the file's codebook is " + layer.spec.codebook + " but " + m.config_file + " says " + d->codebook);
  }
  return m;
}

}  // namespace qb

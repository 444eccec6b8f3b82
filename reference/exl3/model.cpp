// EXL3 model directories as upstream writes them (Family::recognize and Family::config_layers):
// every linear layer is X.trellis + X.suh + X.svh, with a codebook marker X.mcg / X.mul1 holding
// the locked multiplier; quantization_config.tensor_storage lists every stored tensor with its
// shape and torch dtype and must agree with the files. Every error is a FileError naming the file
// and the field or tensor.
#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "harness/model_dir.h"
#include "harness/registry.h"
#include "harness/safetensors.h"
#include "harness/shape.h"
#include "reference/exl3/exl3.h"

namespace qb::exl3 {

using ojson = nlohmann::ordered_json;

namespace {

// torch dtype names as tensor_storage writes them.
std::optional<DType> torch_dtype(const std::string& s) {
  static const std::map<std::string, DType> names = {
      {"torch.int16", DType::I16},     {"torch.int32", DType::I32},   {"torch.float16", DType::F16},
      {"torch.bfloat16", DType::BF16}, {"torch.float32", DType::F32}, {"torch.int8", DType::I8},
      {"torch.uint8", DType::U8},      {"torch.int64", DType::I64},   {"torch.float64", DType::F64}};
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

LayerSpec make_spec(const std::string& name, int64_t k, int64_t n, int bits, Codebook cb) {
  LayerSpec s;
  s.name = name;
  s.format = "exl3";
  s.rows = n;
  s.cols = k;
  const std::string codebook(codebook_name(cb));
  s.params = {{"bits", bits}, {"codebook", codebook}};
  s.summary = "bits " + std::to_string(bits) + " " + codebook;
  return s;
}

std::string codebook_of(const LayerSpec& s) { return s.params["codebook"].get<std::string>(); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<LayerSpec> config_layers(const ojson& qc, const std::string& file) {
  std::vector<LayerSpec> layers;
  for (const auto& [module, entry] : storage_of(qc, file).items()) {
    const std::string field = "tensor_storage." + module;
    if (!entry.is_object()) throw FileError(file, field, "must be an object");
    const auto st = entry.find("stored_tensors");
    if (st == entry.end() || !st->is_object()) throw FileError(file, field + ".stored_tensors", "missing or not an object");
    const auto trellis = st->find(module + ".trellis");
    if (trellis == st->end()) continue;
    const std::string tfield = field + ".stored_tensors." + module + ".trellis.shape";
    const auto shape = json_shape(trellis->is_object() ? trellis->value("shape", ojson()) : ojson(), file, tfield);
    if (shape.size() != 3 || shape[2] % 16 != 0 || shape[2] < 16 || shape[2] > 128)
      throw FileError(file, tfield, "is " + shape_str(shape) + ", expected [k/16, n/16, 16*bits] with bits 1..8");
    const int bits = static_cast<int>(shape[2] / 16);
    const bool mcg = entry.contains("mcg_multiplier") || st->contains(module + ".mcg");
    const bool mul1 = entry.contains("mul1_multiplier") || st->contains(module + ".mul1");
    if (mcg && mul1) throw FileError(file, field, "names both the mcg and the mul1 codebook");
    if (const auto bpw = entry.find("bits_per_weight"); bpw != entry.end() && (!bpw->is_number() || *bpw != bits))
      throw FileError(file, field + ".bits_per_weight",
                      "is " + bpw->dump() + " but the trellis shape " + shape_str(shape) + " means " + std::to_string(bits));
    for (const auto& [key, want] : {std::pair<const char*, uint32_t>{"mcg_multiplier", kMcgMultiplier},
                                    std::pair<const char*, uint32_t>{"mul1_multiplier", kMul1Multiplier}}) {
      const auto m = entry.find(key);
      if (m != entry.end() && (!m->is_number_integer() || m->get<int64_t>() != static_cast<int64_t>(want)))
        throw FileError(file, field + "." + key,
                        "is " + m->dump() + ", not the locked constant " + std::to_string(want) +
                            " (pre-lock models decode wrongly on current upstream too)");
    }
    layers.push_back(make_spec(module, shape[0] * 16, shape[1] * 16, bits,
                               mcg ? Codebook::mcg : mul1 ? Codebook::mul1 : Codebook::inst3));
  }
  return layers;
}

std::vector<ModelLayer> recognize_model(const ModelFiles& files) {
  const std::vector<LayerSpec> declared = config_layers(files.quant_config, files.config_file);
  const Format* format = find_format("exl3");
  std::vector<ModelLayer> layers;
  for (const auto& name : files.names()) {
    const std::string suffix = ".trellis";
    if (!ends_with(name, suffix)) continue;
    const std::string key = name.substr(0, name.size() - suffix.size());
    const ModelTensor& tr = *files.find(name);
    files.expect(tr, DType::I16, 3);
    const auto& ts = tr.entry->shape;
    if (ts[2] % 16 != 0 || ts[2] < 16 || ts[2] > 128)
      throw FileError(files.file_of(tr), "tensors." + name + ".shape",
                      "is " + shape_str(ts) + ": the last dimension must be 16*bits with bits 1..8");
    const ModelTensor* suh = files.find(key + ".suh");
    const ModelTensor* svh = files.find(key + ".svh");
    if (!suh || !svh) {
      const std::string missing = !suh ? ".suh" : ".svh";
      throw FileError(files.file_of(tr), "tensors." + key + missing,
                      (files.find(key + ".su") || files.find(key + ".sv")
                           ? "missing (legacy packed su/sv signs are not supported)"
                           : "missing: an EXL3 layer is trellis + suh + svh"));
    }
    files.expect(*suh, DType::F16, 1);
    files.expect(*svh, DType::F16, 1);
    const int64_t k = suh->entry->shape[0], n = svh->entry->shape[0];
    if (k % 128 != 0)
      throw FileError(files.file_of(*suh), "tensors." + key + ".suh.shape", "k = " + std::to_string(k) + " is not a multiple of 128");
    if (n % 128 != 0)
      throw FileError(files.file_of(*svh), "tensors." + key + ".svh.shape", "n = " + std::to_string(n) + " is not a multiple of 128");
    if (ts[0] * 16 != k || ts[1] * 16 != n)
      throw FileError(files.file_of(tr), "tensors." + name + ".shape",
                      "is " + shape_str(ts) + " but suh/svh give k = " + std::to_string(k) + ", n = " + std::to_string(n));
    const ModelTensor* mcg = files.find(key + ".mcg");
    const ModelTensor* mul1 = files.find(key + ".mul1");
    if (mcg && mul1)
      throw FileError(files.file_of(*mul1), "tensors." + key + ".mul1", "present together with " + key + ".mcg; upstream rejects both");
    const Codebook cb = mcg ? Codebook::mcg : mul1 ? Codebook::mul1 : Codebook::inst3;

    ModelLayer layer;
    layer.spec = make_spec(key, k, n, static_cast<int>(ts[2] / 16), cb);
    layer.file = files.file_of(tr);
    layer.weight.format = format;
    layer.weight.rows = n;
    layer.weight.cols = k;
    layer.weight.params = layer.spec.params;
    layer.weight.tensors.push_back(files.view(tr, "trellis"));
    layer.weight.tensors.push_back(files.view(*suh, "suh"));
    layer.weight.tensors.push_back(files.view(*svh, "svh"));
    if (const ModelTensor* marker = mcg ? mcg : mul1) {
      files.expect(*marker, DType::I32, 0);
      layer.weight.tensors.push_back(files.view(*marker, std::string(codebook_name(cb))));
      if (marker->data) {
        uint32_t v;
        std::memcpy(&v, marker->data, sizeof v);
        const uint32_t want = mcg ? kMcgMultiplier : kMul1Multiplier;
        if (v != want)
          throw FileError(files.file_of(*marker), "tensors." + marker->entry->name,
                          "holds " + std::to_string(v) + ", not the locked multiplier " + std::to_string(want));
      }
    }
    layers.push_back(std::move(layer));
  }

  // tensor_storage must describe exactly what the files hold.
  const std::string& config = files.config_file;
  for (const auto& [module, entry] : storage_of(files.quant_config, config).items()) {
    for (const auto& [tensor, desc] : entry["stored_tensors"].items()) {
      const std::string field = "tensor_storage." + module + ".stored_tensors." + tensor;
      const ModelTensor* f = files.find(tensor);
      if (!f) throw FileError(config, field, "lists a tensor no safetensors file holds");
      if (!desc.is_object()) throw FileError(config, field, "must be an object with shape and dtype");
      const auto shape = json_shape(desc.value("shape", ojson()), config, field + ".shape");
      if (shape != f->entry->shape)
        throw FileError(files.file_of(*f), "tensors." + tensor + ".shape",
                        "is " + shape_str(f->entry->shape) + " but " + config + " " + field + " says " + shape_str(shape));
      const ojson dtype = desc.value("dtype", ojson());
      const auto dt = dtype.is_string() ? torch_dtype(dtype.get<std::string>()) : std::nullopt;
      if (!dt) throw FileError(config, field + ".dtype", "unknown dtype " + dtype.dump());
      if (*dt != f->entry->dtype)
        throw FileError(files.file_of(*f), "tensors." + tensor + ".dtype",
                        "is " + std::string(dtype_name(f->entry->dtype)) + " but " + config + " " + field + " says " +
                            dtype.get<std::string>());
    }
  }
  for (const auto& layer : layers) {
    const auto d = std::find_if(declared.begin(), declared.end(), [&](const LayerSpec& s) { return s.name == layer.spec.name; });
    if (d == declared.end())
      throw FileError(layer.file, "tensors." + layer.spec.name + ".trellis", "is an EXL3 layer tensor_storage does not list");
    const std::string have = codebook_of(layer.spec), want = codebook_of(*d);
    if (have != want)
      throw FileError(layer.file, "tensors." + layer.spec.name + "." + (have == "3inst" ? want : have),
                      "the file's codebook is " + have + " but " + config + " says " + want);
  }
  return layers;
}

}  // namespace qb::exl3

// EXL3 model directories as upstream writes them (Family::recognize and Family::config_layers):
// every linear layer is X.trellis + X.suh + X.svh, with a codebook marker X.mcg / X.mul1 holding
// the locked multiplier; quantization_config.tensor_storage lists every stored tensor with its
// shape and torch dtype and must agree with the files. Every error is a FileError naming the file
// and the field or tensor.
#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "harness/json_field.h"
#include "harness/model_dir.h"
#include "harness/registry.h"
#include "harness/safetensors.h"
#include "harness/shape.h"
#include "harness/stored_check.h"
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
  require_array(j, file, field);
  std::vector<int64_t> s;
  for (std::size_t i = 0; i < j.size(); ++i) s.push_back(get_int(j[i], file, field_path(field, i), 0));
  return s;
}

const ojson& storage_of(const ojson& qc, const std::string& file) {
  return require_object(require_field(qc, file, "", "tensor_storage"), file, "tensor_storage");
}

// stored_tensors of one tensor_storage entry, both checked to be objects.
const ojson& stored_tensors_of(const ojson& entry, const std::string& file, const std::string& field) {
  require_object(entry, file, field);
  return require_object(require_field(entry, file, field, "stored_tensors"), file, field + ".stored_tensors");
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

// make_spec wrote the params, so the lenient look-up cannot miss.
std::string codebook_of(const LayerSpec& s) { return string_if(member_if(&s.params, "codebook")).value_or(""); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<LayerSpec> config_layers(const ojson& qc, const std::string& file) {
  std::vector<LayerSpec> layers;
  for (const auto& [module, entry] : storage_of(qc, file).items()) {
    const std::string field = "tensor_storage." + module;
    const ojson& st = stored_tensors_of(entry, file, field);
    const std::string sfield = field + ".stored_tensors";
    const ojson* trellis = find_field(st, file, sfield, module + ".trellis");
    if (!trellis) continue;
    const std::string trfield = field_path(sfield, module + ".trellis");
    const std::string tfield = trfield + ".shape";
    const auto shape = json_shape(require_field(require_object(*trellis, file, trfield), file, trfield, "shape"), file, tfield);
    if (shape.size() != 3 || shape[2] % 16 != 0 || shape[2] < 16 || shape[2] > 128)
      throw FileError(file, tfield, "is " + shape_str(shape) + ", expected [k/16, n/16, 16*bits] with bits 1..8");
    const int bits = static_cast<int>(shape[2] / 16);
    // A config alone (bench --model on a quantization_config) sizes buffers from these numbers:
    // k*n fp64 values must stay countable in bytes.
    int64_t k = 0, n = 0, weights = 0, bytes = 0;
    if (__builtin_mul_overflow(shape[0], int64_t{16}, &k) || __builtin_mul_overflow(shape[1], int64_t{16}, &n) ||
        __builtin_mul_overflow(k, n, &weights) || __builtin_mul_overflow(weights, int64_t{8}, &bytes))
      throw FileError(file, tfield, "is " + shape_str(shape) + ": k*n = (16*" + std::to_string(shape[0]) + ")*(16*" +
                                        std::to_string(shape[1]) + ") weights overflow 64-bit byte counts");
    const bool mcg = find_field(entry, file, field, "mcg_multiplier") || find_field(st, file, sfield, module + ".mcg");
    const bool mul1 = find_field(entry, file, field, "mul1_multiplier") || find_field(st, file, sfield, module + ".mul1");
    if (mcg && mul1) throw FileError(file, field, "names both the mcg and the mul1 codebook");
    if (const ojson* bpw = find_field(entry, file, field, "bits_per_weight");
        bpw && get_number(*bpw, file, field + ".bits_per_weight") != bits)
      throw FileError(file, field + ".bits_per_weight",
                      "is " + describe_json(*bpw) + " but the trellis shape " + shape_str(shape) + " means " + std::to_string(bits));
    for (const auto& [key, want] : {std::pair<const char*, uint32_t>{"mcg_multiplier", kMcgMultiplier},
                                    std::pair<const char*, uint32_t>{"mul1_multiplier", kMul1Multiplier}}) {
      const ojson* m = find_field(entry, file, field, key);
      if (m && get_int(*m, file, field + "." + key) != static_cast<int64_t>(want))
        throw FileError(file, field + "." + key,
                        "is " + describe_json(*m) + ", not the locked constant " + std::to_string(want) +
                            " (pre-lock models decode wrongly on current upstream too)");
    }
    layers.push_back(make_spec(module, k, n, bits, mcg ? Codebook::mcg : mul1 ? Codebook::mul1 : Codebook::inst3));
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
    // Dims read from safetensors are at most 2^40 (the reader's bound), so ts[i] * 16 cannot wrap.
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
    if (const ModelTensor* marker = mcg ? mcg : mul1)
      layer.weight.tensors.push_back(files.view(*marker, std::string(codebook_name(cb))));
    // The same checks as a fixture's: the file named is the one holding the faulty tensor.
    check_layer_stored(files, layer.weight, key, name);
    layers.push_back(std::move(layer));
  }

  // tensor_storage must describe exactly what the files hold.
  const std::string& config = files.config_file;
  for (const auto& [module, entry] : storage_of(files.quant_config, config).items()) {
    for (const auto& [tensor, desc] : stored_tensors_of(entry, config, "tensor_storage." + module).items()) {
      const std::string field = "tensor_storage." + module + ".stored_tensors." + tensor;
      require_object(desc, config, field);
      const auto shape = json_shape(require_field(desc, config, field, "shape"), config, field + ".shape");
      const std::string dtype = get_string(require_field(desc, config, field, "dtype"), config, field + ".dtype");
      const auto dt = torch_dtype(dtype);
      if (!dt) throw FileError(config, field + ".dtype", "unknown dtype '" + dtype + "'");
      const ModelTensor* f = files.find(tensor);
      if (!f) throw FileError(config, field, "lists a tensor no safetensors file holds");
      if (shape != f->entry->shape)
        throw FileError(files.file_of(*f), "tensors." + tensor + ".shape",
                        "is " + shape_str(f->entry->shape) + " but " + config + " " + field + " says " + shape_str(shape));
      if (*dt != f->entry->dtype)
        throw FileError(files.file_of(*f), "tensors." + tensor + ".dtype",
                        "is " + std::string(dtype_name(f->entry->dtype)) + " but " + config + " " + field + " says " + dtype);
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

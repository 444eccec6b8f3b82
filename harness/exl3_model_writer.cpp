#include "harness/exl3_model_writer.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "harness/exl3_random.h"
#include "harness/safetensors.h"

namespace qb {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

int64_t scaled_dim(int64_t d, double scale) {
  // 128 and below are head dims and norms of one head: shrinking them changes the model's kind.
  if (d <= 128 || d % 128 != 0) return d;
  const auto s = static_cast<int64_t>(std::ceil(static_cast<double>(d) * scale / 128.0)) * 128;
  return s < 128 ? 128 : s;
}

namespace {

DType dtype_of(const std::string& torch, const std::string& field) {
  if (torch == "torch.int16") return DType::I16;
  if (torch == "torch.int32") return DType::I32;
  if (torch == "torch.float16") return DType::F16;
  if (torch == "torch.bfloat16") return DType::BF16;
  if (torch == "torch.float32") return DType::F32;
  throw std::invalid_argument(field + ": dtype '" + torch + "' is not one this writer fills");
}

// -1 for modules outside the decoder stack (fc, norms, embeddings, head).
int layer_index(const std::string& module) {
  if (module.rfind("layers.", 0) != 0) return -1;
  return std::stoi(module.substr(7));
}

void write_json(const std::string& path, const ojson& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw FileError(path, "", "write failed");
}

// Norm weights: near 1 as trained models have them, in bf16 (upper half of the fp32 bits).
void fill_bf16(uint8_t* p, std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> d(0.8f, 1.2f);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = d(rng);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    const uint16_t h = static_cast<uint16_t>(bits >> 16);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

}  // namespace

void write_exl3_model(const ojson& config, const std::string& dir, const Exl3ModelOptions& opt) {
  if (!(opt.scale > 0 && opt.scale <= 1)) throw std::invalid_argument("scale must be in (0, 1]");
  if (opt.shards < 1) throw std::invalid_argument("shards must be at least 1");
  const bool wrapped = config.contains("quantization_config");
  ojson qc = wrapped ? config["quantization_config"] : config;
  if (!qc.contains("tensor_storage") || !qc["tensor_storage"].is_object())
    throw std::invalid_argument("quantization_config has no tensor_storage object");

  std::mt19937_64 rng(opt.seed);
  std::vector<OwnedTensor> tensors;
  ojson storage = ojson::object();
  int layer_count = 0;
  int64_t hidden = 0, intermediate = 0, head_dim = 0, q_out = 0, kv_out = 0;
  for (const auto& [module, entry] : qc["tensor_storage"].items()) {
    const int li = layer_index(module);
    if (opt.layers >= 0 && li >= opt.layers) continue;
    layer_count = std::max(layer_count, li + 1);
    ojson out_entry = entry;
    const bool exl3 = entry["stored_tensors"].contains(module + ".trellis");
    int64_t k = 0, n = 0;
    if (exl3) {
      const auto& st = entry["stored_tensors"];
      k = scaled_dim(st[module + ".suh"]["shape"][0].get<int64_t>(), opt.scale);
      n = scaled_dim(st[module + ".svh"]["shape"][0].get<int64_t>(), opt.scale);
    }
    for (auto& [name, desc] : out_entry["stored_tensors"].items()) {
      OwnedTensor t;
      t.name = name;
      t.dtype = dtype_of(desc["dtype"].get<std::string>(), name);
      const std::string leaf = name.substr(module.size() + 1);
      if (exl3 && leaf == "trellis") {
        const int64_t words = desc["shape"][2].get<int64_t>();  // 16 * bits: kept
        t.shape = {k / 16, n / 16, words};
      } else if (exl3 && leaf == "suh") {
        t.shape = {k};
      } else if (exl3 && leaf == "svh") {
        t.shape = {n};
      } else {
        for (const auto& d : desc["shape"]) t.shape.push_back(scaled_dim(d.get<int64_t>(), opt.scale));
      }
      const auto count = static_cast<std::size_t>(t.numel());
      t.bytes.assign(count * dtype_size(t.dtype), 0);
      if (exl3 && leaf == "trellis") {
        random_trellis(reinterpret_cast<int16_t*>(t.bytes.data()), count, rng);
      } else if (exl3 && (leaf == "suh" || leaf == "svh")) {
        random_scales(reinterpret_cast<uint16_t*>(t.bytes.data()), count, leaf == "suh" ? 0.01f : 0.5f,
                      leaf == "suh" ? 0.05f : 2.0f, rng);
      } else if (exl3 && (leaf == "mcg" || leaf == "mul1")) {
        const uint32_t m = leaf == "mcg" ? kMcgMultiplier : kMul1Multiplier;
        std::memcpy(t.bytes.data(), &m, sizeof m);
      } else if (t.dtype == DType::BF16) {
        fill_bf16(t.bytes.data(), count, rng);
      }
      desc["shape"] = t.shape;
      desc["n_bytes"] = t.bytes.size();
      if (leaf == "weight" && module.size() >= 6 && module.compare(module.size() - 6, 6, "q_norm") == 0)
        head_dim = t.shape.at(0);
      tensors.push_back(std::move(t));
    }
    if (module.find("o_proj") != std::string::npos) hidden = n;
    if (module.find("up_proj") != std::string::npos) intermediate = n;
    if (module.find("q_proj") != std::string::npos) q_out = n;
    if (module.find("k_proj") != std::string::npos) kv_out = n;
    storage[module] = std::move(out_entry);
  }
  qc["tensor_storage"] = std::move(storage);

  // A bare quantization_config says nothing of the architecture; the fields derivable from the
  // shapes are written so the directory describes itself.
  ojson cfg = wrapped ? config : ojson::object();
  if (!wrapped || cfg.contains("num_hidden_layers")) cfg["num_hidden_layers"] = layer_count;
  if (hidden) cfg["hidden_size"] = hidden;
  if (intermediate) cfg["intermediate_size"] = intermediate;
  if (head_dim) {
    cfg["head_dim"] = head_dim;
    if (q_out) cfg["num_attention_heads"] = q_out / head_dim;
    if (kv_out) cfg["num_key_value_heads"] = kv_out / head_dim;
  }
  cfg["quantization_config"] = qc;

  fs::create_directories(dir);
  write_json((fs::path(dir) / "config.json").string(), cfg);
  write_json((fs::path(dir) / "quantization_config.json").string(), qc);

  if (opt.shards == 1) {
    SafetensorsFile f;
    f.metadata["format"] = "pt";
    f.tensors = std::move(tensors);
    write_safetensors((fs::path(dir) / "model.safetensors").string(), f);
    return;
  }
  std::size_t total = 0;
  for (const auto& t : tensors) total += t.bytes.size();
  const std::size_t target = (total + static_cast<std::size_t>(opt.shards) - 1) / static_cast<std::size_t>(opt.shards);
  std::vector<SafetensorsFile> shards(static_cast<std::size_t>(opt.shards));
  std::size_t filled = 0, si = 0;
  for (auto& t : tensors) {
    if (filled >= target * (si + 1) && si + 1 < shards.size()) ++si;
    filled += t.bytes.size();
    shards[si].tensors.push_back(std::move(t));
  }
  ojson index = {{"metadata", {{"total_size", total}}}, {"weight_map", ojson::object()}};
  for (std::size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    shards[i].metadata["format"] = "pt";
    for (const auto& t : shards[i].tensors) index["weight_map"][t.name] = name;
    write_safetensors((fs::path(dir) / name).string(), shards[i]);
  }
  write_json((fs::path(dir) / "model.safetensors.index.json").string(), index);
}

}  // namespace qb

// bitnet.cpp's GGUF files (spec 3, 4): its fork numbers its own tensor types (I2_S = 36, TL1 = 38,
// TL2 = 39, where ggml now has MXFP4 = 39), so its files are claimed by provenance, the file type
// bitnet.cpp writes: I2_S (LLAMA_FTYPE_MOSTLY_I2_S = 40, no ggml file type) from any architecture
// (its published files say bitnet, bitnet-b1.58, bitnet-25 and, for Llama3-8B-1.58 and Falcon3,
// llama), TL1 (38) and TL2 (39) from the architectures its converter writes (BitNet's and llama;
// ggml's 38 is MXFP4_MOE). A file claimed wrongly, or missed, fails loudly: the other numbering
// gives other tensor sizes, which the reader checks. TQ1_0 = 34 and TQ2_0 = 35 are ggml's own types
// under the same numbers and stay the catalog's.
#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "harness/registry.h"
#include "harness/safetensors.h"
#include "reference/bitnet/bitnet.h"

namespace qb::bitnet {
namespace {

constexpr uint32_t kI2S = 36, kTL1 = 38, kTL2 = 39;

bool claims(const GgufFile& g) {
  const GgufValue* ftype = g.find("general.file_type");
  if (!ftype) return false;
  int64_t t = -1;
  switch (ftype->type()) {
    case GgufValueType::u8: case GgufValueType::u16: case GgufValueType::u32: case GgufValueType::u64:
      t = static_cast<int64_t>(std::min<uint64_t>(ftype->as_uint(), 1u << 30));
      break;
    case GgufValueType::i8: case GgufValueType::i16: case GgufValueType::i32: case GgufValueType::i64: t = ftype->as_int(); break;
    default: return false;
  }
  if (t == 40) return true;
  if (t != 38 && t != 39) return false;
  const GgufValue* arch = g.find("general.architecture");
  if (!arch || arch->type() != GgufValueType::string) return false;
  const std::string_view a = arch->as_string();
  return a == "bitnet" || a == "bitnet-b1.58" || a == "bitnet-25" || a == "llama";
}

// ggml_nbytes(I2_S): the packed codes and the 32-byte tail that holds the f32 scale.
uint64_t i2s_tensor_bytes(int64_t, int64_t numel) { return static_cast<uint64_t>(numel / 4 + 32); }

// What the converter writes for TL2 (tl2_bytes; its formula assumes K >= 256).
uint64_t tl2_tensor_bytes(int64_t row, int64_t numel) {
  if (row < 256) throw std::invalid_argument("TL2 rows of " + std::to_string(row) + " elements: the converter's size needs at least 256");
  // The formula's (K - 256) M / 3 * 5 stays inside int64 below 2^60 elements.
  if (numel > (int64_t{1} << 60)) throw std::invalid_argument(std::to_string(numel) + " elements: more than TL2's size formula holds");
  return static_cast<uint64_t>(tl2_bytes(numel / row, row));
}

// TL1/TL2 tile sizes: the section of bitnet.cpp's kernel_config.ini (written by codegen_tl1/tl2.py,
// one [Kernels_i] per shape with m, k, bm, bk, bmm) whose m and k are the tensor's rows and cols,
// read from the file beside the GGUF.
nlohmann::json tile_params(const GgufFile& g, const GgufTensor& t) {
  const uint32_t id = t.type->id;
  if (id != kTL1 && id != kTL2) return nlohmann::json::object();
  const std::string ini = (std::filesystem::path(g.path).parent_path() / "kernel_config.ini").string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(ini, ec))
    throw FileError(g.path, "tensors." + t.name + ".type",
                    "is " + t.type->name + ", whose tile sizes (BM, BK, bm) are not in the file: put the kernel_config.ini "
                    "bitnet.cpp generated for this model beside it (" + ini +
                        (std::filesystem::exists(ini, ec) ? " is not a regular file)" : " is missing)"));
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigINI().from_file(ini);
  } catch (const std::exception& e) {
    throw FileError(ini, "", std::string("is not an INI file: ") + e.what());
  }
  const int64_t rows = t.numel() / t.ne[0], cols = t.ne[0];
  std::map<std::string, std::map<std::string, std::string>> sections;
  for (const CLI::ConfigItem& it : items)
    if (!it.parents.empty() && it.inputs.size() == 1) sections[it.parents[0]][CLI::detail::to_lower(it.name)] = it.inputs[0];
  nlohmann::json found;
  std::string found_in;
  for (const auto& [name, keys] : sections) {
    auto num = [&, &name = name, &keys = keys](const char* key) -> int64_t {
      const auto k = keys.find(key);
      if (k == keys.end()) throw FileError(ini, name + "." + key, "missing");
      std::size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(k->second, &used);
      } catch (const std::out_of_range&) {
        throw FileError(ini, name + "." + key, "is '" + k->second + "', out of the 64-bit integer range");
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != k->second.size()) throw FileError(ini, name + "." + key, "is '" + k->second + "', not an integer");
      return v;
    };
    if (num("m") != rows || num("k") != cols) continue;
    nlohmann::json p = {{"BM", num("bm")}, {"BK", num("bk")}};
    if (id == kTL1) p["bm"] = num("bmm");
    if (!found_in.empty() && p != found)
      throw FileError(ini, name, "gives " + p.dump() + " for m = " + std::to_string(rows) + ", k = " + std::to_string(cols) +
                                     " where section " + found_in + " gives " + found.dump() + ": which tiles packed " + t.name +
                                     " is ambiguous");
    found = p;
    found_in = name;
  }
  if (found_in.empty())
    throw FileError(ini, "", "has no [Kernels_i] section with m = " + std::to_string(rows) + " and k = " + std::to_string(cols) +
                                 " (the shape of " + t.name + "; " + std::to_string(sections.size()) +
                                 " sections read): a TL file is only valid with the kernel config it was converted with");
  // The format's own constraints on the tiles (spec 4), blamed on the section that gave them.
  try {
    find_format(t.type->format)->layout(rows, cols, found);
  } catch (const std::invalid_argument& e) {
    throw FileError(ini, found_in, "gives " + found.dump() + ", which " + t.name + " (" + std::to_string(rows) + "x" +
                                       std::to_string(cols) + ") cannot take: " + e.what());
  }
  return found;
}

}  // namespace

GgufDialect gguf_dialect() {
  GgufDialect d;
  d.name = "bitnet.cpp";
  d.claims = claims;
  GgufTypeId i2s = gguf_type(kI2S, "I2_S", "bitnet_i2_s", 128, 32);
  i2s.tensor_bytes = i2s_tensor_bytes;
  GgufTypeId tl1 = gguf_type(kTL1, "TL1", "bitnet_tl1", 4, 1);  // rows*cols/4 bytes as the converter writes them
  tl1.companions = {"_scale"};
  GgufTypeId tl2 = gguf_type(kTL2, "TL2", "bitnet_tl2", 1, 0);
  tl2.tensor_bytes = tl2_tensor_bytes;
  tl2.companions = {"_scale"};
  d.types = {i2s, tl1, tl2};
  d.params = tile_params;
  return d;
}

}  // namespace qb::bitnet

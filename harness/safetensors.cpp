#include "harness/safetensors.h"

#include <algorithm>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

namespace qb {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // real checkpoints stay far below this
constexpr int64_t kMaxDim = int64_t{1} << 40;

using nlohmann::json;

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "", "cannot open file");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

OwnedTensor parse_tensor(const std::string& path, const std::string& name, const json& entry,
                         const std::vector<uint8_t>& raw, std::size_t data_begin, uint64_t& begin,
                         uint64_t& end) {
  const std::string field = "tensors." + name;
  if (!entry.is_object()) throw FileError(path, field, "expected an object with dtype, shape, data_offsets");
  OwnedTensor t;
  t.name = name;

  const auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string()) throw FileError(path, field + ".dtype", "missing or not a string");
  const auto dtype = dtype_from_name(dt->get<std::string>());
  if (!dtype) throw FileError(path, field + ".dtype", "unknown dtype '" + dt->get<std::string>() + "'");
  t.dtype = *dtype;

  const auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array()) throw FileError(path, field + ".shape", "missing or not an array");
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > kMaxDim)
      throw FileError(path, field + ".shape", "dimensions must be non-negative integers below 2^40");
    t.shape.push_back(d.get<int64_t>());
    const auto dim = static_cast<uint64_t>(t.shape.back());
    if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim / 8)
      throw FileError(path, field + ".shape", "element count overflows");
    numel *= dim;
  }

  const auto off = entry.find("data_offsets");
  if (off == entry.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    throw FileError(path, field + ".data_offsets", "expected [begin, end] of non-negative integers");
  begin = (*off)[0].get<uint64_t>();
  end = (*off)[1].get<uint64_t>();
  const uint64_t data_size = raw.size() - data_begin;
  if (begin > end || end > data_size)
    throw FileError(path, field + ".data_offsets",
                    "[" + std::to_string(begin) + ", " + std::to_string(end) + ") lies outside the " +
                        std::to_string(data_size) + "-byte data section (file truncated?)");
  if (end - begin != numel * dtype_size(t.dtype))
    throw FileError(path, field + ".data_offsets",
                    "holds " + std::to_string(end - begin) + " bytes but shape and dtype need " +
                        std::to_string(numel * dtype_size(t.dtype)));
  t.bytes.assign(raw.begin() + static_cast<std::ptrdiff_t>(data_begin + begin),
                 raw.begin() + static_cast<std::ptrdiff_t>(data_begin + end));
  return t;
}

}  // namespace

int64_t OwnedTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const OwnedTensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::vector<uint8_t> raw = read_all(path);
  if (raw.size() < 8) throw FileError(path, "header length", "file is " + std::to_string(raw.size()) + " bytes, shorter than the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | raw[static_cast<std::size_t>(i)];
  if (header_len > kMaxHeader || header_len > raw.size() - 8)
    throw FileError(path, "header length", "claims " + std::to_string(header_len) + " bytes but the file has " +
                                               std::to_string(raw.size() - 8) + " after it");
  json header;
  try {
    header = json::parse(raw.begin() + 8, raw.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
  } catch (const json::parse_error& e) {
    throw FileError(path, "header", std::string("not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw FileError(path, "header", "must be a JSON object");

  SafetensorsFile file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) throw FileError(path, "__metadata__", "must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw FileError(path, "__metadata__." + m.key(), "value must be a string");
        file.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    uint64_t begin = 0, end = 0;
    file.tensors.push_back(parse_tensor(path, it.key(), *it, raw, 8 + header_len, begin, end));
    ranges.emplace_back(begin, end);
  }
  // The format requires the data section to be covered exactly, without holes or overlaps.
  std::sort(ranges.begin(), ranges.end());
  uint64_t cursor = 0;
  for (const auto& [b, e] : ranges) {
    if (b != cursor) throw FileError(path, "data_offsets", "tensor data overlaps or leaves a hole at byte " + std::to_string(cursor));
    cursor = e;
  }
  if (cursor != raw.size() - 8 - header_len)
    throw FileError(path, "data_offsets", std::to_string(raw.size() - 8 - header_len - cursor) +
                                              " trailing bytes after the last tensor");
  // File order follows data offsets, which is how writers lay tensors out.
  std::stable_sort(file.tensors.begin(), file.tensors.end(), [&](const OwnedTensor& a, const OwnedTensor& b) {
    return header[a.name]["data_offsets"][0].get<uint64_t>() < header[b.name]["data_offsets"][0].get<uint64_t>();
  });
  return file;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  json header = json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto& t : file.tensors) {
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw FileError(path, "", "cannot create file");
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : file.tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (!out) throw FileError(path, "", "write failed");
}

}  // namespace qb

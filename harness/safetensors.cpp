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

TensorEntry parse_tensor(const std::string& path, const std::string& name, const json& entry,
                         uint64_t data_size) {
  const std::string field = "tensors." + name;
  if (!entry.is_object()) throw FileError(path, field, "expected an object with dtype, shape, data_offsets");
  TensorEntry t;
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
  const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
  if (begin > end || end > data_size)
    throw FileError(path, field + ".data_offsets",
                    "[" + std::to_string(begin) + ", " + std::to_string(end) + ") lies outside the " +
                        std::to_string(data_size) + "-byte data section (file truncated?)");
  if (end - begin != numel * dtype_size(t.dtype))
    throw FileError(path, field + ".data_offsets",
                    "holds " + std::to_string(end - begin) + " bytes but shape and dtype need " +
                        std::to_string(numel * dtype_size(t.dtype)));
  t.offset = begin;
  t.nbytes = end - begin;
  return t;
}

// Header checks shared by the full reader and the header-only one: `file_size` is what the file
// holds, so truncation shows up without reading the data.
SafetensorsHeader parse_header(const std::string& path, const uint8_t* head, std::size_t head_size,
                               uint64_t file_size) {
  if (file_size < 8) throw FileError(path, "header length", "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | head[i];
  if (header_len > kMaxHeader || header_len > file_size - 8)
    throw FileError(path, "header length", "claims " + std::to_string(header_len) + " bytes but the file has " +
                                               std::to_string(file_size - 8) + " after it");
  if (head_size < 8 + header_len) throw FileError(path, "header", "could not read the whole header");
  json header;
  try {
    header = json::parse(head + 8, head + 8 + header_len);
  } catch (const json::parse_error& e) {
    throw FileError(path, "header", std::string("not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw FileError(path, "header", "must be a JSON object");

  SafetensorsHeader h;
  h.data_begin = 8 + header_len;
  const uint64_t data_size = file_size - h.data_begin;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) throw FileError(path, "__metadata__", "must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw FileError(path, "__metadata__." + m.key(), "value must be a string");
        h.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    h.tensors.push_back(parse_tensor(path, it.key(), *it, data_size));
  }
  // File order follows data offsets, which is how writers lay tensors out.
  std::stable_sort(h.tensors.begin(), h.tensors.end(),
                   [](const TensorEntry& a, const TensorEntry& b) { return a.offset < b.offset; });
  // The format requires the data section to be covered exactly, without holes or overlaps.
  uint64_t cursor = 0;
  for (const auto& t : h.tensors) {
    if (t.offset != cursor) throw FileError(path, "data_offsets", "tensor data overlaps or leaves a hole at byte " + std::to_string(cursor));
    cursor = t.offset + t.nbytes;
  }
  if (cursor != data_size)
    throw FileError(path, "data_offsets", std::to_string(data_size - cursor) + " trailing bytes after the last tensor");
  return h;
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
  SafetensorsHeader h = parse_header(path, raw.data(), raw.size(), raw.size());
  SafetensorsFile file;
  file.metadata = std::move(h.metadata);
  for (auto& e : h.tensors) {
    OwnedTensor t;
    t.name = std::move(e.name);
    t.dtype = e.dtype;
    t.shape = std::move(e.shape);
    const auto* p = raw.data() + h.data_begin + e.offset;
    t.bytes.assign(p, p + e.nbytes);
    file.tensors.push_back(std::move(t));
  }
  return file;
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileError(path, "", "cannot open file");
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  std::vector<uint8_t> head(static_cast<std::size_t>(std::min<uint64_t>(file_size, 8)));
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  if (head.size() == 8) {
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | head[static_cast<std::size_t>(i)];
    if (header_len <= kMaxHeader && header_len <= file_size - 8) {
      head.resize(8 + header_len);
      in.read(reinterpret_cast<char*>(head.data() + 8), static_cast<std::streamsize>(header_len));
      if (!in) throw FileError(path, "header", "read failed");
    }
  }
  return parse_header(path, head.data(), head.size(), file_size);
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

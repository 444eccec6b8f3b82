#include "harness/safetensors.h"

#include <algorithm>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "harness/json_field.h"

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

std::string hex_byte(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

TensorEntry parse_tensor(const std::string& path, const std::string& name, const json& entry,
                         uint64_t data_size) {
  const std::string field = "tensors." + name;
  require_object(entry, path, field);
  TensorEntry t;
  t.name = name;

  const std::string dt = get_string(require_field(entry, path, field, "dtype"), path, field + ".dtype");
  const auto dtype = dtype_from_name(dt);
  if (!dtype) throw FileError(path, field + ".dtype", "unknown dtype '" + dt + "'");
  t.dtype = *dtype;

  const std::string shape_field = field + ".shape";
  const json& shape = require_array(require_field(entry, path, field, "shape"), path, shape_field);
  uint64_t numel = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    t.shape.push_back(get_int(shape[i], path, field_path(shape_field, i), 0, kMaxDim));
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(t.shape.back()), &numel))
      throw FileError(path, shape_field, "element count overflows 64 bits");
  }
  uint64_t need = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(t.dtype)), &need))
    throw FileError(path, shape_field, "byte count (" + std::to_string(numel) + " elements of " + dt + ") overflows 64 bits");

  const std::string off_field = field + ".data_offsets";
  const json& off = require_array(require_field(entry, path, field, "data_offsets"), path, off_field);
  if (off.size() != 2) throw FileError(path, off_field, "has " + std::to_string(off.size()) + " elements, expected [begin, end]");
  const uint64_t begin = get_uint(off[0], path, off_field + "[0]"), end = get_uint(off[1], path, off_field + "[1]");
  if (begin > end || end > data_size)
    throw FileError(path, off_field,
                    "[" + std::to_string(begin) + ", " + std::to_string(end) + ") lies outside the " +
                        std::to_string(data_size) + "-byte data section (file truncated?)");
  if (end - begin != need)
    throw FileError(path, off_field,
                    "holds " + std::to_string(end - begin) + " bytes but shape and dtype need " + std::to_string(need));
  t.offset = begin;
  t.nbytes = end - begin;
  return t;
}

// Offset just past the '}' that closes the object opening at text[0], or `size` when it never
// closes (the parser then says what is wrong). Brackets inside strings do not count.
std::size_t object_end(const char* text, std::size_t size) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < size; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return size;
}

// The header text exactly as the format defines it (huggingface/safetensors README): it MUST
// begin with '{', MAY be padded at the end with 0x20 spaces, is one JSON object with unique keys,
// and __metadata__ maps strings to strings. Anything else is refused, since parsers that are more
// lenient (nlohmann keeps the last of two equal keys) would read a different file than the
// reference loader does.
json parse_header_json(const std::string& path, const char* text, std::size_t size) {
  if (size == 0) throw FileError(path, "header", "is empty; it must begin with '{'");
  if (text[0] != '{')
    throw FileError(path, "header",
                    "must begin with '{' but byte " + hex_byte(static_cast<unsigned char>(text[0])) +
                        " is at header offset 0");
  const std::size_t end = object_end(text, size);
  for (std::size_t i = end; i < size; ++i)
    if (text[i] != ' ')
      throw FileError(path, "header",
                      "byte " + hex_byte(static_cast<unsigned char>(text[i])) + " at header offset " + std::to_string(i) +
                          " after the JSON object: only 0x20 padding is allowed");
  JsonSource src;
  src.file = path;
  src.field = "header";
  src.offset_name = "header offset";
  // Field paths name tensors as the rest of the reader does ("tensors.<name>.shape").
  src.field_of = [](const std::string& p) {
    const std::string meta = "__metadata__";
    const bool is_meta = p.compare(0, meta.size(), meta) == 0 && (p.size() == meta.size() || p[meta.size()] == '.');
    return is_meta ? p : "tensors." + p;
  };
  try {
    return parse_json_strict<json>(text, end, src);
  } catch (const DuplicateKeyError& e) {
    if (e.depth() != 0 || e.key() == "__metadata__") throw;
    throw FileError(path, e.field(), "duplicate tensor name '" + e.key() + "' (the format forbids duplicate keys)");
  }
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
  const json header = parse_header_json(path, reinterpret_cast<const char*>(head + 8), header_len);

  SafetensorsHeader h;
  h.data_begin = 8 + header_len;
  const uint64_t data_size = file_size - h.data_begin;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      for (auto m = require_object(*it, path, "__metadata__").begin(); m != it->end(); ++m)
        h.metadata[m.key()] = get_string(*m, path, "__metadata__." + m.key());
      continue;
    }
    h.tensors.push_back(parse_tensor(path, it.key(), *it, data_size));
  }
  // File order follows data offsets, which is how writers lay tensors out.
  std::stable_sort(h.tensors.begin(), h.tensors.end(),
                   [](const TensorEntry& a, const TensorEntry& b) { return a.offset < b.offset; });
  // The format requires the data section to be covered exactly, without holes or overlaps.
  // Every end lies within data_size (parse_tensor), so the cursor cannot wrap.
  uint64_t cursor = 0;
  const TensorEntry* previous = nullptr;
  for (const auto& t : h.tensors) {
    const std::string field = "tensors." + t.name + ".data_offsets";
    if (t.offset < cursor)
      throw FileError(path, field, "begins at byte " + std::to_string(t.offset) + ", inside tensor '" + previous->name +
                                       "' (bytes " + std::to_string(previous->offset) + ".." + std::to_string(cursor) + ")");
    if (t.offset > cursor)
      throw FileError(path, field, "begins at byte " + std::to_string(t.offset) + ", leaving a hole of " +
                                       std::to_string(t.offset - cursor) + " bytes after " +
                                       (previous ? "tensor '" + previous->name + "'" : std::string("the header")));
    cursor = t.offset + t.nbytes;
    previous = &t;
  }
  if (cursor != data_size)
    throw FileError(path, "data_offsets", std::to_string(data_size - cursor) + " trailing bytes after the last tensor");
  return h;
}

}  // namespace

int64_t OwnedTensor::numel() const {
  // Tensors read from files were checked by the reader; ones built in code are checked here.
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) throw std::overflow_error("tensor '" + name + "': element count overflows");
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
    // A second tensor of the same name would replace the first in the header but not in the data.
    if (header.contains(t.name)) throw FileError(path, "tensors." + t.name, "duplicate tensor name '" + t.name + "'");
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

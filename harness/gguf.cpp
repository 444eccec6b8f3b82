#include "harness/gguf.h"

#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>
#include <utility>

#include "harness/json_field.h"
#include "harness/mapped_file.h"
#include "harness/safetensors.h"

namespace qb {
namespace {

constexpr uint64_t kDefaultAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT
constexpr uint32_t kMaxDims = 4;            // GGUF readers accept at most 4 dimensions
constexpr uint64_t kMaxName = 63;           // the format's name limit is 64 bytes with the terminating NUL
constexpr uint64_t kMaxKey = 65535;         // the GGUF specification caps keys at 2^16 - 1 bytes
// The specification allows arrays of arrays without a limit; real files nest none (upstream's own
// reader refuses any). The cap keeps a hostile file from exhausting the stack.
constexpr int kMaxArrayDepth = 8;
// The least a tensor info and a key/value pair can occupy (an empty name or key, no dimensions,
// a one-byte value): counts beyond remaining bytes / these are refused before any allocation.
constexpr uint64_t kMinTensorInfo = 8 + 4 + 4 + 8;
constexpr uint64_t kMinKeyValue = 8 + 4 + 1;

uint64_t fixed_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: case GgufValueType::i8: case GgufValueType::boolean: return 1;
    case GgufValueType::u16: case GgufValueType::i16: return 2;
    case GgufValueType::u32: case GgufValueType::i32: case GgufValueType::f32: return 4;
    case GgufValueType::u64: case GgufValueType::i64: case GgufValueType::f64: return 8;
    case GgufValueType::string: case GgufValueType::array: return 0;
  }
  return 0;
}

uint64_t load_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string hex_bytes(const uint8_t* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += std::string(i ? " " : "") + kHex[p[i] >> 4] + kHex[p[i] & 15];
  return s;
}

// Size of a value already checked by the parser (elements() walks arrays with it).
uint64_t stored_size(GgufValueType t, const uint8_t* p) {
  if (const uint64_t s = fixed_size(t)) return s;
  if (t == GgufValueType::string) return 8 + load_le(p, 8);
  const auto elem = static_cast<GgufValueType>(load_le(p, 4));
  const uint64_t n = load_le(p + 4, 8);
  if (const uint64_t s = fixed_size(elem)) return 12 + n * s;
  uint64_t at = 12;
  for (uint64_t i = 0; i < n; ++i) at += stored_size(elem, p + at);
  return at;
}

}  // namespace

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: return "uint8";
    case GgufValueType::i8: return "int8";
    case GgufValueType::u16: return "uint16";
    case GgufValueType::i16: return "int16";
    case GgufValueType::u32: return "uint32";
    case GgufValueType::i32: return "int32";
    case GgufValueType::f32: return "float32";
    case GgufValueType::boolean: return "bool";
    case GgufValueType::string: return "string";
    case GgufValueType::array: return "array";
    case GgufValueType::u64: return "uint64";
    case GgufValueType::i64: return "int64";
    case GgufValueType::f64: return "float64";
  }
  return "?";
}

namespace {

[[noreturn]] void wrong_value_type(GgufValueType have, const char* want) {
  throw std::logic_error("GGUF value is " + std::string(gguf_value_type_name(have)) + ", not " + want);
}

}  // namespace

uint64_t GgufValue::as_uint() const {
  switch (type_) {
    case GgufValueType::u8: case GgufValueType::u16: case GgufValueType::u32: case GgufValueType::u64:
      return load_le(at_, static_cast<int>(fixed_size(type_)));
    default: wrong_value_type(type_, "an unsigned integer");
  }
}

int64_t GgufValue::as_int() const {
  switch (type_) {
    case GgufValueType::i8: return static_cast<int8_t>(at_[0]);
    case GgufValueType::i16: return static_cast<int16_t>(load_le(at_, 2));
    case GgufValueType::i32: return static_cast<int32_t>(load_le(at_, 4));
    case GgufValueType::i64: return static_cast<int64_t>(load_le(at_, 8));
    default: wrong_value_type(type_, "a signed integer");
  }
}

double GgufValue::as_float() const {
  if (type_ == GgufValueType::f32) {
    const auto bits = static_cast<uint32_t>(load_le(at_, 4));
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  if (type_ == GgufValueType::f64) {
    const uint64_t bits = load_le(at_, 8);
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  wrong_value_type(type_, "a float");
}

bool GgufValue::as_bool() const {
  if (type_ != GgufValueType::boolean) wrong_value_type(type_, "a bool");
  return at_[0] != 0;
}

std::string_view GgufValue::as_string() const {
  if (type_ != GgufValueType::string) wrong_value_type(type_, "a string");
  return {reinterpret_cast<const char*>(at_ + 8), static_cast<std::size_t>(load_le(at_, 8))};
}

GgufValueType GgufValue::element_type() const {
  if (type_ != GgufValueType::array) wrong_value_type(type_, "an array");
  return elem_;
}

uint64_t GgufValue::count() const {
  if (type_ != GgufValueType::array) wrong_value_type(type_, "an array");
  return count_;
}

std::vector<GgufValue> GgufValue::elements() const {
  if (type_ != GgufValueType::array) wrong_value_type(type_, "an array");
  std::vector<GgufValue> out;
  uint64_t at = 12;
  for (uint64_t i = 0; i < count_; ++i) {
    GgufValue v;
    v.type_ = elem_;
    v.at_ = at_ + at;
    v.nbytes_ = stored_size(elem_, v.at_);
    if (elem_ == GgufValueType::array) {
      v.elem_ = static_cast<GgufValueType>(load_le(v.at_, 4));
      v.count_ = load_le(v.at_ + 4, 8);
    }
    at += v.nbytes_;
    out.push_back(v);
  }
  return out;
}

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // read_gguf refused products that overflow
  return n;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  for (const GgufTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// A cursor over the mapped bytes: every read is checked against the end of the file first.
class GgufParser {
 public:
  GgufParser(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), p_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  [[noreturn]] void fail(const std::string& field, const std::string& message) const {
    throw FileError(path_, field, message);
  }

  void need(uint64_t n, const std::string& field, const std::string& what) const {
    if (n > left())
      fail(field, what + " needs " + std::to_string(n) + " bytes at byte " + std::to_string(pos_) +
                      " but the file ends " + std::to_string(left()) + " bytes later");
  }
  uint64_t uint(int bytes, const std::string& field, const std::string& what) {
    need(static_cast<uint64_t>(bytes), field, what);
    const uint64_t v = load_le(p_ + pos_, bytes);
    pos_ += static_cast<uint64_t>(bytes);
    return v;
  }
  // A GGUF string: u64 length, then that many bytes.
  std::string_view string(const std::string& field, const std::string& what) {
    const uint64_t at = pos_;
    const uint64_t n = uint(8, field, what + " length");
    if (n > left())
      fail(field, what + " length " + std::to_string(n) + " (at byte " + std::to_string(at) +
                      ") runs past the end of the file: " + std::to_string(left()) + " bytes remain");
    const std::string_view s(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(n));
    pos_ += n;
    return s;
  }
  // A key or tensor name: a string of at most `max` bytes of valid UTF-8.
  std::string name(const std::string& field, const std::string& what, uint64_t max, const std::string& why) {
    const std::string_view s = string(field, what);
    if (s.size() > max) fail(field, what + " is " + std::to_string(s.size()) + " bytes; " + why);
    if (const std::size_t bad = invalid_utf8_at(s.data(), s.size()); bad != std::string::npos)
      fail(field, what + " is not UTF-8 (byte " + std::to_string(bad) + " of it)");
    return std::string(s);
  }
  GgufValueType value_type(const std::string& field) {
    const uint64_t at = pos_;
    const auto t = static_cast<uint32_t>(uint(4, field, "value type"));
    if (t > static_cast<uint32_t>(GgufValueType::f64))
      fail(field, "value type " + std::to_string(t) + " (at byte " + std::to_string(at) +
                      ") is not a GGUF type; 0..12 are uint8 .. float64");
    return static_cast<GgufValueType>(t);
  }

  // One value of type `t` at the cursor, checked and skipped over; `depth` counts enclosing arrays.
  GgufValue value(GgufValueType t, const std::string& field, int depth) {
    GgufValue v;
    v.type_ = t;
    v.at_ = p_ + pos_;
    const uint64_t begin = pos_;
    const std::string name(gguf_value_type_name(t));
    if (const uint64_t s = fixed_size(t)) {
      need(s, field, "a " + name + " value");
      if (t == GgufValueType::boolean && p_[pos_] > 1)
        fail(field, "bool value at byte " + std::to_string(pos_) + " is 0x" + hex_bytes(p_ + pos_, 1) + "; only 0 and 1 are bools");
      pos_ += s;
    } else if (t == GgufValueType::string) {
      string(field, "string");
    } else {
      if (depth >= kMaxArrayDepth)
        fail(field, "arrays nested " + std::to_string(depth + 1) + " deep; this reader takes at most " +
                        std::to_string(kMaxArrayDepth));
      v.elem_ = value_type(field + ".type");
      const uint64_t at = pos_;
      v.count_ = uint(8, field, "array count");
      // Each element occupies at least its fixed size, a string's length or an array's header.
      const uint64_t es = v.elem_ == GgufValueType::string ? 8 : v.elem_ == GgufValueType::array ? 12 : fixed_size(v.elem_);
      if (v.count_ > left() / es)
        fail(field, "array count " + std::to_string(v.count_) + " of " + std::string(gguf_value_type_name(v.elem_)) +
                        " (at byte " + std::to_string(at) + ") runs past the end of the file: " +
                        std::to_string(left()) + " bytes remain, each element takes at least " + std::to_string(es));
      if (v.elem_ == GgufValueType::boolean || v.elem_ == GgufValueType::string || v.elem_ == GgufValueType::array) {
        for (uint64_t i = 0; i < v.count_; ++i) value(v.elem_, field_path(field, static_cast<std::size_t>(i)), depth + 1);
      } else {
        pos_ += v.count_ * es;
      }
    }
    v.nbytes_ = pos_ - begin;
    return v;
  }

 private:
  const std::string& path_;
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

namespace {

std::string known_types(const std::vector<GgufTypeId>& types) {
  std::string s;
  for (const GgufTypeId& t : types) s += (s.empty() ? "" : ", ") + std::to_string(t.id) + " " + t.name;
  return s;
}

}  // namespace

GgufTypeId gguf_type(uint32_t id, std::string name, std::string format, int64_t block_elems, int64_t block_bytes) {
  GgufTypeId t;
  t.id = id;
  t.name = std::move(name);
  t.format = std::move(format);
  t.block_elems = block_elems;
  t.block_bytes = block_bytes;
  return t;
}

GgufFile read_gguf(const std::string& path, const std::vector<GgufTypeId>& types) {
  return read_gguf(path, [&types](const GgufFile&) -> const std::vector<GgufTypeId>& { return types; });
}

GgufFile read_gguf(const std::string& path,
                   const std::function<const std::vector<GgufTypeId>&(const GgufFile& header)>& types_for) {
  GgufFile g;
  g.path = path;
  g.map = std::make_shared<const MappedFile>(path);
  const uint8_t* base = g.map->data();
  GgufParser in(path, base, g.map->size());

  in.need(4, "magic", "the magic 'GGUF'");
  if (std::memcmp(base, "GGUF", 4) != 0)
    in.fail("magic", "is " + hex_bytes(base, 4) + ", expected 'GGUF' (47 47 55 46): not a GGUF file");
  in.uint(4, "magic", "");
  g.version = static_cast<uint32_t>(in.uint(4, "version", "the version"));
  if (g.version == 1)
    in.fail("version", "is 1: GGUF v1 (32-bit counts and string lengths) is no longer read; v2 and v3 are");
  if (g.version != 0 && (g.version & 0xffffu) == 0)
    in.fail("version", "is " + std::to_string(g.version) + ", a byte-swapped " + std::to_string(g.version >> 24) +
                           ": a big-endian file; only little-endian files are read");
  if (g.version != 2 && g.version != 3) in.fail("version", "is " + std::to_string(g.version) + "; v2 and v3 are read");

  const uint64_t n_tensors = in.uint(8, "tensor_count", "the tensor count");
  const uint64_t n_kv = in.uint(8, "metadata_kv_count", "the metadata count");
  if (n_kv > in.left() / kMinKeyValue)
    in.fail("metadata_kv_count", "is " + std::to_string(n_kv) + " but only " + std::to_string(in.left()) +
                                     " bytes remain (a key/value pair takes at least " + std::to_string(kMinKeyValue) + ")");

  std::set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = in.name("metadata[" + std::to_string(i) + "].key", "key", kMaxKey,
                                    "the GGUF specification caps keys at 65535 bytes");
    const std::string field = "metadata." + key;
    if (!keys.insert(key).second) in.fail(field, "duplicate key (readers disagree on which copy counts)");
    const GgufValueType t = in.value_type(field + ".type");
    g.metadata.emplace_back(key, in.value(t, field, 0));
  }
  if (const GgufValue* a = g.find("general.alignment")) {
    // Upstream's rule (gguf.cpp): a uint32, non-zero and a power of two.
    if (a->type() != GgufValueType::u32)
      in.fail("metadata.general.alignment", "is a " + std::string(gguf_value_type_name(a->type())) + "; it must be a uint32");
    g.alignment = a->as_uint();
    if (g.alignment == 0 || (g.alignment & (g.alignment - 1)) != 0)
      in.fail("metadata.general.alignment", "is " + std::to_string(g.alignment) + ", not a power of two");
  } else {
    g.alignment = kDefaultAlignment;
  }

  const std::vector<GgufTypeId>& types = types_for(g);
  if (n_tensors > in.left() / kMinTensorInfo)
    in.fail("tensor_count", "is " + std::to_string(n_tensors) + " but only " + std::to_string(in.left()) +
                                " bytes remain after the metadata (a tensor info takes at least " +
                                std::to_string(kMinTensorInfo) + ")");
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = in.name("tensors[" + std::to_string(i) + "].name", "tensor name", kMaxName,
                     "GGUF tensor names hold at most 63 bytes (64 with the NUL)");
    const std::string field = "tensors." + t.name;
    if (!names.insert(t.name).second) in.fail(field, "duplicate tensor name");
    const auto n_dims = static_cast<uint32_t>(in.uint(4, field + ".n_dims", "n_dims"));
    if (n_dims > kMaxDims)
      in.fail(field + ".n_dims", "is " + std::to_string(n_dims) + "; GGUF tensors have at most " + std::to_string(kMaxDims) + " dimensions");
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const std::string ne_field = field + ".ne[" + std::to_string(d) + "]";
      const auto v = static_cast<int64_t>(in.uint(8, ne_field, "ne"));
      if (v < 0) in.fail(ne_field, "is " + std::to_string(v) + ", negative");
      t.ne.push_back(v);
      if (__builtin_mul_overflow(numel, v, &numel))
        in.fail(ne_field, "is " + std::to_string(v) + ": the element count, the product of ne[0.." + std::to_string(d) +
                              "], overflows 64 bits");
    }
    const auto type_id = static_cast<uint32_t>(in.uint(4, field + ".type", "the type"));
    for (const GgufTypeId& ty : types)
      if (ty.id == type_id) t.type = &ty;
    if (!t.type)
      in.fail(field + ".type", "is " + std::to_string(type_id) + ", not a tensor type any registered family lists (" +
                                   known_types(types) + ")");
    const int64_t row = t.ne.empty() ? 1 : t.ne[0];
    if (row % t.type->block_elems != 0)
      in.fail(field + ".ne[0]", "is " + std::to_string(row) + ", not a multiple of " + t.type->name + "'s block of " +
                                    std::to_string(t.type->block_elems) + " elements");
    uint64_t nbytes = 0;
    if (t.type->tensor_bytes) {
      try {
        nbytes = t.type->tensor_bytes(row, numel);
      } catch (const std::invalid_argument& e) {
        in.fail(field + ".ne", "does not make a " + t.type->name + " tensor: " + e.what());
      }
    } else if (__builtin_mul_overflow(static_cast<uint64_t>(numel / t.type->block_elems), static_cast<uint64_t>(t.type->block_bytes), &nbytes))
      in.fail(field + ".ne", "byte count (" + std::to_string(numel) + " elements of " + t.type->name + ") overflows 64 bits");
    t.nbytes = nbytes;
    t.offset = in.uint(8, field + ".offset", "the offset");
    g.tensors.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment (the file's tail may be padding).
  const uint64_t info_end = in.pos();
  g.data_begin = info_end + (g.alignment - info_end % g.alignment) % g.alignment;
  const uint64_t size = g.map->size();
  const uint64_t data_size = g.data_begin <= size ? size - g.data_begin : 0;
  uint64_t expected = 0;  // where upstream's reader requires the next tensor: the previous end, padded
  const GgufTensor* previous = nullptr;
  for (GgufTensor& t : g.tensors) {
    const std::string field = "tensors." + t.name + ".offset";
    const std::string at = "is " + std::to_string(t.offset);
    if (t.offset % g.alignment != 0)
      in.fail(field, at + ", not a multiple of the alignment " + std::to_string(g.alignment));
    if (t.offset < expected)
      in.fail(field, at + ", inside tensor '" + previous->name + "' (data bytes " + std::to_string(previous->offset) +
                         ".." + std::to_string(previous->offset + previous->nbytes) + ")");
    if (t.offset > expected)
      in.fail(field, at + ", leaving a hole of " + std::to_string(t.offset - expected) + " bytes after " +
                         (previous ? "tensor '" + previous->name + "'" : std::string("the start of the data section")) +
                         "; GGUF places each tensor at the previous one's end, padded to the alignment");
    if (g.data_begin > size || t.offset > data_size || t.nbytes > data_size - t.offset)
      in.fail(field, at + " and the tensor holds " + std::to_string(t.nbytes) + " bytes, past the end of the " +
                         std::to_string(data_size) + "-byte data section at file byte " + std::to_string(g.data_begin) +
                         " (file truncated?)");
    t.data = base + g.data_begin + t.offset;
    // t.offset + nbytes <= data_size, so adding the padding cannot wrap.
    expected = t.offset + t.nbytes + (g.alignment - t.nbytes % g.alignment) % g.alignment;
    previous = &t;
  }
  return g;
}

bool has_gguf_magic(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[4] = {};
  const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  std::fclose(f);
  return ok;
}

}  // namespace qb

// Reading JSON that comes from files we do not control (safetensors headers, config.json, index
// files, upstream manifests). nlohmann's own checks throw type_error/out_of_range messages that
// name neither the file nor the field, and its parser keeps the last of two equal keys without a
// word; everything here throws a FileError naming the file and the dotted field path instead.
// Callers read untrusted JSON only through these accessors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/safetensors.h"

namespace qb {

// "parent.key" ("key" at the top); "parent[index]".
std::string field_path(const std::string& parent, const std::string& key);
std::string field_path(const std::string& parent, std::size_t index);

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points past
// U+10FFFF included), or npos when the text is valid. RFC 8259 requires JSON text to be UTF-8.
std::size_t invalid_utf8_at(const char* text, std::size_t size);

// How a document is parsed and how its errors are named.
struct JsonSource {
  std::string file;   // named by every error
  std::string field;  // what errors about the text as a whole name ("header"; empty: the file)
  // Maps a key path ("a.b[2].c") to the field errors name; the path itself when empty.
  std::function<std::string(const std::string& path)> field_of;
  std::string offset_name = "byte";  // "byte 0xff at <offset_name> 12": what offsets count from
  int max_depth = 64;  // real configs nest a few levels; deeper means a broken or hostile file
};

// Two equal keys in one object. A separate type so that a reader can say what the key stands for
// ("duplicate tensor name"); key() is the key, depth() 0 for the outermost object.
class DuplicateKeyError : public FileError {
 public:
  DuplicateKeyError(std::string file, std::string field, std::string key, int depth)
      : FileError(std::move(file), std::move(field), "duplicate key '" + key + "' (readers disagree on which copy counts)"),
        key_(std::move(key)),
        depth_(depth) {}
  const std::string& key() const { return key_; }
  int depth() const { return depth_; }

 private:
  std::string key_;
  int depth_;
};

// Exactly one JSON value in [text, text + size): valid UTF-8, keys unique in every object at every
// depth, nesting at most max_depth, nothing but JSON whitespace after the value.
template <class J>
J parse_json_strict(const char* text, std::size_t size, const JsonSource& src);
// The whole file, parsed as above ("cannot open file" when it cannot be read).
template <class J>
J parse_json_file(const std::string& path);

// "number 5", "string \"x\"", "array of 3", "object": what a value is, for "is X, expected Y".
template <class J>
std::string describe_json(const J& j) {
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array of " + std::to_string(j.size());
  std::string text = j.dump(-1, ' ', false, J::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(j.is_string() ? "the string " : j.is_number() ? "the number " : "") + text;
}

template <class J>
[[noreturn]] void wrong_type(const J& j, const std::string& file, const std::string& path, const std::string& expected) {
  throw FileError(file, path, "is " + describe_json(j) + ", expected " + expected);
}

template <class J>
const J& require_object(const J& j, const std::string& file, const std::string& path) {
  if (!j.is_object()) wrong_type(j, file, path, "an object");
  return j;
}

template <class J>
const J& require_array(const J& j, const std::string& file, const std::string& path) {
  if (!j.is_array()) wrong_type(j, file, path, "an array");
  return j;
}

// obj[key], obj must be an object; `path` is obj's own path.
template <class J>
const J* find_field(const J& obj, const std::string& file, const std::string& path, const std::string& key) {
  require_object(obj, file, path);
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

template <class J>
const J& require_field(const J& obj, const std::string& file, const std::string& path, const std::string& key) {
  const J* v = find_field(obj, file, path, key);
  if (!v) throw FileError(file, field_path(path, key), "missing");
  return *v;
}

template <class J>
std::string get_string(const J& j, const std::string& file, const std::string& path) {
  if (!j.is_string()) wrong_type(j, file, path, "a string");
  return j.template get_ref<const typename J::string_t&>();
}

// An integer within [lo, hi]; 3.0 is not one (a float in a size field means a broken writer).
template <class J>
int64_t get_int(const J& j, const std::string& file, const std::string& path,
                int64_t lo = std::numeric_limits<int64_t>::min(), int64_t hi = std::numeric_limits<int64_t>::max()) {
  if (!j.is_number_integer()) wrong_type(j, file, path, "an integer");
  // nlohmann stores every non-negative integer unsigned: one above INT64_MAX must not wrap.
  if (j.is_number_unsigned() && j.template get<uint64_t>() > static_cast<uint64_t>(hi))
    throw FileError(file, path, "is " + std::to_string(j.template get<uint64_t>()) + ", above the largest allowed " +
                                    std::to_string(hi));
  const auto v = j.template get<int64_t>();
  if (v < lo || v > hi)
    throw FileError(file, path, "is " + std::to_string(v) + ", outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

template <class J>
uint64_t get_uint(const J& j, const std::string& file, const std::string& path) {
  // Parsed non-negative integers are stored unsigned, ones built in code may be signed.
  if (!j.is_number_integer() || (!j.is_number_unsigned() && j.template get<int64_t>() < 0))
    wrong_type(j, file, path, "a non-negative integer");
  return j.template get<uint64_t>();
}

template <class J>
double get_number(const J& j, const std::string& file, const std::string& path) {
  if (!j.is_number()) wrong_type(j, file, path, "a number");
  return j.template get<double>();
}

template <class J>
bool get_bool(const J& j, const std::string& file, const std::string& path) {
  if (!j.is_boolean()) wrong_type(j, file, path, "true or false");
  return j.template get<bool>();
}

template <class J>
std::optional<std::string> optional_string(const J& obj, const std::string& file, const std::string& path,
                                           const std::string& key) {
  const J* v = find_field(obj, file, path, key);
  if (!v) return std::nullopt;
  return get_string(*v, file, field_path(path, key));
}

template <class J>
std::optional<int64_t> optional_int(const J& obj, const std::string& file, const std::string& path,
                                    const std::string& key) {
  const J* v = find_field(obj, file, path, key);
  if (!v) return std::nullopt;
  return get_int(*v, file, field_path(path, key));
}

// Lenient look-ups for layout detection, where a file of another shape just means "not this
// layout": the member or null, never an error.
template <class J>
const J* member_if(const J* j, const std::string& key) {
  if (!j || !j->is_object()) return nullptr;
  const auto it = j->find(key);
  return it == j->end() ? nullptr : &*it;
}
template <class J>
std::optional<std::string> string_if(const J* j) {
  if (!j || !j->is_string()) return std::nullopt;
  return j->template get_ref<const typename J::string_t&>();
}

}  // namespace qb

#include "harness/json_field.h"

#include <fstream>
#include <iterator>
#include <set>
#include <vector>

namespace qb {

std::string field_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string field_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::size_t invalid_utf8_at(const char* text, std::size_t size) {
  const auto* s = reinterpret_cast<const unsigned char*>(text);
  std::size_t i = 0;
  while (i < size) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Lead byte: how many continuation bytes follow and the smallest code point the length may
    // carry (anything smaller is an overlong form, which UTF-8 forbids).
    std::size_t more;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;  // a continuation byte out of place, C0/C1 (always overlong) or F5..FF
    }
    for (std::size_t k = 1; k <= more; ++k) {
      if (i + k >= size || (s[i + k] & 0xC0) != 0x80) return i + k < size ? i + k : i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += more + 1;
  }
  return std::string::npos;
}

namespace {

std::string hex_byte(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: ..." without the
// library's exception id, which tells a user nothing.
std::string parse_error_text(const std::exception& e) {
  const std::string what = e.what();
  const auto close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

}  // namespace

template <class J>
J parse_json_strict(const char* text, std::size_t size, const JsonSource& src) {
  const auto name = [&](const std::string& path) { return src.field_of ? src.field_of(path) : path; };
  if (const std::size_t bad = invalid_utf8_at(text, size); bad != std::string::npos)
    throw FileError(src.file, src.field,
                    "byte " + hex_byte(static_cast<unsigned char>(text[bad])) + " at " + src.offset_name + " " +
                        std::to_string(bad) + " is not valid UTF-8 (JSON text must be UTF-8)");

  // Where the parser is: one frame per open container, with the keys seen so far in an object and
  // the current position (key or index) that names the value being read.
  struct Frame {
    bool array;
    std::set<std::string> keys;
    std::string key;
    std::size_t index = 0;
  };
  std::vector<Frame> stack;
  const auto path_of = [&stack]() {
    std::string p;
    for (const Frame& f : stack) p = f.array ? field_path(p, f.index) : field_path(p, f.key);
    return p;
  };
  using Event = typename J::parse_event_t;
  // nlohmann keeps the last of two equal keys without a word; the callback sees every key first.
  const typename J::parser_callback_t check = [&](int, Event event, J& parsed) {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (stack.size() >= static_cast<std::size_t>(src.max_depth))
          throw FileError(src.file, name(path_of()),
                          "nested deeper than " + std::to_string(src.max_depth) + " levels");
        stack.push_back({event == Event::array_start, {}, {}, 0});
        break;
      case Event::key: {
        Frame& f = stack.back();
        f.key = parsed.template get_ref<const typename J::string_t&>();
        if (!f.keys.insert(f.key).second)
          throw DuplicateKeyError(src.file, name(path_of()), f.key, static_cast<int>(stack.size()) - 1);
        break;
      }
      case Event::object_end:
      case Event::array_end:
        stack.pop_back();
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
      case Event::value:
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
    }
    return true;
  };
  try {
    return J::parse(text, text + size, check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const typename J::parse_error& e) {
    throw FileError(src.file, src.field, "not valid JSON: " + parse_error_text(e));
  }
}

template <class J>
J parse_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "", "cannot open file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw FileError(path, "", "read failed");
  JsonSource src;
  src.file = path;
  return parse_json_strict<J>(text.data(), text.size(), src);
}

template nlohmann::json parse_json_strict<nlohmann::json>(const char*, std::size_t, const JsonSource&);
template nlohmann::ordered_json parse_json_strict<nlohmann::ordered_json>(const char*, std::size_t, const JsonSource&);
template nlohmann::json parse_json_file<nlohmann::json>(const std::string&);
template nlohmann::ordered_json parse_json_file<nlohmann::ordered_json>(const std::string&);

}  // namespace qb

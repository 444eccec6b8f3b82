#include "harness/shape.h"

#include <charconv>

namespace qb {
namespace {

std::optional<int64_t> parse_positive(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::optional<Shape> parse_shape(std::string_view s) {
  const auto x = s.find_first_of("xX");
  if (x == std::string_view::npos) return std::nullopt;
  const auto r = parse_positive(s.substr(0, x));
  const auto c = parse_positive(s.substr(x + 1));
  if (!r || !c) return std::nullopt;
  return Shape{*r, *c};
}

}  // namespace qb

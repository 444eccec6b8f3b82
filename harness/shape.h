// Weight shapes: rows x cols = output x input features, as QWeight counts them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qb {

struct Shape {
  int64_t rows = 0;
  int64_t cols = 0;
  std::string str() const { return std::to_string(rows) + "x" + std::to_string(cols); }
  bool operator==(const Shape& o) const { return rows == o.rows && cols == o.cols; }
};

// "RxC" with positive decimal R and C; nullopt on anything else.
std::optional<Shape> parse_shape(std::string_view s);

}  // namespace qb

// Weight shapes: rows x cols = output x input features, as QWeight counts them; tensor shapes
// as messages print them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qb {

struct Shape {
  int64_t rows = 0;
  int64_t cols = 0;
  std::string str() const { return std::to_string(rows) + "x" + std::to_string(cols); }
  bool operator==(const Shape& o) const { return rows == o.rows && cols == o.cols; }
};

// "[a, b, c]": a tensor shape as error messages print it.
std::string shape_str(const std::vector<int64_t>& dims);

// "RxC" with positive decimal R and C; nullopt on anything else.
std::optional<Shape> parse_shape(std::string_view s);

}  // namespace qb

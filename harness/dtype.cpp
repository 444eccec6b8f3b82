#include "harness/dtype.h"

#include <array>
#include <utility>

namespace qb {
namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  std::size_t size;
};
constexpr std::array<DTypeInfo, 12> kTypes{{
    {DType::U8, "U8", 1},   {DType::I8, "I8", 1},     {DType::U16, "U16", 2}, {DType::I16, "I16", 2},
    {DType::U32, "U32", 4}, {DType::I32, "I32", 4},   {DType::U64, "U64", 8}, {DType::I64, "I64", 8},
    {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2}, {DType::F32, "F32", 4}, {DType::F64, "F64", 8},
}};
}  // namespace

std::string_view dtype_name(DType t) { return kTypes[static_cast<std::size_t>(t)].name; }
std::size_t dtype_size(DType t) { return kTypes[static_cast<std::size_t>(t)].size; }
std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& d : kTypes)
    if (d.name == name) return d.type;
  return std::nullopt;
}

}  // namespace qb

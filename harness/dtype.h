// Element types of stored tensors, named as safetensors names them.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

namespace qb {

enum class DType { U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64 };

std::string_view dtype_name(DType t);
std::size_t dtype_size(DType t);
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace qb

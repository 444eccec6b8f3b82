// A quantized weight as the harness sees it: borrowed views of the format's stored tensors, by
// name, with the params JSON. Every family fits this shape: one tensor of blocks, or several
// named tensors (codes, scales, permutations, markers). Kernels get the prepared C view of it
// (harness/prepared.h).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/dtype.h"

namespace qb {

struct Format;

struct TensorView {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  std::size_t nbytes = 0;
};

struct QWeight {
  const Format* format = nullptr;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features
  nlohmann::json params = nlohmann::json::object();
  std::vector<TensorView> tensors;

  const TensorView& tensor(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return t;
    throw std::invalid_argument("quantized weight has no tensor '" + std::string(name) + "'");
  }
};

}  // namespace qb

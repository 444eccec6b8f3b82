// One fixture = one .safetensors case (shared/FIXTURES.md): the stored tensors of a quantized
// weight plus what a correct decoder must produce. Loading validates names, dtypes and shapes
// against the registry before any kernel can see the data.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/qweight.h"
#include "harness/registry.h"
#include "harness/safetensors.h"

namespace qb {

struct Fixture {
  std::string path;
  std::string format_id;
  const Format* format = nullptr;  // never null once loaded; may be !implemented()
  int64_t rows = 0, cols = 0;
  nlohmann::json params = nlohmann::json::object();
  std::string origin, description;
  std::vector<OwnedTensor> tensors;  // stored tensors, `source`, `expect.*`

  const OwnedTensor* find(const std::string& name) const;
  QWeight weight() const;  // views of the stored tensors in layout order; requires format
  QWeight all_tensors() const;  // views of every tensor the file holds, expectations included
};

// Tensor names the contract defines besides a format's stored tensors.
inline constexpr const char* kExpectationNames[] = {"source",   "expect.dequant", "expect.inner",
                                                    "expect.x", "expect.x_q",     "expect.y",
                                                    "expect.encode", "expect.encode_mask"};

// Throws FileError (file + field) on anything that breaks the contract, including an unknown
// format id. A catalogued format without an implementation still loads (and is validated
// against its layout); verify then reports it as skipped.
Fixture load_fixture(const std::string& path);
void save_fixture(const std::string& path, const Fixture& fixture);

}  // namespace qb

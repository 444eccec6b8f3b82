// The one validation of a weight's stored tensors, whatever container they came from (a fixture,
// a model directory, an importer): names, dtypes and shapes as Format::layout gives them for the
// weight's rows, cols and params, then the format's own value constraints
// (Format::validate_stored). Containers turn a StoredTensorError into a FileError naming their
// file and their name for the tensor, so one tensor is never stricter in one container than in
// another.
#pragma once
#include <stdexcept>
#include <string>

#include "harness/qweight.h"

namespace qb {

class StoredTensorError : public std::invalid_argument {
 public:
  // `tensor`: the layout name ("" when the weight's shape or params are at fault); `field`:
  // "dtype", "shape", "value" or "" (missing).
  StoredTensorError(std::string tensor, std::string field, const std::string& message)
      : std::invalid_argument(message), tensor_(std::move(tensor)), field_(std::move(field)) {}
  const std::string& tensor() const { return tensor_; }
  const std::string& field() const { return field_; }
  // "<prefix><tensor>[.dtype|.shape]" as a FileError field ("tensors.<layer>.trellis.shape");
  // callers name their own field when tensor() is empty.
  std::string field_path(const std::string& prefix) const;

 private:
  std::string tensor_, field_;
};

// Throws StoredTensorError. Value constraints are skipped for tensors without data (a model
// directory opened headers-only).
void check_stored(const QWeight& w);

}  // namespace qb

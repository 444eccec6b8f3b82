#include "harness/stored_check.h"

#include "harness/registry.h"
#include "harness/shape.h"

namespace qb {

std::string StoredTensorError::field_path(const std::string& prefix) const {
  return prefix + tensor_ + (field_ == "dtype" || field_ == "shape" ? "." + field_ : "");
}

void check_stored(const QWeight& w) {
  const Format& f = *w.format;
  std::vector<StoredTensorSpec> layout;
  try {
    layout = f.layout(w.rows, w.cols, w.params);
  } catch (const std::invalid_argument& e) {
    throw StoredTensorError("", "", e.what());
  }
  for (const StoredTensorSpec& spec : layout) {
    const TensorView* t = nullptr;
    for (const TensorView& v : w.tensors)
      if (v.name == spec.name) t = &v;
    if (!t) throw StoredTensorError(spec.name, "", "missing: format " + f.id + " stores it");
    if (t->dtype != spec.dtype)
      throw StoredTensorError(spec.name, "dtype", "is " + std::string(dtype_name(t->dtype)) + ", expected " +
                                                      std::string(dtype_name(spec.dtype)));
    if (t->shape != spec.shape)
      throw StoredTensorError(spec.name, "shape", "is " + shape_str(t->shape) + ", expected " + shape_str(spec.shape));
  }
  if (f.validate_stored) f.validate_stored(w);
}

}  // namespace qb

#include "harness/prepared.h"

#include <stdexcept>

#include "harness/registry.h"

namespace qb {

PreparedWeight::PreparedWeight(const QWeight& w) : w_(w), format_(w.format->id) {
  const Format& f = *w.format;
  for (const StoredTensorSpec& spec : f.layout(w.rows, w.cols, w.params)) {
    const TensorView& t = w.tensor(spec.name);
    tensors_.push_back({t.data, static_cast<int64_t>(t.nbytes)});
  }
  if (f.kernel_params) params_ = f.kernel_params(w.params);
  c_.format = format_.c_str();
  c_.rows = w.rows;
  c_.cols = w.cols;
  c_.tensors = tensors_.data();
  c_.n_tensors = static_cast<int32_t>(tensors_.size());
  c_.params = params_.data();
  c_.n_params = static_cast<int32_t>(params_.size());
}

}  // namespace qb

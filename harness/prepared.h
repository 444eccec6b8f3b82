// The kernel-side view of a weight (harness/qb_plugin.h), built once per weight by the harness:
// stored tensors in the format's layout order and its typed parameters. Kernels then read fixed
// positions; nothing in a kernel parses JSON or looks a tensor up by name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/qb_plugin.h"
#include "harness/qweight.h"

namespace qb {

class PreparedWeight {
 public:
  // Throws std::invalid_argument (naming the tensor or parameter) when `w` lacks a tensor of its
  // format's layout or its params do not parse.
  explicit PreparedWeight(const QWeight& w);
  PreparedWeight(const PreparedWeight&) = delete;  // c_ points into the members
  PreparedWeight& operator=(const PreparedWeight&) = delete;

  const QWeight& weight() const { return w_; }
  const qb_weight* get() const { return &c_; }

 private:
  const QWeight& w_;
  std::string format_;
  std::vector<qb_tensor> tensors_;
  std::vector<int64_t> params_;
  qb_weight c_{};
};

}  // namespace qb

// The seam between the harness and where a kernel runs. Every variant names a Target; its
// backend prepares the weight once (a device copy, a repacked layout; on the CPU the host view
// itself), runs the kernel over all rows, and fetches the results into host memory. The CPU
// backend splits rows over OpenMP threads on the format's row granule; kernels compute each row
// independently, so results are identical for any thread count.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>

#include "harness/registry.h"

namespace qb {

class PreparedWeight;

// A weight as one backend holds it.
class BackendWeight {
 public:
  virtual ~BackendWeight() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual std::unique_ptr<BackendWeight> prepare(const Variant& v, const PreparedWeight& w) const = 0;
  // Op::dequant / Op::inner: out is float [rows, cols]; Op::dequant_f16 / dequant_bf16: uint16_t
  // [rows, cols]; Op::gemv: act holds m activations, out is float [m][rows]. A device backend may
  // leave its results in device memory until fetch; the CPU backend writes `out` directly and
  // fetch does nothing.
  virtual void run(const Variant& v, const BackendWeight& w, const uint8_t* act, int64_t m, void* out,
                   int threads) const = 0;
  virtual void fetch(const Variant& v, const BackendWeight& w, void* out) const = 0;
};

// The host CPU: variants whose Target::backend is null run here.
const Backend& cpu_backend();

}  // namespace qb

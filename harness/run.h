// Threaded drivers: the only place kernels are called from. Rows are split into one contiguous
// range per thread; kernels compute each row independently, so results are identical for any
// thread count.
#pragma once
#include <cstdint>

#include "harness/registry.h"

namespace qb {

// Dequant and inner decode (same signature).
void run_dequant(const Variant& v, const QWeight& w, float* out, int threads);
void run_gemv(const Variant& v, const QWeight& w, const uint8_t* act, float* y, int threads);
// m activations back to back, y [m][rows]; single-vector kernels are called once per vector.
void run_gemv_batch(const Variant& v, const QWeight& w, const uint8_t* act, int64_t m, float* y, int threads);

}  // namespace qb

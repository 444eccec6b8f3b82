// Threaded drivers: the only place kernels are called from. Each goes through the variant's
// backend (harness/backend.h): prepare, run, fetch.
#pragma once
#include <cstdint>

#include "harness/prepared.h"
#include "harness/registry.h"

namespace qb {

// Dequant and inner decode (same signature): out is [rows, cols].
void run_dequant(const Variant& v, const PreparedWeight& w, float* out, int threads);
// m activations back to back (the format's activation encoding), y [m][rows]; kernels that do
// not batch are called once per vector.
void run_gemv(const Variant& v, const PreparedWeight& w, const uint8_t* act, int64_t m, float* y, int threads);

}  // namespace qb

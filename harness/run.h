// Threaded drivers: the only place kernels are called from. Each goes through the variant's
// backend (harness/backend.h): prepare, run, fetch.
#pragma once
#include <cstdint>
#include <stdexcept>

#include "harness/backend.h"
#include "harness/prepared.h"
#include "harness/registry.h"

namespace qb {

// A kernel wrote outside its output: the message names the variant, the op and how many bytes
// past the end (or before the start) it wrote.
struct OutputGuardError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The checked drivers (verify, tests): the kernel writes into a copy of the output at the same
// address modulo 64 (so it takes the same aligned or streaming paths), between guard regions
// filled with a canary; a changed guard byte throws OutputGuardError, else the result is copied
// to the output.
// Dequant and inner decode (same signature): out is [rows, cols].
void run_dequant(const Variant& v, const PreparedWeight& w, float* out, int threads);
// m activations back to back (the format's activation encoding), y [m][rows]; kernels that do
// not batch are called once per vector.
void run_gemv(const Variant& v, const PreparedWeight& w, const uint8_t* act, int64_t m, float* y, int threads);

// The backend a variant runs on (the CPU's when its target names none).
const Backend& backend_of(const Variant& v);
// Run and fetch on a weight already prepared by backend_of(v).prepare: timed loops prepare once,
// outside the clock. `act` and `m` as run_gemv (ignored by dequant and inner).
void run_prepared(const Variant& v, const BackendWeight& w, const uint8_t* act, int64_t m, float* out, int threads);

}  // namespace qb

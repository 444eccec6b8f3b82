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
// Dequant and inner decode: out is float [rows, cols]; the 16-bit decodes write uint16_t
// [rows, cols] (a reference variant's fp32 decode is rounded here, f32_to_fp16_rne /
// f32_to_bf16_rne).
void run_dequant(const Variant& v, const PreparedWeight& w, void* out, int threads);
// Any decode op into float [rows, cols]: a 16-bit one runs into 16-bit storage holding out's
// fill (rounded) and is widened back by widen16, so its outputs compare as floats.
void run_decode(const Variant& v, const PreparedWeight& w, float* out, int threads);
// A 16-bit decode's output pattern widened to fp32 exactly and injectively (an fp16 NaN keeps its
// payload without the quiet bit being forced): equal floats mean equal 16-bit patterns, and
// messages can print values.
float widen16(Op op, uint16_t h);
// The reference rounding of a 16-bit decode (f32_to_fp16_rne or f32_to_bf16_rne).
uint16_t round16(Op op, float f);
// m activations back to back (the format's activation encoding), y [m][rows]; kernels that do
// not batch are called once per vector.
void run_gemv(const Variant& v, const PreparedWeight& w, const uint8_t* act, int64_t m, float* y, int threads);

// The backend a variant runs on (the CPU's when its target names none).
const Backend& backend_of(const Variant& v);
// Run and fetch on a weight already prepared by backend_of(v).prepare: timed loops prepare once,
// outside the clock. `act` and `m` as run_gemv (ignored by dequant and inner).
void run_prepared(const Variant& v, const BackendWeight& w, const uint8_t* act, int64_t m, void* out, int threads);

}  // namespace qb

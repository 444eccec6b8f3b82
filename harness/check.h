// Comparison of kernel outputs with expectations; the harness owns every tolerance.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/registry.h"

namespace qb {

// Dequant outputs are compared as fp32 bit patterns. NaN: under NanPolicy::exact_bits a NaN
// must carry the expected sign and payload (the fp16 widening and x86/ARM multiply define
// both); under any_nan any NaN matches a NaN.
struct BitsCheck {
  int64_t mismatches = 0;
  int64_t first_bad = -1;  // flat index of the first mismatch
  uint64_t max_ulp = 0;    // over non-NaN pairs; UINT64_MAX where NaN-ness differs
  int64_t nan_count = 0;   // NaNs in the expectation
  bool ok() const { return mismatches == 0; }
};
BitsCheck compare_bits(const float* expected, const float* got, int64_t n, NanPolicy nan);

// Distance in units in the last place between two non-NaN floats; +0 and -0 are 1 apart
// because a sign error in a zero is still a wrong bit.
uint64_t ulp_distance(float a, float b);

// Why an expected output cannot tell a correct kernel from a wrong one, or "" when it can.
// A case whose values are nearly all zero, or constant within most blocks of `chunk` elements,
// would pass a kernel that permutes or drops elements: it is reported as not trusted instead.
std::string untrusted_dequant(const float* expected, int64_t rows, int64_t cols, int64_t chunk);
std::string untrusted_gemv(const float* expected, int64_t rows);

// GEMV bound per output row. For a dot product of n_terms products evaluated in fp32 with at
// most n = format.gemv_rounding_depth(cols) roundings on any term's path, the computed value
// differs from the exact one by at most gamma_n * sum|w_i*x_i| (Higham, Accuracy and Stability,
// 3.1), gamma_n = n*u/(1-n*u), u = 2^-24. The expectation (upstream's scalar order) and the
// kernel each satisfy that, hence |kernel - expected| <= 2*gamma_n*sum|w_i*x_i|. Products that
// fall into the subnormal range lose up to 2^-150 each instead of a relative error, hence the
// absolute term 2*n*2^-149. sum|w_i*x_i| is computed in fp64 from the reference decode of W and
// the exact activation values the kernel multiplies, never from the kernel under test.
// A format with its own GEMV (rotations around the product, say) states its bound in
// Format::gemv_bounds, which this function then returns.
std::vector<double> gemv_bounds(const QWeight& w, const uint8_t* act);

// gamma_n = n*u/(1-n*u) for fp32 (u = 2^-24): the relative bound of n successive roundings.
double gamma32(double n);

struct BoundCheck {
  int64_t failures = 0;
  int64_t first_bad = -1;
  double max_err = 0;    // max |got - expected| over finite pairs
  double max_ratio = 0;  // max |got - expected| / bound
  bool bit_exact = true;
  bool ok() const { return failures == 0; }
};
// Elementwise comparison within bounds (GEMV rows; full decodes that have no unique bits).
// Non-finite results: where the row meets a NaN or Inf scale, sum|w*x| is not finite and
// whether the result is Inf or NaN depends on the evaluation order (a lane whose partial sum is
// 0 turns an Inf scale into 0*Inf = NaN, a whole-block sum does not), so any non-finite value
// matches a non-finite expectation there. With a finite bound, NaN must be matched by a NaN
// (payload free: it depends on which NaN the order meets first) and +-Inf by the same Inf.
BoundCheck compare_within(const float* expected, const float* got, const std::vector<double>& bounds);

}  // namespace qb

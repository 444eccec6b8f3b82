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
// For m vectors back to back (the format's activation encoding), [m][rows].
std::vector<double> gemv_bounds(const QWeight& w, const uint8_t* act, int64_t m = 1);

// gamma_n = n*u/(1-n*u) for fp32 (u = 2^-24): the relative bound of n successive roundings.
double gamma32(double n);
// The bound above from each output's sum|w_i*x_i| (in place): 2*gamma_n*sum + 2*n*2^-149. A
// format stating its own product terms (Format::gemv_bounds) sums them and calls this.
std::vector<double> bounds_of_term_sums(std::vector<double> abs_sums, int64_t n);

// The probabilistic model next to the rigorous bound (Higham & Mary, "A new approach to
// probabilistic rounding error analysis", SISC 2019): rounding errors are independent, mean
// zero, |delta| <= u = 2^-24. A computed value then differs from the exact one by
// e_r = sum over its n_r roundings of delta_i * v_i (v_i the value rounded, propagated to the
// output), a sum of independent bounded terms, sub-Gaussian with variance proxy u^2 sum v_i^2
// (Hoeffding). With a seeded zero-mean random x the products are uncorrelated, so any partial
// sum a kernel forms, in any order, has mean square at most T_r^2, the sum of the squared
// product terms of output r; hence sigma_r = sqrt(n_r) * u * T_r, doubled in variance because
// the expectation may itself be an fp32 evaluation (2 sigma_r^2). The rigorous bound grows with
// sum|terms| and n_r; this one with their 2-norm and sqrt(n_r): at k = 4096 it is about 1000
// times tighter on random data, which is what lets a 0.01% precision bug fail.
// Only valid for activations the harness drew (GemvExpectation::random_x in verify).
std::vector<double> gemv_sigmas(const QWeight& w, const uint8_t* act, int64_t m = 1);  // [m][rows]

// Per output z_r = max(0, |got - expected| - u|expected|) / sigma_r (the u|expected| term: the
// expectation's own final rounding to fp32). Each z_r must stay under kModelLambda = 8: a
// sub-Gaussian z exceeds 8 with probability at most 2 exp(-32) = 2.5e-14. The whole output must
// satisfy rho = sqrt(mean z_r^2) <= rho_limit = sqrt(1 + 2 sqrt(t/R) + 2t/R), t = 20, R outputs
// (the chi-square tail of Laurent & Massart 2000, Lemma 1: probability at most e^-20 = 2e-9 for
// a correct kernel), which a systematic error of a few sigma on every output fails even where
// no single output reaches 8. Outputs whose expectation or result is not finite are the
// rigorous check's (compare_within) and are not counted here.
inline constexpr double kModelLambda = 8.0;
struct ModelCheck {
  int64_t failures = 0;  // outputs with z_r > kModelLambda
  int64_t worst = -1;    // output with the largest z_r
  double max_z = 0;
  double rho = 0, rho_limit = 0;
  int64_t counted = 0;
  bool ok() const { return failures == 0 && rho <= rho_limit; }
};
ModelCheck compare_model(const float* expected, const float* got, const std::vector<double>& sigmas);

struct BoundCheck {
  int64_t failures = 0;
  int64_t first_bad = -1;
  int64_t worst = -1;    // the failing output furthest outside its bound (a non-finite mismatch first)
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

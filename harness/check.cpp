#include "harness/check.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "harness/prepared.h"

namespace qb {
namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Maps floats to integers that are ordered like the floats (-0 just below +0).
int64_t ordered(float f) {
  const uint32_t b = bits_of(f);
  return (b & 0x80000000u) ? -static_cast<int64_t>(b & 0x7FFFFFFFu) - 1 : static_cast<int64_t>(b);
}

}  // namespace

uint64_t ulp_distance(float a, float b) {
  const int64_t d = ordered(a) - ordered(b);
  return static_cast<uint64_t>(d < 0 ? -d : d);
}

BitsCheck compare_bits(const float* expected, const float* got, int64_t n, NanPolicy nan) {
  BitsCheck c;
  for (int64_t i = 0; i < n; ++i) {
    const bool e_nan = std::isnan(expected[i]), g_nan = std::isnan(got[i]);
    c.nan_count += e_nan;
    bool same = bits_of(expected[i]) == bits_of(got[i]);
    if (!same && e_nan && g_nan && nan == NanPolicy::any_nan) same = true;
    if (e_nan != g_nan)
      c.max_ulp = std::numeric_limits<uint64_t>::max();
    else if (!e_nan && ulp_distance(expected[i], got[i]) > c.max_ulp)
      c.max_ulp = ulp_distance(expected[i], got[i]);
    if (!same) {
      if (c.first_bad < 0) c.first_bad = i;
      ++c.mismatches;
    }
  }
  return c;
}

std::string untrusted_dequant(const float* expected, int64_t rows, int64_t cols, int64_t chunk) {
  const int64_t n = rows * cols;
  int64_t zeros = 0, varied = 0, chunks = 0;
  for (int64_t i = 0; i < n; ++i) zeros += expected[i] == 0.0f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < cols; c0 += chunk, ++chunks) {
      const int64_t c1 = c0 + chunk < cols ? c0 + chunk : cols;
      for (int64_t c = c0 + 1; c < c1; ++c)
        if (bits_of(expected[r * cols + c]) != bits_of(expected[r * cols + c0])) {
          ++varied;
          break;
        }
    }
  // A block whose values are all equal cannot reveal a permuted or misplaced element; when
  // over 90% of blocks are like that (or of values are zero), a wrong kernel would still match.
  if (zeros * 10 > n * 9) return std::to_string(zeros) + " of " + std::to_string(n) + " expected values are zero";
  if (varied * 10 < chunks)
    return "expected values are constant within " + std::to_string(chunks - varied) + " of " + std::to_string(chunks) +
           " blocks";
  return "";
}

std::string untrusted_gemv(const float* expected, int64_t rows) {
  int64_t zeros = 0;
  for (int64_t r = 0; r < rows; ++r) zeros += expected[r] == 0.0f;
  if (zeros * 2 > rows) return std::to_string(zeros) + " of " + std::to_string(rows) + " expected outputs are zero";
  return "";
}

double gamma32(double n) {
  const double u = std::ldexp(1.0, -24);
  return n * u / (1.0 - n * u);
}

namespace {

// The reference decode of W and the exact activation values of each vector: what the generic
// bound and model are computed from, never the kernel under test.
struct DecodedGemv {
  std::vector<float> w, x;  // [rows][cols], [m][cols]
};
DecodedGemv decode_gemv(const QWeight& w, const uint8_t* act, int64_t m) {
  const Format& f = *w.format;
  DecodedGemv d{std::vector<float>(static_cast<std::size_t>(w.rows * w.cols)), std::vector<float>(static_cast<std::size_t>(m * w.cols))};
  f.dequant_ref(PreparedWeight(w).get(), 0, call_extent(f, w.rows), d.w.data());
  const std::size_t stride = f.activation->bytes(w.cols);
  for (int64_t i = 0; i < m; ++i) f.activation->dequant(act + i * stride, w.cols, d.x.data() + i * w.cols);
  return d;
}

}  // namespace

std::vector<double> bounds_of_term_sums(std::vector<double> abs_sums, int64_t n) {
  const double g = 2.0 * gamma32(static_cast<double>(n)), underflow = 2.0 * static_cast<double>(n) * std::ldexp(1.0, -149);
  for (double& v : abs_sums) v = g * v + underflow;
  return abs_sums;
}

std::vector<double> gemv_bounds(const QWeight& w, const uint8_t* act, int64_t m) {
  const Format& f = *w.format;
  if (f.gemv_bounds) return f.gemv_bounds(w, act, m);
  const DecodedGemv d = decode_gemv(w, act, m);
  std::vector<double> sums(static_cast<std::size_t>(m * w.rows));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < w.rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < w.cols; ++c) s += std::fabs(static_cast<double>(d.w[r * w.cols + c]) * d.x[i * w.cols + c]);
      sums[i * w.rows + r] = s;
    }
  return bounds_of_term_sums(std::move(sums), f.gemv_rounding_depth(w.cols));
}

std::vector<double> gemv_sigmas(const QWeight& w, const uint8_t* act, int64_t m) {
  const Format& f = *w.format;
  const double n = static_cast<double>(f.gemv_rounding_depth(w.cols));
  const double scale = std::sqrt(2.0 * n) * std::ldexp(1.0, -24);
  std::vector<double> t;
  if (f.gemv_rms_terms) {
    t = f.gemv_rms_terms(w, act, m);
  } else {
    const DecodedGemv d = decode_gemv(w, act, m);
    t.resize(static_cast<std::size_t>(m * w.rows));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t r = 0; r < w.rows; ++r) {
        double s = 0;
        for (int64_t c = 0; c < w.cols; ++c) {
          const double p = static_cast<double>(d.w[r * w.cols + c]) * d.x[i * w.cols + c];
          s += p * p;
        }
        t[i * w.rows + r] = std::sqrt(s);
      }
  }
  for (double& v : t) v *= scale;
  return t;
}

ModelCheck compare_model(const float* expected, const float* got, const std::vector<double>& sigmas) {
  ModelCheck c;
  double sum_z2 = 0;
  for (std::size_t r = 0; r < sigmas.size(); ++r) {
    if (!std::isfinite(expected[r]) || !std::isfinite(got[r]) || !std::isfinite(sigmas[r])) continue;
    const double excess =
        std::fmax(0.0, std::fabs(static_cast<double>(got[r]) - expected[r]) - std::ldexp(std::fabs(double(expected[r])), -24));
    const double z = excess == 0 ? 0 : sigmas[r] > 0 ? excess / sigmas[r] : std::numeric_limits<double>::infinity();
    ++c.counted;
    sum_z2 += z * z;
    if (c.worst < 0 || z > c.max_z) {
      c.max_z = z;
      c.worst = static_cast<int64_t>(r);
    }
    c.failures += z > kModelLambda;
  }
  const double t = 20, n = static_cast<double>(c.counted > 0 ? c.counted : 1);
  c.rho = c.counted > 0 ? std::sqrt(sum_z2 / n) : 0;
  c.rho_limit = std::sqrt(1 + 2 * std::sqrt(t / n) + 2 * t / n);
  return c;
}

BoundCheck compare_within(const float* expected, const float* got, const std::vector<double>& bounds) {
  BoundCheck c;
  double worst_excess = 0;
  for (std::size_t r = 0; r < bounds.size(); ++r) {
    const float e = expected[r], g = got[r];
    if (bits_of(e) != bits_of(g)) c.bit_exact = false;
    bool ok;
    if (!std::isfinite(bounds[r])) {
      ok = std::isfinite(e) ? bits_of(g) == bits_of(e) : !std::isfinite(g);
    } else if (std::isnan(e)) {
      ok = std::isnan(g);
    } else if (std::isinf(e)) {
      ok = e == g;
    } else if (!std::isfinite(g)) {
      ok = false;
    } else {
      const double err = std::fabs(static_cast<double>(g) - e);
      c.max_err = std::fmax(c.max_err, err);
      if (bounds[r] > 0) c.max_ratio = std::fmax(c.max_ratio, err / bounds[r]);
      ok = err <= bounds[r];
    }
    if (!ok) {
      if (c.first_bad < 0) c.first_bad = static_cast<int64_t>(r);
      const double excess = std::isfinite(g) && std::isfinite(e) && bounds[r] > 0
                                ? std::fabs(static_cast<double>(g) - e) / bounds[r]
                                : std::numeric_limits<double>::infinity();
      if (c.worst < 0 || excess > worst_excess) {
        worst_excess = excess;
        c.worst = static_cast<int64_t>(r);
      }
      ++c.failures;
    }
  }
  return c;
}

}  // namespace qb

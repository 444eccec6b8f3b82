// EXL3 scalar reference: the inner decode Ŵ (bit-exact), the full weight
// W = diag(suh) H_k Ŵ H_n diag(svh) correctly rounded to fp32, and the GEMV
// y = ((x∘suh) H_k) Ŵ H_n ∘ svh in double (specs/exl3.md sections 0, 4, 6). Registry rows are
// output features: row r of every [n][k] result is column r of upstream's [k][n] W.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "reference/common/half.h"
#include "reference/exl3/exl3.h"
#include "reference/exl3/hadamard.h"

namespace qb::exl3 {
namespace {

std::vector<double> scales(StoredF16 fp16, int64_t count) {
  std::vector<double> v(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[static_cast<std::size_t>(i)] = fp16_to_f32(fp16[i]);
  return v;
}

// RN32(hi + lo) where hi = RN64(hi + lo): the cast alone is right unless hi sits exactly on an
// fp32 rounding boundary, where the sign of lo decides (hi is never a near miss: the boundary and
// hi lie on the double grid, at least one double ulp > |lo| apart).
float round_f32(double hi, double lo) {
  const float f = static_cast<float>(hi);
  const double off = hi - static_cast<double>(f);  // exact
  if (off == 0.0 || lo == 0.0 || !std::isfinite(f)) return f;
  const float toward = std::nextafter(f, off > 0 ? INFINITY : -INFINITY);  // the other neighbour of hi
  if (std::fabs(off) * 2 != std::fabs(static_cast<double>(toward) - f)) return f;
  return (off > 0) == (lo > 0) ? toward : f;
}

}  // namespace

void inner_ref(const qb_weight* cw, int64_t r0, int64_t r1, float* out) {
  const Args w = args_of(cw);
  const std::vector<uint16_t> wh = decode_inner(w, r0, r1);
  const int64_t width = r1 - r0;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < w.k; ++c) out[r * w.k + c] = fp16_to_f32(wh[static_cast<std::size_t>(c * width + r - r0)]);
}

void full_weight_f64(const Args& w, int64_t r0, int64_t r1, double* hi, double* lo) {
  const int64_t k = w.k;
  const std::vector<double> suh = scales(w.suh, w.k), svh = scales(w.svh, w.n);
  for (int64_t n0 = r0; n0 < r1; n0 += 128) {
    const std::vector<uint16_t> wh = decode_inner(w, n0, n0 + 128);
    std::vector<double> b(static_cast<std::size_t>(k * 128));  // [k][128]
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = fp16_to_f32(wh[i]);
    // Ŵ values are multiples of 2^-24 below 4: the +-1 sums of both sides stay below 2^16 and
    // need at most 40 bits, so both transforms are exact in double, as is the division by 128
    // and the product with suh (11 bits); only the svh product rounds, and fma keeps its residue.
    for (int64_t kb = 0; kb < k; kb += 128)
      for (int64_t d = 0; d < 128; ++d) fwht128(&b[static_cast<std::size_t>(kb * 128 + d)], 128);
    for (int64_t c = 0; c < k; ++c) fwht128(&b[static_cast<std::size_t>(c * 128)]);
    for (int64_t c = 0; c < k; ++c)
      for (int64_t d = 0; d < 128; ++d) {
        const double p = b[static_cast<std::size_t>(c * 128 + d)] / 128.0 * suh[static_cast<std::size_t>(c)];
        const double s = svh[static_cast<std::size_t>(n0 + d)];
        const std::size_t at = static_cast<std::size_t>((n0 + d - r0) * k + c);
        hi[at] = p * s;
        lo[at] = std::isfinite(hi[at]) ? std::fma(p, s, -hi[at]) : 0.0;
      }
  }
}

void dequant_ref(const qb_weight* cw, int64_t r0, int64_t r1, float* out) {
  const Args w = args_of(cw);
  const std::size_t count = static_cast<std::size_t>((r1 - r0) * w.k);
  std::vector<double> hi(count), lo(count);
  full_weight_f64(w, r0, r1, hi.data(), lo.data());
  for (std::size_t i = 0; i < count; ++i) out[static_cast<std::size_t>(r0 * w.k) + i] = round_f32(hi[i], lo[i]);
}

void gemv_ref(const qb_weight* cw, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  const Args w = args_of(cw);
  const int64_t k = w.k, n = w.n;
  const std::vector<double> suh = scales(w.suh, k), svh = scales(w.svh, n);
  // (x∘suh) H_k unnormalised, per vector; the two 1/sqrt(128) become one exact 1/128 at the end.
  std::vector<double> xh(static_cast<std::size_t>(m * k));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      float x;
      std::memcpy(&x, act + static_cast<std::size_t>((i * k + c) * 4), 4);
      xh[static_cast<std::size_t>(i * k + c)] = static_cast<double>(x) * suh[static_cast<std::size_t>(c)];
    }
    for (int64_t kb = 0; kb < k; kb += 128) fwht128(&xh[static_cast<std::size_t>(i * k + kb)]);
  }
  std::vector<double> u(128);
  for (int64_t n0 = r0; n0 < r1; n0 += 128) {
    const std::vector<uint16_t> wh = decode_inner(w, n0, n0 + 128);
    for (int64_t i = 0; i < m; ++i) {
      std::fill(u.begin(), u.end(), 0.0);
      for (int64_t c = 0; c < k; ++c) {
        const double xc = xh[static_cast<std::size_t>(i * k + c)];
        for (int64_t d = 0; d < 128; ++d) u[static_cast<std::size_t>(d)] += xc * fp16_to_f32(wh[static_cast<std::size_t>(c * 128 + d)]);
      }
      fwht128(u.data());
      for (int64_t d = 0; d < 128; ++d)
        y[i * n + n0 + d] = static_cast<float>(u[static_cast<std::size_t>(d)] / 128.0 * svh[static_cast<std::size_t>(n0 + d)]);
    }
  }
}

}  // namespace qb::exl3

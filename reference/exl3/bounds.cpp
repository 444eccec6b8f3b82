// Error bounds for EXL3 results that have no unique bit pattern (specs/exl3.md section 5): the
// full weight and the GEMV pass through two Hadamard transforms whose rounding depends on the
// order each implementation picks. Each bound follows Higham (Accuracy and Stability, 3.1): a
// value computed as a sum of products where every term meets at most n roundings of relative
// size u differs from the exact value by at most gamma_n * (sum of |terms|).
#include <cmath>
#include <cstring>

#include "harness/check.h"
#include "harness/prepared.h"
#include "reference/common/half.h"
#include "reference/exl3/exl3.h"
#include "reference/exl3/hadamard.h"

namespace qb::exl3 {
namespace {

const double kU32 = std::ldexp(1.0, -24);
const double kInvSqrt128 = 1.0 / std::sqrt(128.0);

std::vector<double> abs_scales(const QWeight& w, const char* name) {
  const TensorView& t = w.tensor(name);
  std::vector<double> v(t.nbytes / 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, t.data + 2 * i, 2);
    v[i] = std::fabs(fp16_to_f32(h));
  }
  return v;
}

// |Ŵ| of one 128-column block, [k][128].
std::vector<double> abs_inner(const QWeight& w, int64_t n0) {
  const std::vector<uint16_t> wh = decode_inner(args_of(w), n0, n0 + 128);
  std::vector<double> a(wh.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::fabs(fp16_to_f32(wh[i]));
  return a;
}

// m vectors back to back: |x∘suh| summed over each 128-block of the input, [m][k/128], and the
// mean square of x∘suh over each block.
struct BlockSums {
  std::vector<double> abs, sq;
};
BlockSums input_block_sums(const QWeight& w, const uint8_t* act, int64_t m, const std::vector<double>& suh) {
  const int64_t k = w.cols, kb = k / 128;
  BlockSums s{std::vector<double>(static_cast<std::size_t>(m * kb)), std::vector<double>(static_cast<std::size_t>(m * kb))};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < k; ++c) {
      float x;
      std::memcpy(&x, act + static_cast<std::size_t>((i * k + c) * 4), 4);
      const double v = static_cast<double>(x) * suh[static_cast<std::size_t>(c)];
      s.abs[static_cast<std::size_t>(i * kb + c / 128)] += std::fabs(v);
      s.sq[static_cast<std::size_t>(i * kb + c / 128)] += v * v / 128.0;
    }
  return s;
}

}  // namespace

// A correct fp32 implementation reaches W_ab as a sum of the 128*128 terms
// suh_a H_ac Ŵ_cd H_db svh_b of its two 128-blocks. Roundings on one term's path:
//   left transform: 7 butterfly levels (FWHT) + the 1/sqrt(128) scaling + that constant's own
//     representation error in fp32 = 9; the right transform the same = 9;
//   the suh and svh multiplies = 2 (fp16 scales and Ŵ widen to fp32 exactly);
//   2 spare for implementations that scale in two steps (e.g. a folded 1/128 applied per pass
//     or suh*svh premultiplied and rounded).
// n = 22. The sum of |terms| is S_ab = |suh_a||svh_b|/128 * sum over the block of |Ŵ|.
// Expectations are themselves fp32 implementations (upstream's w_full_f32), so the kernel and
// the expectation may each be gamma_n*S_ab off: 2*gamma_n*S_ab. This reference is the correctly
// rounded W (half an fp32 ulp, at most 2^-24|W_ab|), hence the second term when it is compared
// with such an expectation. An explicit 128-term fp32 matmul in sequential order (upstream's
// torch path) has a deeper worst case than 22 roundings; its actual error (manifest: ~3e-7
// relative RMS) is far inside this bound, and verify reports the ratio it reaches.
// No intermediate can underflow: nonzero Ŵ values are multiples of 2^-24, rounded fp32 sums of
// them after the 1/sqrt(128) scaling stay above 2^-54, and nonzero fp16 scales are >= 2^-24, so
// every nonzero intermediate exceeds 2^-102, far above fp32's normal minimum 2^-126.
std::vector<double> dequant_error_bounds(const QWeight& w) {
  const int64_t k = w.cols, n = w.rows;
  const double gamma2 = 2.0 * gamma32(22);
  const std::vector<double> suh = abs_scales(w, "suh"), svh = abs_scales(w, "svh");
  std::vector<double> hi(static_cast<std::size_t>(n * k)), lo(hi.size());
  full_weight_f64(args_of(w), 0, n, hi.data(), lo.data());
  std::vector<double> bounds(hi.size());
  for (int64_t n0 = 0; n0 < n; n0 += 128) {
    const std::vector<double> a = abs_inner(w, n0);
    for (int64_t k0 = 0; k0 < k; k0 += 128) {
      double block = 0;
      for (int64_t c = k0; c < k0 + 128; ++c)
        for (int64_t d = 0; d < 128; ++d) block += a[static_cast<std::size_t>(c * 128 + d)];
      for (int64_t r = n0; r < n0 + 128; ++r)
        for (int64_t c = k0; c < k0 + 128; ++c) {
          const std::size_t at = static_cast<std::size_t>(r * k + c);
          const double s = suh[static_cast<std::size_t>(c)] * svh[static_cast<std::size_t>(r)] / 128.0 * block;
          // (1 + 2^-52): hi is W rounded to double.
          bounds[at] = gamma2 * s + kU32 * std::fabs(hi[at]) * (1 + std::ldexp(1.0, -52));
        }
    }
  }
  return bounds;
}

// Per vector: y_j = svh_j * sum_d H_jd sum_c Ŵ_cd sum_a H_ca (x_a suh_a). Roundings on one
// term's path in an fp32 kernel:
//   x_a * suh_a: 1; input transform: 7 levels + 1/sqrt(128) scaling + its representation = 9;
//   the product with Ŵ_cd: 1; the k-term dot product: at most k - 1 additions in any order;
//   output transform: 9 as on the input side; svh: 1.
// n = k + 20, and T_j = |svh_j| (|H| (|Ŵ|^T (|H| |x∘suh|)))_j, |H| entries 1/sqrt(128).
// The expectation (upstream's y, float64 from exact W, stored fp32) is off by its own output
// rounding only, at most 2^-24|y_j|; 2*gamma_n also covers a kernel compared with this fp64
// reference instead. Underflow: each rounding in fp32's subnormal range may lose 2^-150 instead
// of a relative amount; at most 128*k values exist at each of the n stages feeding y_j, and an
// error anywhere is amplified at most by G_j = max(1, |svh_j| * 128 * max(1, max_d sum_c |Ŵ_cd|))
// (the infinity norms of the H blocks, sqrt(128) each, of Ŵ^T and of svh). A kernel may carry Ŵ
// scaled by 2^-13 (exact) from the product to the output scale; its subnormal range then starts
// 2^13 higher in y's units, so the loss per rounding is taken as 2^-137.
int64_t gemv_rounding_depth(int64_t k) { return k + 20; }

std::vector<double> gemv_error_bounds(const QWeight& w, const uint8_t* act, int64_t m) {
  const int64_t k = w.cols, n = w.rows, kb = k / 128;
  const double depth = static_cast<double>(gemv_rounding_depth(k));
  const double gamma2 = 2.0 * gamma32(depth);
  const std::vector<double> suh = abs_scales(w, "suh"), svh = abs_scales(w, "svh");
  std::vector<float> y(static_cast<std::size_t>(m * n));
  gemv_ref(PreparedWeight(w).get(), act, m, 0, n, y.data());
  // |H| |x∘suh| is constant over each 128-block of the input.
  std::vector<double> xh = input_block_sums(w, act, m, suh).abs;
  for (double& v : xh) v *= kInvSqrt128;
  std::vector<double> bounds(static_cast<std::size_t>(m * n));
  std::vector<double> inner(static_cast<std::size_t>(m));
  for (int64_t n0 = 0; n0 < n; n0 += 128) {
    const std::vector<double> a = abs_inner(w, n0);
    // Per vector: sum_d (|Ŵ|^T |H||x∘suh|)_d over the block; and the max column sum.
    std::fill(inner.begin(), inner.end(), 0.0);
    double colmax = 0;
    for (int64_t d = 0; d < 128; ++d) {
      double col = 0;
      for (int64_t c = 0; c < k; ++c) {
        const double v = a[static_cast<std::size_t>(c * 128 + d)];
        col += v;
        for (int64_t i = 0; i < m; ++i) inner[static_cast<std::size_t>(i)] += v * xh[static_cast<std::size_t>(i * kb + c / 128)];
      }
      colmax = std::fmax(colmax, col);
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = n0; j < n0 + 128; ++j) {
        const double sv = svh[static_cast<std::size_t>(j)];
        const double t = sv * inner[static_cast<std::size_t>(i)] * kInvSqrt128;
        const double gain = std::fmax(1.0, sv * 128.0 * std::fmax(1.0, colmax));
        const double underflow = 2.0 * depth * 128.0 * static_cast<double>(k) * std::ldexp(1.0, -137) * gain;
        const auto at = static_cast<std::size_t>(i * n + j);
        bounds[at] = gamma2 * t + kU32 * std::fabs(y[at]) + underflow;
      }
  }
  return bounds;
}

// T_j of the probabilistic model (harness/check.h): the terms of y_j are
// svh_j H_jd Ŵ_cd H_ca x_a suh_a over d, c and a; every |H| entry squared is 1/128, so
//   T_j^2 = svh_j^2 / 128 * sum_d sum_c Ŵ_cd^2 * X_c,   X_c = 1/128 * sum_{a in c's 128-block} (x_a suh_a)^2.
// Each rounding of the kernel's chain (input transform, k-term product, output transform) acts on
// a value whose mean square over the random x is at most this, the transforms being orthogonal.
std::vector<double> gemv_rms_terms(const QWeight& w, const uint8_t* act, int64_t m) {
  const int64_t k = w.cols, n = w.rows, kb = k / 128;
  const std::vector<double> suh = abs_scales(w, "suh"), svh = abs_scales(w, "svh");
  const std::vector<double> x2 = input_block_sums(w, act, m, suh).sq;
  std::vector<double> t(static_cast<std::size_t>(m * n)), sum(static_cast<std::size_t>(m));
  for (int64_t n0 = 0; n0 < n; n0 += 128) {
    const std::vector<double> a = abs_inner(w, n0);
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t c = 0; c < k; ++c) {
      double col2 = 0;  // sum_d Ŵ_cd^2
      for (int64_t d = 0; d < 128; ++d) col2 += a[static_cast<std::size_t>(c * 128 + d)] * a[static_cast<std::size_t>(c * 128 + d)];
      for (int64_t i = 0; i < m; ++i) sum[static_cast<std::size_t>(i)] += col2 * x2[static_cast<std::size_t>(i * kb + c / 128)];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = n0; j < n0 + 128; ++j)
        t[static_cast<std::size_t>(i * n + j)] = svh[static_cast<std::size_t>(j)] * std::sqrt(sum[static_cast<std::size_t>(i)] / 128.0);
  }
  return t;
}

// Upstream's fp16 W: A = fl16(H Ŵ) (fp32 matmul), B = fl16(suh∘A), C = fl16(B H) (fp32 matmul),
// W16 = fl16(C∘svh). Each step's deviation e is propagated through the remaining linear steps
// with absolute values, using |computed| <= |exact| + e so that no second-order term is lost:
//   fl16(x) - x: at most u16|x| (u16 = 2^-11) for normal results, 2^-25 in the subnormal range;
//   an fp32 128-term product with H: gamma32(129) (|H||input|): the fp32 constant 1/sqrt(128)
//     (1), the product (1) and up to 127 additions in any order.
//   eA = gA + u16(|A| + gA) + 2^-25,              gA = gamma32(129) |H||Ŵ|
//   eB = |suh| eA + u16 |suh| (|A| + eA) + 2^-25
//   eC = eB|H| + gC + u16(|C| + eB|H| + gC) + 2^-25,  gC = gamma32(129) (|B| + eB)|H|
//   eW = |svh| eC + u16 |svh| (|C| + eC) + 2^-25
// A, B, C are the exact intermediates (computed here in double; the final factor covers the
// few double roundings of this computation).
std::vector<double> fp16_weight_bounds(const QWeight& w) {
  const int64_t k = w.cols, n = w.rows;
  const double u16 = std::ldexp(1.0, -11), sub16 = std::ldexp(1.0, -25), g = gamma32(129);
  const std::vector<double> suh = abs_scales(w, "suh"), svh = abs_scales(w, "svh");
  std::vector<double> bounds(static_cast<std::size_t>(n * k));
  for (int64_t n0 = 0; n0 < n; n0 += 128) {
    const std::vector<uint16_t> wh = decode_inner(args_of(w), n0, n0 + 128);
    std::vector<double> a(wh.size()), abs_col(wh.size());  // [k][128]: A, then |H||Ŵ| per element
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = fp16_to_f32(wh[i]);
    for (int64_t k0 = 0; k0 < k; k0 += 128)
      for (int64_t d = 0; d < 128; ++d) {
        double sum = 0;
        for (int64_t c = k0; c < k0 + 128; ++c) sum += std::fabs(a[static_cast<std::size_t>(c * 128 + d)]);
        for (int64_t c = k0; c < k0 + 128; ++c) abs_col[static_cast<std::size_t>(c * 128 + d)] = sum * kInvSqrt128;
        fwht128(&a[static_cast<std::size_t>(k0 * 128 + d)], 128);
      }
    std::vector<double> b(a.size()), eb(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double av = std::fabs(a[i]) * kInvSqrt128, su = suh[i / 128];
      const double ga = g * abs_col[i];
      const double ea = ga + u16 * (av + ga) + sub16;
      b[i] = a[i] * kInvSqrt128 * suh[i / 128];
      eb[i] = su * ea + u16 * su * (av + ea) + sub16;
    }
    for (int64_t c = 0; c < k; ++c) {
      double* row = &b[static_cast<std::size_t>(c * 128)];
      double abs_b = 0, e_h = 0;  // (|B||H|) and (eB|H|): the same for every column of the block
      for (int64_t d = 0; d < 128; ++d) {
        abs_b += std::fabs(row[d]);
        e_h += eb[static_cast<std::size_t>(c * 128 + d)];
      }
      abs_b *= kInvSqrt128;
      e_h *= kInvSqrt128;
      const double gc = g * (abs_b + e_h);
      fwht128(row);
      for (int64_t j = 0; j < 128; ++j) {
        const double cv = std::fabs(row[j]) * kInvSqrt128;
        const double ec = e_h + gc + u16 * (cv + e_h + gc) + sub16;
        const double sv = svh[static_cast<std::size_t>(n0 + j)];
        const double ew = sv * ec + u16 * sv * (cv + ec) + sub16;
        bounds[static_cast<std::size_t>((n0 + j) * k + c)] = ew * (1 + std::ldexp(1.0, -40));
      }
    }
  }
  return bounds;
}

}  // namespace qb::exl3

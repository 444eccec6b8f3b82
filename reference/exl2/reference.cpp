// EXL2 scalar reference: the reconstructed weight W bit-exact with upstream's reconstruct_kernel
// (specs/exl2.md section 7: three fp16 roundings, subnormals kept), and the GEMV as upstream's
// GEMM kernel defines it (section 8): each product uses the unrounded (q - z) * s, which that
// kernel forms from the integer levels before scaling, summed in double here. Registry rows are
// output features: row r of every [n][k] result is column r of upstream's [k][n] W.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "reference/common/half.h"
#include "harness/check.h"
#include "reference/exl2/exl2.h"

namespace qb::exl2 {
namespace {

float read_f32(const uint8_t* act, int64_t i) {
  float x;
  std::memcpy(&x, act + i * 4, 4);
  return x;
}

// For each stored row, the input feature it holds: q_perm = argsort(q_invperm) (spec 6).
std::vector<int64_t> perm_of(const Args& w) {
  std::vector<int64_t> perm(static_cast<std::size_t>(w.k));
  for (int64_t i = 0; i < w.k; ++i) perm[static_cast<std::size_t>(w.invperm(i))] = i;
  return perm;
}

}  // namespace

uint16_t group_max_fp16(uint16_t q_scale_max) {
  const float qsm = fp16_to_f32(q_scale_max);
  return f32_to_fp16_rne(qsm * 0x1p-8f);  // rounding 1; the product is exact in fp32
}

uint16_t scale_fp16(uint16_t smax_fp16, uint32_t code) {
  const float c1 = static_cast<float>((code + 1) * (code + 1));
  return f32_to_fp16_rne(c1 * fp16_to_f32(smax_fp16));  // rounding 2; exact in fp32
}

uint32_t scale_code(const Args& w, int64_t gi, int64_t col) {
  const uint32_t word = Args::load<uint32_t>(w.q_scale, gi * (w.n / 8) + col / 8);
  return (word >> (4 * (col % 8))) & 15u;
}

uint32_t level(const Args& w, const Group& gr, int64_t r, int64_t col) {
  const int64_t p = r * gr.bits, wi = p >> 5, o = p & 31;
  uint64_t v = w.word(gr.q0 + wi, col) >> o;
  if (o + gr.bits > 32) v |= static_cast<uint64_t>(w.word(gr.q0 + wi + 1, col)) << (32 - o);
  return static_cast<uint32_t>(v & ((1u << gr.bits) - 1u));
}

namespace {

// Visits every product term of output columns [n0, n1) for stored row k: f(k, col, v) with
// v = (q - z) * s exact in double.
template <typename F>
void for_each_weight(const Args& w, int64_t n0, int64_t n1, F&& f) {
  const std::vector<Group> groups = w.groups();
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& gr = groups[gi];
    const uint16_t smax = group_max_fp16(w, static_cast<int64_t>(gi));
    const int32_t z = 1 << (gr.bits - 1);
    for (int64_t col = n0; col < n1; ++col) {
      const double s = fp16_to_f32(scale_fp16(smax, scale_code(w, static_cast<int64_t>(gi), col)));
      for (int64_t r = 0; r < gr.rows; ++r)
        f(gr.row0 + r, col, static_cast<double>(static_cast<int32_t>(level(w, gr, r, col)) - z) * s);
    }
  }
}

double bias_of(const Args& w, int64_t col) {
  return w.bias ? fp16_to_f32(Args::load<uint16_t>(w.bias, col)) : 0.0;
}

}  // namespace

std::vector<uint16_t> decode_stored(const Args& w, int64_t n0, int64_t n1) {
  const int64_t width = n1 - n0;
  std::vector<uint16_t> ws(static_cast<std::size_t>(w.k * width));
  // v = (q - z) * s has at most 8 + 11 significant bits: the float of it is exact, and one RNE
  // to fp16 is rounding 3 (NaN payloads and 0 * Inf as the float product gives them).
  for_each_weight(w, n0, n1, [&](int64_t k, int64_t col, double v) {
    ws[static_cast<std::size_t>(k * width + col - n0)] = f32_to_fp16_rne(static_cast<float>(v));
  });
  return ws;
}

void dequant_ref(const qb_weight* cw, int64_t r0, int64_t r1, float* out) {
  const Args w = args_of(cw);
  const std::vector<uint16_t> ws = decode_stored(w, r0, r1);
  const int64_t width = r1 - r0;
  // W[i][n] = Ws[q_invperm[i]][n] (spec 6); out is W^T.
  for (int64_t i = 0; i < w.k; ++i) {
    const int64_t k = w.invperm(i);
    for (int64_t n = r0; n < r1; ++n) out[n * w.k + i] = fp16_to_f32(ws[static_cast<std::size_t>(k * width + n - r0)]);
  }
}


namespace {

// Per vector and output column in [r0, r1), [m][r1 - r0]: the sum of f(p) over the column's
// product terms p = v * x[q_perm[k]] and its bias as one more term, in double.
template <typename F>
std::vector<double> term_sums(const Args& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, F&& f) {
  const std::vector<int64_t> perm = perm_of(w);
  const int64_t width = r1 - r0;
  std::vector<double> sums(static_cast<std::size_t>(m * width));
  for (int64_t i = 0; i < m; ++i) {
    double* s = &sums[static_cast<std::size_t>(i * width)];
    for_each_weight(w, r0, r1, [&](int64_t k, int64_t col, double v) {
      s[col - r0] += f(v * read_f32(act, i * w.k + perm[static_cast<std::size_t>(k)]));
    });
    for (int64_t col = r0; col < r1; ++col) s[col - r0] += f(bias_of(w, col));
  }
  return sums;
}

}  // namespace

void gemv_ref(const qb_weight* cw, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  const Args w = args_of(cw);
  const std::vector<double> sums = term_sums(w, act, m, r0, r1, [](double p) { return p; });
  for (int64_t i = 0; i < m; ++i)
    for (int64_t col = r0; col < r1; ++col) y[i * w.n + col] = static_cast<float>(sums[static_cast<std::size_t>(i * (r1 - r0) + col - r0)]);
}

// A kernel forms each term as (q - z) * x (one rounding), sums a group's terms (at most its rows
// roundings), scales the sum by s (one), adds it to the column's total (at most G) and adds the
// bias (one): at most k + 3 roundings on any term's path, in any order a kernel picks.
int64_t gemv_rounding_depth(int64_t k) { return k + 3; }

// 2 * gamma_n * (sum |v x| + |bias|) + 2 n 2^-149 with v the unrounded (q - z) * s each term
// actually carries (harness/check.h states why; the generic bound would take |W|, which
// rounding 3 can make smaller than |v|).
std::vector<double> gemv_error_bounds(const QWeight& qw, const uint8_t* act, int64_t m) {
  const Args w = args_of(qw);
  return bounds_of_term_sums(term_sums(w, act, m, 0, w.n, [](double p) { return std::fabs(p); }), gemv_rounding_depth(w.k));
}

std::vector<double> gemv_rms_terms(const QWeight& qw, const uint8_t* act, int64_t m) {
  std::vector<double> t = term_sums(args_of(qw), act, m, 0, qw.rows, [](double p) { return p * p; });
  for (double& v : t) v = std::sqrt(v);
  return t;
}

std::vector<std::vector<uint8_t>> random_stored(const Format& f, int64_t rows, int64_t cols,
                                                const nlohmann::json& params, uint64_t seed) {
  const Params p = parse_params(params, cols);
  std::mt19937_64 rng(seed);
  std::vector<std::vector<uint8_t>> out;
  for (const StoredTensorSpec& spec : f.layout(rows, cols, params)) {
    int64_t count = 1;
    for (int64_t d : spec.shape) count *= d;
    std::vector<uint8_t> bytes(static_cast<std::size_t>(count) * dtype_size(spec.dtype));
    if (spec.name == "q_weight" || spec.name == "q_scale") {
      // Any bits are valid levels and scale codes.
      for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    } else if (spec.name == "q_scale_max") {
      // Upstream's range (spec 5: 1e-4 .. 1e-1), so that q_scale_max/256 is often subnormal.
      std::uniform_real_distribution<float> mag(-9.0f, -2.3f);
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t h = f32_to_fp16(std::exp(mag(rng)));
        std::memcpy(&bytes[static_cast<std::size_t>(2 * i)], &h, 2);
      }
    } else if (spec.name == "q_groups") {
      for (std::size_t i = 0; i < p.groups.size(); ++i) {
        const int16_t v[2] = {static_cast<int16_t>(p.groups[i].bits), static_cast<int16_t>(p.groups[i].q0)};
        std::memcpy(&bytes[4 * i], v, 4);
      }
    } else if (spec.name == "q_invperm") {
      std::vector<int32_t> perm(static_cast<std::size_t>(cols));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      std::memcpy(bytes.data(), perm.data(), bytes.size());
    } else if (spec.name == "bias") {
      std::uniform_real_distribution<float> v(-1.0f, 1.0f);
      for (int64_t i = 0; i < count; ++i) {
        const uint16_t h = f32_to_fp16(v(rng));
        std::memcpy(&bytes[static_cast<std::size_t>(2 * i)], &h, 2);
      }
    }
    out.push_back(std::move(bytes));
  }
  return out;
}

}  // namespace qb::exl2

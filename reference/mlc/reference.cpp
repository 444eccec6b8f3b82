// MLC scalar reference: the decode bit-exact with upstream's dequantize (specs/mlc.md 2.3) and
// the GEMV as the format's arithmetic defines it.
//
// The GEMV is y[n] = sum_k (code - max_int) * s * x[k] over the logical k < K, with the
// unrounded (code - max_int) * s, summed in double. Upstream's runtime fuses the dequant into its
// matmul and its precision was not determined (spec 2.3, 8.3); a kernel that keeps the group
// scale factored out (s * sum (code - max_int) x, as ours do) computes exactly these terms,
// whereas the model-dtype W of the decode is each term rounded once more (2^-11 relative for
// fp16, 2^-8 for bf16): that is a different computation, not one this bound admits.
#include <cmath>
#include <random>

#include "harness/check.h"
#include "reference/common/half.h"
#include "reference/mlc/mlc.h"

namespace qb::mlc {

float decode(const Preset& p, uint32_t code, float scale) {
  // code - max_int has at most 4 significant bits and scale at most 24: the fp32 product is exact
  // for fp16 and bf16 scales, so one rounding to the model dtype follows (spec 2.3); for fp32 the
  // product is the model's own f32 multiply. NaN and 0 * Inf as the fp32 multiply gives them.
  return to_model_dtype(p, static_cast<float>(static_cast<int32_t>(code) - p.max_int) * scale);
}

void dequant_ref(const qb_weight* cw, int64_t r0, int64_t r1, float* out) {
  const Args w = args_of(cw);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t k = 0; k < w.k; ++k) out[r * w.k + k] = decode(*w.p, w.code(r, k), w.scale(r, k / w.p->gs));
}

namespace {

// Per vector and row in [r0, r1), [m][r1 - r0]: the sum of f(t) over the row's product terms
// t = (code - max_int) * s * x[k], each exact in double (4 + 24 + 24 significant bits).
template <typename F>
std::vector<double> term_sums(const Args& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, F&& f) {
  std::vector<double> sums(static_cast<std::size_t>(m * (r1 - r0)));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = r0; r < r1; ++r) {
      double acc = 0;
      for (int64_t k = 0; k < w.k; ++k) {
        float x;
        std::memcpy(&x, act + 4 * (i * w.k + k), 4);
        const double v = static_cast<double>(static_cast<int32_t>(w.code(r, k)) - w.p->max_int) * w.scale(r, k / w.p->gs);
        acc += f(v * x);
      }
      sums[static_cast<std::size_t>(i * (r1 - r0) + r - r0)] = acc;
    }
  return sums;
}

}  // namespace

void gemv_ref(const qb_weight* cw, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  const Args w = args_of(cw);
  const std::vector<double> s = term_sums(w, act, m, r0, r1, [](double t) { return t; });
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = r0; r < r1; ++r) y[i * w.n + r] = static_cast<float>(s[static_cast<std::size_t>(i * (r1 - r0) + r - r0)]);
}

// A kernel forms (code - max_int) * x (one rounding; none for the padded codes, whose x is 0),
// sums a lane's or a group's terms (at most gs - 1 roundings), scales the sum by s (one) and
// adds it into the row's total with the other groups and lanes (at most K - 1): at most K + 2
// roundings on any term's path, in any order; K + 3 leaves one for a final reduction step.
int64_t gemv_rounding_depth(int64_t k) { return k + 3; }

// 2 * gamma_n * sum |(code - max_int) s x| + 2 n 2^-149 over the unrounded terms (harness/check.h
// states why; the generic bound would take the decoded W, which the model-dtype rounding can make
// smaller than |(code - max_int) s|, or infinite where the fp32 term is finite).
std::vector<double> gemv_error_bounds(const QWeight& qw, const uint8_t* act, int64_t m) {
  const Args w = args_of(qw);
  return bounds_of_term_sums(term_sums(w, act, m, 0, w.n, [](double t) { return std::fabs(t); }), gemv_rounding_depth(w.k));
}

std::vector<double> gemv_rms_terms(const QWeight& qw, const uint8_t* act, int64_t m) {
  std::vector<double> t = term_sums(args_of(qw), act, m, 0, qw.rows, [](double v) { return v * v; });
  for (double& v : t) v = std::sqrt(v);
  return t;
}

std::vector<std::vector<uint8_t>> random_stored(const Format& f, int64_t rows, int64_t cols,
                                                const nlohmann::json& params, uint64_t seed) {
  const Preset& p = preset_of_format(f.id);
  std::mt19937_64 rng(seed);
  std::vector<std::vector<uint8_t>> out;
  for (const StoredTensorSpec& spec : f.layout(rows, cols, params)) {
    int64_t count = 1;
    for (int64_t d : spec.shape) count *= d;
    std::vector<uint8_t> bytes(static_cast<std::size_t>(count) * dtype_size(spec.dtype));
    if (spec.name == "q_weight") {
      // Any bits: codes the quantizer never writes (15, 7), non-zero padding codes and set int3
      // top bits, all of which a decoder must treat as the spec says.
      for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    } else {
      // Scales of real models' magnitude (max |w| / max_int), either sign, so the terms differ in
      // size across groups.
      std::uniform_real_distribution<float> mag(-9.0f, -2.0f);
      for (int64_t i = 0; i < count; ++i) {
        const float s = (rng() & 1 ? -1.0f : 1.0f) * std::exp(mag(rng));
        if (p.dtype == ModelDType::f32) {
          std::memcpy(&bytes[static_cast<std::size_t>(4 * i)], &s, 4);
        } else {
          const uint16_t h = p.dtype == ModelDType::f16 ? f32_to_fp16_rne(s) : f32_to_bf16_rne(s);
          std::memcpy(&bytes[static_cast<std::size_t>(2 * i)], &h, 2);
        }
      }
    }
    out.push_back(std::move(bytes));
  }
  return out;
}

}  // namespace qb::mlc

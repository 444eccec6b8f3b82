#include "reference/ggml/q8_K_exact_case.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

namespace qb::ggml {
namespace {

uint16_t fp16_pow2(int e, bool negative) { return static_cast<uint16_t>((negative ? 0x8000 : 0) | (15 + e) << 10); }

// The fp16 super-scales at Format::fp16_scale_offsets: d at [0], dmin at [1] where the type has one.
void write_fp16_fields(const Format& f, uint8_t* blk, uint16_t d, uint16_t dmin) {
  std::memcpy(blk + f.fp16_scale_offsets.at(0), &d, 2);
  if (f.fp16_scale_offsets.size() > 1) std::memcpy(blk + f.fp16_scale_offsets[1], &dmin, 2);
}

// Largest activation code magnitudes tried, in order: the q8_K quantizer's whole range first.
constexpr int kLimits[] = {127, 95, 63, 47, 31, 23, 15, 11, 7, 5, 3, 2, 1};
constexpr int kMaxSpan = 2;

}  // namespace

// Weight blocks hold random bytes (every level, sub-block scale, min, grid index and sign the
// format can store) under super-scales d = +-2^e and dmin = +-2^g (fp16); activation blocks hold
// d = +-2^f (q8_K's d is fp32), random codes in [-lim, lim] (inside the q8_K quantizer's range
// [-127, 127], spec 3.17) and bsums = the sums of 16 codes, as the quantizer writes them (kernels
// take the min and offset terms from bsums).
//
// The k-quants' effective scales are d * (6-bit scale, or q6_K's int8 scale) and dmin * min, the
// iq types' d * (2s+1) (iq2_*: /8, iq3_xxs: /4; iq1_*: times g +- 1/8, a power of two too),
// iq4_xs's d * (ls - 32), the ternary types' d: with d, dmin powers of two every product of a
// weight and an activation value is an integer (the format's ExactTerms unit) times 2^(c+e+f) or
// 2^(c+g+f). Decoding is exact: the scales, levels and mins are small integers (under 2^13 for
// any product of them), e and g lie within kMaxSpan of each other, and q8_K's x = yd * x8 is a
// code times 2^f. A kernel sums integer pieces of the products exactly (int32), converts the sums
// to fp32, multiplies them by d*yd, dmin*yd (powers of two) or by such a product times an
// integer scale, and adds the results in any grouping and order; every value it forms is then a
// sum over some of the pieces, an integer multiple of 2^T, T = c + t with t the smallest e+f or
// g+f of the row's nonzero pieces, of magnitude at most
//   M = 2^c sum_blocks sum_i |x8_i| (scaled_i 2^(e+f) + min_i 2^(g+f))
// (ExactTerms bound every subset of an element's pieces: the unsigned-offset forms kernels
// multiply, e.g. q6_K's q + 32 with 32*scale*bsum taken off, and the min term dmin*min*bsum). When
// M < 2^24 * 2^T every such value is exact in fp32 (24-bit significand), so every order gives the
// exact dot, bit for bit, and the final power-of-two factors (iq2_*: 0.125f, iq3_xxs: 0.25f) keep
// it exact. A kernel that converts a sub-block's unscaled level sum forms at most 32 * 255 * 127
// < 2^24: exact as well. No q8_K kernel needs an activation offset (the levels have unsigned
// forms, so u8 x s8 instructions take x8 as the signed operand); one that adds 128 to x8 would
// need these terms extended.
//
// The exponents: block column b has E_b in [-3, 0]; its weight scales are e = E_b + delta,
// g = E_b + delta' with delta, delta' in [0, span] per row and block, its activation f = -4 - E_b.
// So d and yd vary from block to block at no cost, e + f = -4 + delta. Activation limits shrink
// from 127 and spans from kMaxSpan until M < 2^24 * 2^T holds for every row.
bool q8_K_exact_case(const Format& f, ExactTermsFn terms, ExactScalesFn scales, int64_t rows, int64_t cols,
                     uint64_t seed, std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act) {
  if (rows <= 0 || cols <= 0 || cols % kQK_K != 0) return false;
  const int64_t nb = cols / kQK_K, bb = f.block_bytes, n = rows * nb;
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> blocks(static_cast<std::size_t>(n * bb));
  for (auto& b : blocks) b = static_cast<uint8_t>(rng());
  std::vector<int> raw(static_cast<std::size_t>(cols));  // codes in [-127, 127], scaled to each limit
  for (auto& v : raw) v = static_cast<int>(rng() % 255) - 127;
  // Exponents and signs, the same draws for every attempt.
  std::mt19937_64 exps(seed ^ 0x5ca1e);
  std::vector<int> col_e(static_cast<std::size_t>(nb));
  std::vector<bool> x_neg(static_cast<std::size_t>(nb)), d_neg(static_cast<std::size_t>(n)), g_neg(d_neg.size());
  std::vector<uint64_t> d_draw(static_cast<std::size_t>(n)), g_draw(d_draw.size());
  for (int64_t b = 0; b < nb; ++b) {
    col_e[b] = -static_cast<int>(exps() % 4);
    x_neg[b] = exps() & 1;
  }
  for (int64_t i = 0; i < n; ++i) {
    d_draw[i] = exps();
    g_draw[i] = exps();
    d_neg[i] = exps() & 1;
    g_neg[i] = exps() & 1;
  }
  // Per row and block: sum_i scaled_i |x8_i| and sum_i min_i |x8_i| for the current limit.
  std::vector<ExactTerms> t(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) terms(&blocks[static_cast<std::size_t>(i * bb)], t[i]);
  std::vector<int> x(static_cast<std::size_t>(cols));
  std::vector<double> a_sum(static_cast<std::size_t>(n)), m_sum(a_sum.size());
  for (const int lim : kLimits) {
    for (int64_t c = 0; c < cols; ++c) x[c] = static_cast<int>(std::lround(raw[c] * lim / 127.0));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c0 = i % nb * kQK_K;
      int64_t a = 0, m = 0;
      for (int e = 0; e < kQK_K; ++e) {
        a += t[i].scaled[e] * std::abs(x[c0 + e]);
        m += t[i].min[e] * std::abs(x[c0 + e]);
      }
      a_sum[i] = static_cast<double>(a);
      m_sum[i] = static_cast<double>(m);
    }
    for (int span = kMaxSpan; span >= 0; --span) {
      const auto delta = [&](const std::vector<uint64_t>& draw, int64_t i) {
        return static_cast<int>(draw[i] % static_cast<uint64_t>(span + 1));
      };
      bool exact = true;
      for (int64_t r = 0; r < rows && exact; ++r) {
        int lo = INT_MAX;  // t + 4: the smallest delta of a nonzero part
        for (int64_t i = r * nb; i < (r + 1) * nb; ++i) {
          if (a_sum[i] > 0) lo = std::min(lo, delta(d_draw, i));
          if (m_sum[i] > 0) lo = std::min(lo, delta(g_draw, i));
        }
        if (lo == INT_MAX) continue;  // every piece of the row is 0
        double mag = 0;  // M / 2^T
        for (int64_t i = r * nb; i < (r + 1) * nb; ++i)
          mag += std::ldexp(a_sum[i], delta(d_draw, i) - lo) + std::ldexp(m_sum[i], delta(g_draw, i) - lo);
        exact = mag < std::ldexp(1.0, 24);
      }
      if (!exact) continue;
      for (int64_t i = 0; i < n; ++i) {
        const int e = col_e[i % nb] + delta(d_draw, i), g = col_e[i % nb] + delta(g_draw, i);
        uint8_t* blk = &blocks[static_cast<std::size_t>(i * bb)];
        if (scales)
          scales(blk, fp16_pow2(e, d_neg[i]), fp16_pow2(g, g_neg[i]));
        else
          write_fp16_fields(f, blk, fp16_pow2(e, d_neg[i]), fp16_pow2(g, g_neg[i]));
      }
      act.assign(static_cast<std::size_t>(nb) * sizeof(BlockQ8_K), 0);
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ8_K q;
        q.d = std::ldexp(x_neg[b] ? -1.0f : 1.0f, -4 - col_e[b]);
        for (int e = 0; e < kQK_K; ++e) q.qs[e] = static_cast<int8_t>(x[b * kQK_K + e]);
        for (int j = 0; j < kQK_K / 16; ++j) {
          int s = 0;
          for (int e = 0; e < 16; ++e) s += q.qs[16 * j + e];
          q.bsums[j] = static_cast<int16_t>(s);
        }
        std::memcpy(&act[static_cast<std::size_t>(b) * sizeof q], &q, sizeof q);
      }
      tensors = {std::move(blocks)};
      return true;
    }
  }
  return false;
}

}  // namespace qb::ggml

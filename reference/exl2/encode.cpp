// EXL2 encoder: round to nearest within each group (no GPTQ error feedback), packed as upstream's
// pack() packs (specs/exl2.md sections 2-6), so that upstream's loader reads the result.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "reference/common/half.h"
#include "reference/exl2/exl2.h"

namespace qb::exl2 {

void encode_rtn(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params,
                std::vector<std::vector<uint8_t>>& tensors) {
  const Params p = parse_params(params, cols);
  const int64_t n = rows, k = cols, g = static_cast<int64_t>(p.groups.size()), q_rows = p.q_rows();
  // Act-order stand-in (spec 3.2 sorts by the calibration Hessian's diagonal, which a weight
  // alone does not have): input features by descending sum of squared weights, so the widest
  // groups take the largest features, as upstream's salient ones.
  std::vector<double> energy(static_cast<std::size_t>(k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) energy[static_cast<std::size_t>(c)] += static_cast<double>(src[r * k + c]) * src[r * k + c];
  std::vector<int32_t> perm(static_cast<std::size_t>(k));  // stored row -> input feature
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) {
    return energy[static_cast<std::size_t>(a)] > energy[static_cast<std::size_t>(b)];
  });

  std::vector<uint32_t> q_weight(static_cast<std::size_t>(q_rows * n)), q_scale(static_cast<std::size_t>(g * n / 8));
  std::vector<uint16_t> q_scale_max(static_cast<std::size_t>(g));
  std::vector<int16_t> q_groups(static_cast<std::size_t>(2 * g));
  std::vector<int32_t> q_invperm(static_cast<std::size_t>(k));
  for (int64_t s = 0; s < k; ++s) q_invperm[static_cast<std::size_t>(perm[static_cast<std::size_t>(s)])] = static_cast<int32_t>(s);

  for (int64_t gi = 0; gi < g; ++gi) {
    const Group& gr = p.groups[static_cast<std::size_t>(gi)];
    q_groups[static_cast<std::size_t>(2 * gi)] = static_cast<int16_t>(gr.bits);
    q_groups[static_cast<std::size_t>(2 * gi + 1)] = static_cast<int16_t>(gr.q0);
    const int32_t z = 1 << (gr.bits - 1), maxq = (1 << gr.bits) - 1;
    const auto w = [&](int64_t r, int64_t col) { return src[col * k + perm[static_cast<std::size_t>(gr.row0 + r)]]; };
    // The quantizer's scale rule without its search over a global factor (spec 5): base per
    // column = max|w| / ((2^b - 1) / 2), the group maximum stored in fp16, codes by square root.
    std::vector<double> base(static_cast<std::size_t>(n));
    double smax = 0;
    for (int64_t col = 0; col < n; ++col) {
      double m = 0;
      for (int64_t r = 0; r < gr.rows; ++r) m = std::max(m, std::fabs(static_cast<double>(w(r, col))));
      base[static_cast<std::size_t>(col)] = (m + 1e-12) / (maxq / 2.0);
      smax = std::max(smax, base[static_cast<std::size_t>(col)]);
    }
    const uint16_t qsm = f32_to_fp16(static_cast<float>(smax));
    q_scale_max[static_cast<std::size_t>(gi)] = qsm;
    const uint16_t smax16 = group_max_fp16(qsm);
    for (int64_t col = 0; col < n; ++col) {
      const double ratio = smax > 0 ? base[static_cast<std::size_t>(col)] / smax : 1.0;
      const int64_t code = std::clamp<int64_t>(std::llround(16.0 * std::sqrt(ratio)), 1, 16);
      q_scale[static_cast<std::size_t>(gi * n / 8 + col / 8)] |= static_cast<uint32_t>(code - 1) << (4 * (col % 8));
      const double s = fp16_to_f32(scale_fp16(smax16, static_cast<uint32_t>(code - 1)));
      for (int64_t r = 0; r < gr.rows; ++r) {
        const double v = s > 0 ? std::nearbyint(static_cast<double>(w(r, col)) / s) : 0.0;
        const auto q = static_cast<uint32_t>(std::clamp<double>(v + z, 0.0, static_cast<double>(maxq)));
        // Stream bits [r*b, r*b + b) of this column's group words, LSB first (spec 4).
        const int64_t bit = r * gr.bits, wi = gr.q0 + bit / 32, o = bit % 32;
        q_weight[static_cast<std::size_t>(wi * n + col)] |= q << o;
        if (o + gr.bits > 32) q_weight[static_cast<std::size_t>((wi + 1) * n + col)] |= q >> (32 - o);
      }
    }
  }
  const auto bytes = [](const auto& v) {
    std::vector<uint8_t> b(v.size() * sizeof(v[0]));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
  };
  tensors = {bytes(q_weight), bytes(q_scale), bytes(q_scale_max), bytes(q_groups), bytes(q_invperm)};
  if (p.bias) tensors.push_back(std::vector<uint8_t>(static_cast<std::size_t>(2 * n)));  // zero bias
}

}  // namespace qb::exl2

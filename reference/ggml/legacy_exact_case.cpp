#include "reference/ggml/legacy_exact_case.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "harness/prepared.h"
#include "harness/qweight.h"
#include "reference/common/half.h"

namespace qb::ggml {
namespace {

// The field value whose (half) scale is 2^e. E8M0 and UE4M3 decoders return half the scale
// (reference/ggml/fp4.h): e8m0_half(128 + e) = 2^e; ue4m3_half((8 + e) << 3) = 2^(e+1-7)/2 = 2^e.
uint16_t fp16_pow2(int e, bool negative = false) { return static_cast<uint16_t>((negative ? 0x8000 : 0) | (15 + e) << 10); }
uint8_t e8m0_pow2(int e) { return static_cast<uint8_t>(128 + e); }
uint8_t ue4m3_pow2(int e) { return static_cast<uint8_t>((8 + e) << 3); }

// Elements a scale of each kind covers.
constexpr int64_t scale_elems(ExactScales k, int64_t qk) { return k == ExactScales::ue4m3_x4 ? 16 : qk; }

void set_scales(ExactScales k, uint8_t* blk, const int* e, int em, bool m_negative) {
  switch (k) {
    case ExactScales::fp16_d: {
      const uint16_t d = fp16_pow2(e[0]);
      std::memcpy(blk, &d, 2);
      break;
    }
    case ExactScales::fp16_d_m: {
      const uint16_t d = fp16_pow2(e[0]), m = fp16_pow2(em, m_negative);
      std::memcpy(blk, &d, 2);
      std::memcpy(blk + 2, &m, 2);
      break;
    }
    case ExactScales::e8m0: blk[0] = e8m0_pow2(e[0]); break;
    case ExactScales::ue4m3_x4:
      for (int s = 0; s < 4; ++s) blk[s] = ue4m3_pow2(e[s]);
      break;
  }
}

}  // namespace

// Weight blocks hold random code bytes under power-of-two scales 2^e (each scale field of the
// block; the q4_1 / q5_1 min m = +-2^g), activation blocks random codes under scales 2^f (q8_1:
// codes in [-64, 63], so |sum| <= 2048 and s = 2^f * sum is exact in fp16, the value the dot uses
// for the min term equals dy * sum(qy) exactly, as the fp64 expectation assumes). Every product
// a kernel forms is then an integer times 2^(e+f) (codes times levels) or 2^(g+f) (m times s), and
// every partial sum an integer multiple of 2^t, t the smallest such exponent of the row, of
// magnitude at most
//   M = sum over elements 2^(e+f) (|q_w|+16)(|q_x|+128) + sum over blocks 2^(g+f) * 32 * 128
// (the +16 and +128 cover kernels forming unsigned-offset integer sums, as in exact_case.cpp). The
// weight decode q*2^e + m (exponents within 3 of each other, q < 32) is exact in fp32. When
// M < 2^24 * 2^t every value is exact in fp32, so every order gives the exact dot, bit for bit;
// exponent spans shrink until that holds.
template <ExactScales kScales>
bool legacy_exact_case(const Format& f, int64_t rows, int64_t cols, uint64_t seed,
                       std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act) {
  const int64_t qk = f.block_elems, se = scale_elems(kScales, qk), spb = qk / se;
  if (cols % qk != 0) return false;
  const bool q8_1 = kScales == ExactScales::fp16_d_m;
  const int64_t ab = q8_1 ? 36 : 34, aq = q8_1 ? 4 : 2;  // activation block bytes, code offset
  const int64_t nb = cols / qk, na = cols / 32;
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> blocks(static_cast<std::size_t>(rows * nb * f.block_bytes));
  for (auto& b : blocks) b = static_cast<uint8_t>(rng());
  act.assign(static_cast<std::size_t>(na * ab), 0);
  std::vector<int> qx(static_cast<std::size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) {
    qx[i] = q8_1 ? static_cast<int>(rng() % 128) - 64 : static_cast<int8_t>(rng());
    act[static_cast<std::size_t>(i / 32 * ab + aq + i % 32)] = static_cast<uint8_t>(static_cast<int8_t>(qx[i]));
  }
  // The codes: the weights decoded under unit scales (and m = 0).
  std::vector<float> codes(static_cast<std::size_t>(rows * cols));
  {
    const int zero[4] = {0, 0, 0, 0};
    std::vector<uint8_t> unit = blocks;
    for (int64_t i = 0; i < rows * nb; ++i) set_scales(kScales, &unit[static_cast<std::size_t>(i * f.block_bytes)], zero, 0, false);
    if (q8_1)
      for (int64_t i = 0; i < rows * nb; ++i) std::memset(&unit[static_cast<std::size_t>(i * f.block_bytes + 2)], 0, 2);
    QWeight w{&f, rows, cols, nlohmann::json::object(), {{"blocks", DType::U8, {rows, nb * f.block_bytes}, unit.data(), unit.size()}}};
    f.dequant_ref(PreparedWeight(w).get(), 0, rows, codes.data());
  }
  for (int span = 3; span >= 0; --span) {
    std::mt19937_64 exps(seed ^ 0x5ca1e);
    const auto draw = [&](int base) { return base - static_cast<int>(exps() % static_cast<uint64_t>(span + 1)); };
    std::vector<int> e(static_cast<std::size_t>(rows * nb * spb)), g(static_cast<std::size_t>(rows * nb)), fx(static_cast<std::size_t>(na));
    std::vector<bool> g_neg(g.size());
    for (auto& v : e) v = draw(0);
    for (std::size_t i = 0; i < g.size(); ++i) {
      g[i] = draw(0);
      g_neg[i] = exps() & 1;
    }
    for (auto& v : fx) v = draw(-4);
    bool exact = true;
    for (int64_t r = 0; r < rows && exact; ++r) {
      int t = 0;
      for (int64_t c = 0; c < cols; ++c) t = std::min(t, e[(r * cols + c) / se] + fx[c / 32]);
      if (q8_1)
        for (int64_t b = 0; b < nb; ++b) t = std::min(t, g[r * nb + b] + fx[b]);
      double m = 0;
      for (int64_t c = 0; c < cols; ++c)
        m += std::ldexp((std::fabs(codes[r * cols + c]) + 16) * (std::abs(qx[c]) + 128), e[(r * cols + c) / se] + fx[c / 32] - t);
      if (q8_1)
        for (int64_t b = 0; b < nb; ++b) m += std::ldexp(32.0 * 128.0, g[r * nb + b] + fx[b] - t);
      exact = m < std::ldexp(1.0, 24);
    }
    if (!exact) continue;
    for (int64_t i = 0; i < rows * nb; ++i)
      set_scales(kScales, &blocks[static_cast<std::size_t>(i * f.block_bytes)], &e[i * spb], g[i], g_neg[i]);
    for (int64_t b = 0; b < na; ++b) {
      const uint16_t d = fp16_pow2(fx[b]);
      std::memcpy(&act[static_cast<std::size_t>(b * ab)], &d, 2);
      if (q8_1) {
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += qx[b * 32 + j];
        const uint16_t s = f32_to_fp16(std::ldexp(static_cast<float>(sum), fx[b]));  // exact: |sum| <= 2048
        std::memcpy(&act[static_cast<std::size_t>(b * ab + 2)], &s, 2);
      }
    }
    tensors = {std::move(blocks)};
    return true;
  }
  return false;
}

template bool legacy_exact_case<ExactScales::fp16_d>(const Format&, int64_t, int64_t, uint64_t,
                                                    std::vector<std::vector<uint8_t>>&, std::vector<uint8_t>&);
template bool legacy_exact_case<ExactScales::fp16_d_m>(const Format&, int64_t, int64_t, uint64_t,
                                                      std::vector<std::vector<uint8_t>>&, std::vector<uint8_t>&);
template bool legacy_exact_case<ExactScales::e8m0>(const Format&, int64_t, int64_t, uint64_t,
                                                  std::vector<std::vector<uint8_t>>&, std::vector<uint8_t>&);
template bool legacy_exact_case<ExactScales::ue4m3_x4>(const Format&, int64_t, int64_t, uint64_t,
                                                      std::vector<std::vector<uint8_t>>&, std::vector<uint8_t>&);

}  // namespace qb::ggml

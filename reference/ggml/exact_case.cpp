// Exact-by-construction GEMV inputs for GGML's 32-element formats paired with q8_0 activations.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "harness/prepared.h"
#include "harness/qweight.h"
#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"

namespace qb::ggml {

// Weight blocks hold random bytes (every code, q8_0's -128 included) under power-of-two fp16
// scales 2^e_b; activation blocks hold random codes over the whole int8 range (-128 included:
// upstream's x86 quantizer emits it for NaN and overflowing levels) under scales 2^f_b. Every product w_i*x_i is then an integer times 2^(e_b+f_b). A kernel forms
// integer block sums (exact in int32; with an unsigned offset form at most
// sum (|q_w|+16)(|q_x|+128), which also bounds the signed form), converts them to fp32, scales
// them by powers of two and adds block terms in some order. Each such value is an integer
// multiple of 2^s, s = min_b(e_b+f_b), of magnitude at most
//   M = sum_b 2^(e_b+f_b) sum_{i in b} (|q_w,i|+16)(|q_x,i|+128).
// When M < 2^24 * 2^s, every value is exactly representable in fp32 (24-bit significand), so
// every order gives the exact dot product, bit for bit. Exponent spans shrink until that holds.
bool q8_0_paired_exact_case(const Format& f, int64_t rows, int64_t cols, uint64_t seed,
                            std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act) {
  if (cols % 32 != 0) return false;
  const int64_t nb = cols / 32;
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> blocks(static_cast<std::size_t>(rows * nb * f.block_bytes));
  for (auto& b : blocks) b = static_cast<uint8_t>(rng());
  act.assign(static_cast<std::size_t>(nb * 34), 0);
  for (int64_t b = 0; b < nb; ++b)
    for (int j = 0; j < 32; ++j) act[static_cast<std::size_t>(b * 34 + 2 + j)] = static_cast<uint8_t>(rng());
  std::vector<float> codes(static_cast<std::size_t>(rows * cols));  // the weights under unit scales
  for (int64_t i = 0; i < rows * nb; ++i) {
    const uint16_t one = 0x3C00;
    std::memcpy(&blocks[static_cast<std::size_t>(i * f.block_bytes)], &one, 2);
  }
  {
    QWeight w{&f, rows, cols, nlohmann::json::object(), {{"blocks", DType::U8, {rows, nb * f.block_bytes}, blocks.data(), blocks.size()}}};
    f.dequant_ref(PreparedWeight(w).get(), 0, rows, codes.data());
  }
  for (int span = 3; span >= 0; --span) {
    std::mt19937_64 exps(seed ^ 0x5ca1e);
    std::vector<int> e(static_cast<std::size_t>(rows * nb)), fx(static_cast<std::size_t>(nb));
    for (auto& v : e) v = -static_cast<int>(exps() % static_cast<uint64_t>(span + 1));
    for (auto& v : fx) v = -4 - static_cast<int>(exps() % static_cast<uint64_t>(span + 1));
    bool exact = true;
    for (int64_t r = 0; r < rows && exact; ++r) {
      int s = 0;
      for (int64_t b = 0; b < nb; ++b) s = std::min(s, e[r * nb + b] + fx[b]);
      double m = 0;
      for (int64_t b = 0; b < nb; ++b) {
        double sum = 0;
        for (int j = 0; j < 32; ++j)
          sum += (std::fabs(codes[r * cols + b * 32 + j]) + 16) * (std::abs(int8_t(act[b * 34 + 2 + j])) + 128);
        m += std::ldexp(sum, e[r * nb + b] + fx[b] - s);
      }
      exact = m < std::ldexp(1.0, 24);
    }
    if (!exact) continue;
    for (int64_t i = 0; i < rows * nb; ++i) {
      const uint16_t h = f32_to_fp16(std::ldexp(1.0f, e[i]));
      std::memcpy(&blocks[static_cast<std::size_t>(i * f.block_bytes)], &h, 2);
    }
    for (int64_t b = 0; b < nb; ++b) {
      const uint16_t h = f32_to_fp16(std::ldexp(1.0f, fx[b]));
      std::memcpy(&act[static_cast<std::size_t>(b * 34)], &h, 2);
    }
    tensors = {std::move(blocks)};
    return true;
  }
  return false;
}

IntegerCodeCase integer_code_case(const Format& f, int64_t rows, int64_t nb, int64_t m,
                                  const std::function<int(int64_t, int64_t, int)>& wcode,
                                  const std::function<int(int64_t, int64_t)>& wexp,
                                  const std::function<int(int64_t, int64_t, int)>& acode,
                                  const std::function<int(int64_t, int64_t)>& aexp) {
  const bool q4 = f.id == "q4_0";
  if (!q4 && f.id != "q8_0") throw std::invalid_argument("integer_code_case: " + f.id + " is not q4_0 or q8_0");
  // d = 2^e as fp16: the normal with biased exponent e + 15 and a zero mantissa.
  const auto pow2 = [](int e) { return static_cast<uint16_t>((15 + e) << 10); };
  IntegerCodeCase c;
  c.blocks.assign(static_cast<std::size_t>(rows * nb * f.block_bytes), 0);
  c.act.assign(static_cast<std::size_t>(m * nb * 34), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = &c.blocks[static_cast<std::size_t>((r * nb + b) * f.block_bytes)];
      const uint16_t d = pow2(wexp(r, b));
      std::memcpy(blk, &d, 2);
      for (int j = 0; j < 32; ++j) {
        const int q = wcode(r, b, j);
        if (q4)  // byte j % 16 holds element j (low nibble) and element j + 16 (high nibble), + 8
          blk[2 + j % 16] |= static_cast<uint8_t>((q + 8) << (j < 16 ? 0 : 4));
        else
          blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
      }
    }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = &c.act[static_cast<std::size_t>((i * nb + b) * 34)];
      const uint16_t d = pow2(aexp(i, b));
      std::memcpy(blk, &d, 2);
      for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(acode(i, b, j)));
    }
  c.y.resize(static_cast<std::size_t>(m * rows));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0, magnitude = 0;
      int s = 0;
      for (int64_t b = 0; b < nb; ++b) {
        int64_t dot = 0, absdot = 0;
        for (int j = 0; j < 32; ++j) {
          const int64_t p = int64_t{wcode(r, b, j)} * acode(i, b, j);
          dot += p;
          absdot += p < 0 ? -p : p;
        }
        const int e = wexp(r, b) + aexp(i, b);
        s = std::min(s, e);
        sum += std::ldexp(static_cast<double>(dot), e);
        magnitude += std::ldexp(static_cast<double>(absdot), e);
      }
      c.exact = c.exact && magnitude < std::ldexp(1.0, 24 + s);
      c.y[static_cast<std::size_t>(i * rows + r)] = static_cast<float>(sum);
    }
  return c;
}

}  // namespace qb::ggml

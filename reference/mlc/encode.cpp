// MLC quantizer as `mlc_llm convert_weight` runs it with the LLVM (CPU) target: GroupQuantize's
// TE kernel, every step in the model dtype (specs/mlc.md 2.4). Other devices round ties
// differently (CUDA fp16, WebGPU: half to even), so these are the CPU's bytes, not every
// device's; the upstream numpy oracle (quantize_np) is a third rule again.
#include <algorithm>
#include <cmath>

#include "reference/common/half.h"
#include "reference/mlc/mlc.h"

namespace qb::mlc {

namespace {

// Each step is one fp32 result rounded to the model dtype (to_model_dtype): TVM evaluates
// fp16/bf16 arithmetic in fp32 and rounds once. Both follow an fp32 + or /, whose 24 bits are at
// least 2p + 2 for p = 11 and 8, so the double rounding is innocuous.
uint32_t quantize(const Preset& p, float w, float scale) {
  float t = to_model_dtype(p, w / scale);                          // step 3: model-dtype division
  t = to_model_dtype(p, t + static_cast<float>(p.max_int));       // step 3: model-dtype add
  const float r = std::round(t);                             // step 4: llvm.round, ties away from zero
  // Step 5: LLVM's max/min are select(a > b, a, b) / select(a < b, a, b): NaN (0/0 of an all-zero
  // group) becomes 0, +Inf the top code.
  const float lo = r > 0.0f ? r : 0.0f;
  const float hi = static_cast<float>(2 * p.max_int);
  return static_cast<uint32_t>(lo < hi ? lo : hi);
}

}  // namespace

void encode(const Preset& p, const float* src, int64_t rows, int64_t cols, std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t ng = (cols + p.gs - 1) / p.gs, nw = ng * p.spg;
  const std::size_t ssize = p.dtype == ModelDType::f32 ? 4 : 2;
  std::vector<uint32_t> q(static_cast<std::size_t>(rows * nw));  // NK: [rows][nw]
  std::vector<float> scales(static_cast<std::size_t>(rows * ng));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < ng; ++g) {
      const int64_t k0 = g * p.gs, k1 = std::min(cols, k0 + p.gs);
      // Step 1: max |w| over the group's real elements (padding contributes the dtype's lowest
      // value, which never wins).
      float max_abs = 0.0f;
      for (int64_t k = k0; k < k1; ++k) max_abs = std::max(max_abs, std::fabs(to_model_dtype(p, src[r * cols + k])));
      const float scale = to_model_dtype(p, max_abs / static_cast<float>(p.max_int));  // step 2
      scales[static_cast<std::size_t>(r * ng + g)] = scale;
      for (int64_t k = k0; k < k1; ++k) {
        const uint32_t code = quantize(p, to_model_dtype(p, src[r * cols + k]), scale);
        q[static_cast<std::size_t>(r * nw + k / p.epw)] |= code << ((k % p.epw) * p.bits);  // padding stays 0
      }
    }
  std::vector<uint8_t> qw(q.size() * 4), qs(scales.size() * ssize);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t w = 0; w < nw; ++w) {
      const int64_t at = p.kn ? w * rows + r : r * nw + w;  // KN stores the transpose (spec 2.1)
      std::memcpy(&qw[static_cast<std::size_t>(4 * at)], &q[static_cast<std::size_t>(r * nw + w)], 4);
    }
    for (int64_t g = 0; g < ng; ++g) {
      const int64_t at = p.kn ? g * rows + r : r * ng + g;
      const float s = scales[static_cast<std::size_t>(r * ng + g)];
      if (ssize == 4) {
        std::memcpy(&qs[static_cast<std::size_t>(4 * at)], &s, 4);
      } else {
        const uint16_t h = p.dtype == ModelDType::f16 ? f32_to_fp16_rne(s) : static_cast<uint16_t>(f32_to_bits(s) >> 16);
        std::memcpy(&qs[static_cast<std::size_t>(2 * at)], &h, 2);
      }
    }
  }
  tensors.clear();
  tensors.push_back(std::move(qw));
  tensors.push_back(std::move(qs));
}

}  // namespace qb::mlc

#include "reference/ggml/q8_K_activation.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/common/half.h"
#include "reference/ggml/nearest_int.h"

namespace qb::ggml {
namespace {

void check_cols(int64_t n) {
  if (n <= 0 || n % kQK_K != 0)
    throw std::invalid_argument("q8_K activation: length " + std::to_string(n) +
                                " is not a positive multiple of 256");
}

std::size_t activation_bytes(int64_t cols) {
  return static_cast<std::size_t>(cols / kQK_K) * sizeof(BlockQ8_K);
}

}  // namespace

void quantize_row_q8_K(const float* x, int64_t n, uint8_t* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* xb = x + b * kQK_K;
    uint8_t* ob = out + b * sizeof(BlockQ8_K);
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    BlockQ8_K blk{};
    if (amax != 0.0f) {
      const float iscale = -127.0f / max;
      for (int j = 0; j < kQK_K; ++j) {
        const int v = nearest_int(iscale * xb[j]);
        // Upstream stores MIN(127, v) into int8: the conversion wraps modulo 256 (as GCC defines
        // it), reachable only for NaN/Inf inputs, whose levels nearest_int still defines.
        blk.qs[j] = static_cast<int8_t>(static_cast<uint8_t>(static_cast<uint32_t>(v < 127 ? v : 127)));
      }
      for (int s = 0; s < kQK_K / 16; ++s) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += blk.qs[16 * s + j];
        blk.bsums[s] = static_cast<int16_t>(sum);
      }
      blk.d = 1.0f / iscale;
    }
    std::memcpy(ob, &blk, sizeof blk);
  }
}

void dequantize_row_q8_K(const uint8_t* blocks, int64_t n, float* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* blk = blocks + b * sizeof(BlockQ8_K);
    const float d = q8_K_d(blk);
    const int8_t* qs = q8_K_qs(blk);
    for (int j = 0; j < kQK_K; ++j) out[b * kQK_K + j] = d * static_cast<float>(qs[j]);
  }
}

const ActivationFormat& q8_K_activation() {
  // fp32 d: no fp16 scale field for verify to plant special values in.
  static const ActivationFormat act{"q8_K", activation_bytes, quantize_row_q8_K, dequantize_row_q8_K,
                                    sizeof(BlockQ8_K), {}};
  return act;
}

}  // namespace qb::ggml

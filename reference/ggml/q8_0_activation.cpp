#include "reference/ggml/q8_0_activation.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"

namespace qb::ggml {
namespace {

float block_amax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

void check_cols(int64_t n) {
  if (n <= 0 || n % kQK8_0 != 0)
    throw std::invalid_argument("q8_0 activation: length " + std::to_string(n) +
                                " is not a positive multiple of 32");
}

// Round half to even, as _mm256_round_ps(_MM_ROUND_NEAREST) does under the default MXCSR.
int8_t round_half_even(float v) { return static_cast<int8_t>(std::nearbyint(v)); }
int8_t round_half_away(float v) { return static_cast<int8_t>(std::round(v)); }

template <bool kNative>
void quantize_row(const float* x, int64_t n, uint8_t* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* xb = x + b * kQK8_0;
    uint8_t* ob = out + b * sizeof(BlockQ8_0);
    const float amax = block_amax(xb);
    const float d = amax / 127.0f;
    const float id = kNative ? (amax != 0.0f ? 127.0f / amax : 0.0f) : (d != 0.0f ? 1.0f / d : 0.0f);
    const uint16_t dh = f32_to_fp16(d);
    std::memcpy(ob, &dh, 2);
    for (int j = 0; j < kQK8_0; ++j) {
      const float v = xb[j] * id;
      const int8_t q = kNative ? round_half_even(v) : round_half_away(v);
      std::memcpy(ob + 2 + j, &q, 1);
    }
  }
}

std::size_t activation_bytes(int64_t cols) {
  return static_cast<std::size_t>(cols / kQK8_0) * sizeof(BlockQ8_0);
}

}  // namespace

void quantize_row_q8_0_native(const float* x, int64_t n, uint8_t* out) { quantize_row<true>(x, n, out); }
void quantize_row_q8_0_ref(const float* x, int64_t n, uint8_t* out) { quantize_row<false>(x, n, out); }

void dequantize_row_q8_0(const uint8_t* blocks, int64_t n, float* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = blocks + b * sizeof(BlockQ8_0);
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = fp16_to_f32(dh);
    for (int j = 0; j < kQK8_0; ++j) {
      const int8_t q = static_cast<int8_t>(blk[2 + j]);
      out[b * kQK8_0 + j] = static_cast<float>(q) * d;
    }
  }
}

const ActivationFormat& q8_0_activation() {
  static const ActivationFormat act{"q8_0", activation_bytes, quantize_row_q8_0_native,
                                    dequantize_row_q8_0, sizeof(BlockQ8_0), {0}};
  return act;
}

}  // namespace qb::ggml

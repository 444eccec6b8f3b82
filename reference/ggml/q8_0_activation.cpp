#include "reference/ggml/q8_0_activation.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/x86_quantize_ops.h"

namespace qb::ggml {
namespace {

void check_cols(int64_t n) {
  if (n <= 0 || n % kQK8_0 != 0)
    throw std::invalid_argument("q8_0 activation: length " + std::to_string(n) +
                                " is not a positive multiple of 32");
}

// The reference quantizer's amax: amax = MAX(amax, fabsf(x_j)) from 0 in element order.
float ref_amax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK8_0; ++j) amax = x86_ops::max_second_wins(amax, x86_ops::abs_bits(x[j]));
  return amax;
}

template <bool kNative>
void quantize_row(const float* x, int64_t n, uint8_t* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* xb = x + b * kQK8_0;
    uint8_t* ob = out + b * sizeof(BlockQ8_0);
    const float amax = kNative ? x86_ops::native_amax32(xb) : ref_amax(xb);
    const float d = kNative ? x86_ops::div127(amax) : amax / 127.0f;
    // `d != 0` and `amax != 0` are true for NaN: id is then NaN and every level NaN.
    const float id = kNative ? (amax != 0.0f ? 127.0f / amax : 0.0f) : (d != 0.0f ? 1.0f / d : 0.0f);
    const uint16_t dh = kNative ? f32_to_fp16_rne(d) : f32_to_fp16(d);
    std::memcpy(ob, &dh, 2);
    for (int j = 0; j < kQK8_0; ++j) {
      const float v = xb[j] * id;
      // Native: _mm256_round_ps(_MM_ROUND_NEAREST), half to even (nearbyint under the default
      // rounding mode); ref: roundf, half away from zero. Both pass NaN and Inf through.
      const int8_t q = x86_ops::pack_saturate(x86_ops::cvtps2dq(kNative ? std::nearbyint(v) : std::round(v)));
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

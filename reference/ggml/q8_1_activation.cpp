#include "reference/ggml/q8_1_activation.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "reference/common/half.h"
#include "reference/ggml/x86_quantize_ops.h"

namespace qb::ggml {
namespace {

using namespace x86_ops;

void check_cols(int64_t n) {
  if (n <= 0 || n % kQK8_1 != 0)
    throw std::invalid_argument("q8_1 activation: length " + std::to_string(n) +
                                " is not a positive multiple of 32");
}

// The reference's amax: MAX(amax, fabsf(x_j)) from 0 in element order.
float ref_amax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK8_1; ++j) amax = max_second_wins(amax, abs_bits(x[j]));
  return amax;
}

template <bool kNative>
void quantize_row(const float* x, int64_t n, uint8_t* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK8_1; ++b) {
    const float* xb = x + b * kQK8_1;
    BlockQ8_1 blk{};
    const float amax = kNative ? native_amax32(xb) : ref_amax(xb);
    const float d = kNative ? div127(amax) : amax / 127.0f;
    // `!= 0` is true for NaN: id is then NaN and every level NaN.
    const float id = kNative ? (amax != 0.0f ? 127.0f / amax : 0.0f) : (d != 0.0f ? 1.0f / d : 0.0f);
    blk.d = kNative ? f32_to_fp16_rne(d) : f32_to_fp16(d);
    uint32_t sum = 0;  // modulo 2^32, as vpaddd (native) adds; the ref's int8 sum never wraps
    for (int j = 0; j < kQK8_1; ++j) {
      const float v = xb[j] * id;
      // Native: _mm256_round_ps(_MM_ROUND_NEAREST), half to even (nearbyint under the default
      // rounding mode); ref: roundf, half away from zero. Both pass NaN and Inf through.
      const int32_t level = cvtps2dq(kNative ? std::nearbyint(v) : std::round(v));
      blk.qs[j] = pack_saturate(level);
      sum += static_cast<uint32_t>(kNative ? level : blk.qs[j]);
    }
    const float total = static_cast<float>(static_cast<int32_t>(sum));
    blk.s = kNative ? f32_to_fp16_rne(d * total) : f32_to_fp16(total * d);
    std::memcpy(out + b * sizeof(BlockQ8_1), &blk, sizeof blk);
  }
}

std::size_t activation_bytes(int64_t cols) {
  return static_cast<std::size_t>(cols / kQK8_1) * sizeof(BlockQ8_1);
}

}  // namespace

void quantize_row_q8_1_native(const float* x, int64_t n, uint8_t* out) { quantize_row<true>(x, n, out); }
void quantize_row_q8_1_ref(const float* x, int64_t n, uint8_t* out) { quantize_row<false>(x, n, out); }

void dequantize_row_q8_1(const uint8_t* blocks, int64_t n, float* out) {
  check_cols(n);
  for (int64_t b = 0; b < n / kQK8_1; ++b) {
    BlockQ8_1 blk;
    std::memcpy(&blk, blocks + b * sizeof(BlockQ8_1), sizeof blk);
    const float d = fp16_to_f32(blk.d);
    for (int j = 0; j < kQK8_1; ++j) out[b * kQK8_1 + j] = static_cast<float>(blk.qs[j]) * d;
  }
}

const ActivationFormat& q8_1_activation() {
  // Both d and s are fp16 fields where verify plants special values.
  static const ActivationFormat act{"q8_1", activation_bytes, quantize_row_q8_1_native, dequantize_row_q8_1,
                                    sizeof(BlockQ8_1), {0, 2}};
  return act;
}

}  // namespace qb::ggml

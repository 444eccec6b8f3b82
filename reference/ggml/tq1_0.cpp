// tq1_0 golden reference (specs/ggml.md 3.18, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/tq1_0.h"

#include <cmath>
#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/ternary_common.h"

namespace qb::ggml {
namespace {

// Trits of a block in element order, 0..2 (value t - 1).
void trits(const uint8_t* p, int t[kQK_K]) {
  BlockTQ1_0 b;
  std::memcpy(&b, p, sizeof b);
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 32; ++m) t[32 * n + m] = tq1_0_trit(b.qs[m], n);
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 16; ++m) t[160 + 16 * n + m] = tq1_0_trit(b.qs[32 + m], n);
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < 4; ++j) t[240 + 4 * n + j] = tq1_0_trit(b.qh[j], n);
}

// Five trits (first = most significant) as the byte ceil(q * 256 / 243): the fixed-point
// fraction tq1_0_trit reads back.
uint8_t pack_trits(const int* t, int count) {
  int q = 0;
  for (int n = 0; n < count; ++n) q = q * 3 + t[n];
  for (int n = count; n < 5; ++n) q *= 3;  // qh's four trits move up to the top places
  return static_cast<uint8_t>((q * 256 + 242) / 243);
}

void encode_block(const float* x, BlockTQ1_0& y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK_K; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  const float d = amax;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y.d = f32_to_fp16(d);
  int t[kQK_K];  // lroundf rounds half away from zero; levels use the fp32 id (pitfall 7.5)
  for (int e = 0; e < kQK_K; ++e) t[e] = static_cast<int>(std::lround(x[e] * id)) + 1;
  int five[5];
  for (int m = 0; m < 32; ++m) {
    for (int n = 0; n < 5; ++n) five[n] = t[32 * n + m];
    y.qs[m] = pack_trits(five, 5);
  }
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 5; ++n) five[n] = t[160 + 16 * n + m];
    y.qs[32 + m] = pack_trits(five, 5);
  }
  for (int j = 0; j < 4; ++j) {
    for (int n = 0; n < 4; ++n) five[n] = t[240 + 4 * n + j];
    y.qh[j] = pack_trits(five, 4);
  }
}

}  // namespace

int tq1_0_trit(uint8_t b, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t shifted = static_cast<uint8_t>(b * kPow3[n]);
  return (shifted * 3) >> 8;
}

// Upstream ggml_vec_dot_tq1_0_q8_K: exact integer block sum, then (float)sum * (d_w * d_x).
Format tq1_0_format(Format f) {
  return ternary_format<BlockTQ1_0, offsetof(BlockTQ1_0, d), trits, encode_block, TernaryScaleOrder::weight_first>(f);
}

}  // namespace qb::ggml

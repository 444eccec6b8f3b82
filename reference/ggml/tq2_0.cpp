// tq2_0 golden reference (specs/ggml.md 3.19, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/tq2_0.h"

#include <cmath>
#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_K_activation.h"
#include "reference/ggml/ternary_common.h"

namespace qb::ggml {
namespace {

// The 2-bit codes (0..3; value code - 1, so 3 decodes to +2) in element order: element
// 128c + 32n + m at bits 2n..2n+1 of qs[32c + m].
void codes(const uint8_t* p, int c[kQK_K]) {
  BlockTQ2_0 b;
  std::memcpy(&b, p, sizeof b);
  for (int e = 0; e < kQK_K; ++e) c[e] = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

void encode_block(const float* x, BlockTQ2_0& y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK_K; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  const float d = amax;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y.d = f32_to_fp16(d);
  std::memset(y.qs, 0, sizeof y.qs);
  for (int e = 0; e < kQK_K; ++e) {
    // lroundf rounds half away from zero; levels use the fp32 id (pitfall 7.5).
    const int q = static_cast<int>(std::lround(x[e] * id)) + 1;
    const int c = e / 128, n = (e % 128) / 32, m = e % 32;
    y.qs[32 * c + m] = static_cast<uint8_t>(y.qs[32 * c + m] + ((q & 3) << (2 * n)));
  }
}

}  // namespace

// Upstream ggml_vec_dot_tq2_0_q8_K: exact integer block sum, then (float)sumi * (d_x * d_w).
Format tq2_0_format(Format f) {
  return ternary_format<BlockTQ2_0, offsetof(BlockTQ2_0, d), codes, encode_block, TernaryScaleOrder::act_first>(f);
}

}  // namespace qb::ggml

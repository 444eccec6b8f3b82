// nvfp4 golden reference (specs/ggml.md 3.10, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/nvfp4.h"

#include <cmath>
#include <cstring>

#include "reference/ggml/blocks.h"
#include "reference/ggml/fp4.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/legacy_exact_case.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb::ggml {
namespace {

constexpr int kSubs = kQKNvfp4 / kQKNvfp4Sub;

// The table index of element 16s + j (j < 16) of a block: byte 8s + j % 8, high nibble for j >= 8.
int nib(const uint8_t* blk, int s, int j) {
  const uint8_t byte = blk[kSubs + 8 * s + j % 8];
  return j < 8 ? byte & 15 : byte >> 4;
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQKNvfp4;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQKNvfp4, sizeof(BlockNvfp4));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockNvfp4), y += kQKNvfp4)
      for (int s = 0; s < kSubs; ++s) {
        const float d = ue4m3_half(blk[s]);
        for (int j = 0; j < kQKNvfp4Sub; ++j) y[16 * s + j] = static_cast<float>(kValuesFp4[nib(blk, s, j)]) * d;
      }
  }
}

// One block of quantize_row_nvfp4_ref: per 16-element sub-block, amax (first largest |x|), scale
// byte fp32_to_ue4m3(amax / 6) (E2M1's largest value 6 reaches amax), codes nearest to x under the
// decoded scale.
void encode_block(const float* x, uint8_t* out) {
  BlockNvfp4 blk{};
  for (int s = 0; s < kSubs; ++s) {
    const float* xs = x + kQKNvfp4Sub * s;
    float amax = 0.0f;
    for (int j = 0; j < kQKNvfp4Sub; ++j)
      if (amax < std::fabs(xs[j])) amax = std::fabs(xs[j]);
    blk.d[s] = f32_to_ue4m3(amax / 6.0f);
    const float d = ue4m3_half(blk.d[s]);
    for (int j = 0; j < 8; ++j)
      blk.qs[8 * s + j] = static_cast<uint8_t>(best_fp4_index(xs[j], d) | best_fp4_index(xs[j + 8], d) << 4);
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_nvfp4_q8_0: one term per 16-element sub-block s, added to sumf in order:
// (dy*ue4m3_half(d_s))*(float)sumi_s, dy the scale of the activation block holding the sub-block
// (block 2b + s/2 for weight block b, its half s % 2).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  const int64_t nb = w->cols / kQKNvfp4;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQKNvfp4, sizeof(BlockNvfp4));
    float sumf = 0.0f;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockNvfp4))
      for (int s = 0; s < kSubs; ++s) {
        const uint8_t* xb = act + (2 * b + s / 2) * static_cast<int64_t>(sizeof(BlockQ8_0));
        const int8_t* xq = reinterpret_cast<const int8_t*>(xb + 2) + 16 * (s % 2);
        int32_t sumi = 0;
        for (int j = 0; j < kQKNvfp4Sub; ++j) sumi += kValuesFp4[nib(blk, s, j)] * xq[j];
        sumf += (fp16_to_f32(load_u16(xb)) * ue4m3_half(blk[s])) * static_cast<float>(sumi);
      }
    y[r] = sumf;
  }
}

// One term of 2 roundings per 16 elements, added sequentially or split over up to 64 lanes and
// reduced by a tree (<= 6 more additions): the q8_0-paired argument with twice the terms.
int64_t rounding_depth(int64_t cols) { return cols / kQKNvfp4Sub + 2 + 6; }

}  // namespace

Format nvfp4_format(Format f) {
  f.activation = &q8_0_activation();
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQKNvfp4, sizeof(BlockNvfp4), encode_block>;
  f.exact_gemv_case = legacy_exact_case<ExactScales::ue4m3_x4>;
  f.gemv_rounding_depth = rounding_depth;
  return f;
}

}  // namespace qb::ggml

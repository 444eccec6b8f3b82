// q8_0 golden reference (specs/ggml.md 3.5, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q8_0.h"

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_0_activation.h"

namespace qb::ggml {
namespace {

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  for (int64_t r = r0; r < r1; ++r) dequantize_row_q8_0(row_blocks(w, r, kQK8_0, sizeof(BlockQ8_0)), w->cols, out + r * w->cols);
}

// Weights use the reference quantizer (roundf, id = 1/d): quantize_row_q8_0_ref.
void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(rows * cols / kQK8_0) * sizeof(BlockQ8_0)));
  quantize_row_q8_0_ref(src, rows * cols, tensors[0].data());
}

// Upstream ggml_vec_dot_q8_0_q8_0: (float)sumi * (d_w * d_x).
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_0_paired_gemv<sizeof(BlockQ8_0)>(w, act, r0, r1, y, [](const uint8_t* blk, const uint8_t* xb) {
    int32_t sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += static_cast<int8_t>(blk[2 + j]) * static_cast<int8_t>(xb[2 + j]);
    return static_cast<float>(sumi) * (fp16_to_f32(load_u16(blk)) * fp16_to_f32(load_u16(xb)));
  });
}

}  // namespace

Format q8_0_format(Format f) {
  f.activation = &q8_0_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode;
  f.gemv_rounding_depth = q8_0_paired_rounding_depth;
  f.exact_gemv_case = q8_0_paired_exact_case;
  return f;
}

}  // namespace qb::ggml

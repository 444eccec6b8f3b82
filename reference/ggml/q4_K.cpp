// q4_K golden reference (specs/ggml.md 3.11, 3.14, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/q4_K.h"

#include <cstddef>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/kquant_common.h"

namespace qb::ggml {
namespace {

constexpr int64_t kBytes = sizeof(BlockQ4_K);

void unpack(const uint8_t* p, KBlock& k) {
  BlockQ4_K b;
  std::memcpy(&b, p, sizeof b);
  k.d = fp16_to_f32(b.d);
  k.dmin = fp16_to_f32(b.dmin);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      k.q[64 * c + l] = b.qs[32 * c + l] & 15;
      k.q[64 * c + 32 + l] = b.qs[32 * c + l] >> 4;
    }
  for (int j = 0; j < 8; ++j) {  // 32-element sub-block j covers 16-element groups 2j, 2j+1
    uint8_t sc, m;
    get_scale_min_k4(j, b.scales, sc, m);
    k.scale[2 * j] = k.scale[2 * j + 1] = sc;
    k.min[2 * j] = k.min[2 * j + 1] = m;
  }
}

void encode_block(const float* x, BlockQ4_K& y) {
  uint8_t L[kQK_K];
  quantize_k4_sub_blocks(x, 15, -1.0f, 20, y.d, y.dmin, y.scales, L);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) y.qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

void encode(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
            std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK_K;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb * kBytes)));
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ4_K y;
    encode_block(src + b * kQK_K, y);
    std::memcpy(tensors[0].data() + b * kBytes, &y, sizeof y);
  }
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  kquant_dequant(w, r0, r1, out, unpack, kBytes, true);
}
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  lane_order_gemv(w, act, r0, r1, y, unpack, kBytes, true);
}
std::vector<double> bounds(const QWeight& w, const uint8_t* act, int64_t m) {
  return kquant_gemv_bounds(w, act, m, unpack, kBytes);
}
std::vector<double> rms_terms(const QWeight& w, const uint8_t* act, int64_t m) {
  return kquant_gemv_rms_terms(w, act, m, unpack, kBytes);
}

}  // namespace

Format q4_K_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode;
  f.gemv_rounding_depth = kquant_rounding_depth;
  f.gemv_bounds = bounds;
  f.gemv_rms_terms = rms_terms;
  return f;
}

}  // namespace qb::ggml

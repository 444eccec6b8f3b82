// BitNet golden references (specs/bitnet.md 2-5): each format's ternary matrix, its float decode
// and the GEMV as BitNet runs it (exact integer dot, fixed fp32 epilogue). Compiled with
// -ffp-contract=off.
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/bitnet/bitnet.h"
#include "reference/bitnet/layouts.h"

namespace qb::bitnet {

void ternary_row(const qb_weight* w, int64_t r, int8_t* out) {
  const std::string_view id = w->format;
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  if (id == "bitnet_hf") return hf_row(data, w->rows, w->cols, r, out);
  if (id == "bitnet_i2_s") return i2s_row(data, w->cols, r, 128, out);
  if (id == "bitnet_i2_s_arm") return i2s_row(data, w->cols, r, 64, out);
  if (id == "bitnet_tl1") return tl1_row(data, w->rows, w->cols, {w->params[0], w->params[1], w->params[2], 256 / w->params[2]}, r, out);
  if (id == "bitnet_tl2") return tl2_row(data, w->rows, w->cols, {w->params[0], w->params[1], 32, 6}, r, out);
  if (id == "bitnet_gpu_int2") return gpu_int2_row(data, w->cols, r, out);
  throw std::invalid_argument("bitnet: '" + std::string(id) + "' is not a BitNet format");
}

namespace {

// The output rows a call for [r0, r1) covers: those rows, or all rows of bitnet_hf's packed rows
// [r0, r1) (Format::row_bands).
template <typename F>
void for_call_rows(const qb_weight* w, int64_t r0, int64_t r1, F&& row) {
  if (std::string_view(w->format) != "bitnet_hf") {
    for (int64_t r = r0; r < r1; ++r) row(r);
    return;
  }
  const int64_t p = (w->rows + kHfBands - 1) / kHfBands;
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t k = 0; k < kHfBands && i + k * p < w->rows; ++k) row(i + k * p);
}

// The per-tensor scale and how T meets it, per format.
struct WeightScale {
  float value;
  bool divide;
};
WeightScale weight_scale(const qb_weight* w) {
  const std::string_view id = w->format;
  if (id == "bitnet_hf") return {bf16_scale(w), w->params[0] == static_cast<int64_t>(ScaleRule::divide)};
  if (id == "bitnet_i2_s" || id == "bitnet_i2_s_arm") return {i2s_scale(w), false};
  if (id == "bitnet_gpu_int2") return {bf16_scale(w), false};
  return {f32_scale(w), false};  // TL1, TL2
}

void dequant_ref(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const WeightScale ws = weight_scale(w);
  std::vector<int8_t> t(static_cast<std::size_t>(w->cols));
  for_call_rows(w, r0, r1, [&](int64_t r) {
    ternary_row(w, r, t.data());
    for (int64_t c = 0; c < w->cols; ++c) {
      const auto v = static_cast<float>(t[c]);
      out[r * w->cols + c] = ws.divide ? v / ws.value : v * ws.value;
    }
  });
}

void inner_ref(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  std::vector<int8_t> t(static_cast<std::size_t>(w->cols));
  for_call_rows(w, r0, r1, [&](int64_t r) {
    ternary_row(w, r, t.data());
    for (int64_t c = 0; c < w->cols; ++c) out[r * w->cols + c] = static_cast<float>(t[c]);
  });
}

// One vector (m = 1): D per row in int64, which the epilogue's int32 holds for any cols below 2^23.
void gemv_ref(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  if (w->cols >= (int64_t{1} << 23)) throw std::invalid_argument("bitnet: cols >= 2^23 would overflow the int32 dot");
  const std::string_view id = w->format;
  const WeightScale ws = weight_scale(w);
  const float s = act_scale(act);
  const int32_t sum_q = act_sum(act);
  const int8_t* q = act_q(act);
  std::vector<int8_t> t(static_cast<std::size_t>(w->cols));
  for_call_rows(w, r0, r1, [&](int64_t r) {
    ternary_row(w, r, t.data());
    int64_t d = 0;
    for (int64_t c = 0; c < w->cols; ++c) d += static_cast<int64_t>(t[c]) * q[c];
    const auto d32 = static_cast<int32_t>(d);
    float v;
    if (id == "bitnet_i2_s" || id == "bitnet_i2_s_arm")
      v = epilogue_i2s(d32, sum_q, s, ws.value);
    else if (id == "bitnet_gpu_int2")
      v = epilogue_gpu(d32, s, ws.value);
    else if (ws.divide)
      v = epilogue_divide(d32, s, ws.value);
    else
      v = epilogue_multiply(d32, s, ws.value);
    y[r] = v;
  });
}

}  // namespace

void set_references(Format& f) {
  f.dequant_ref = dequant_ref;
  f.inner_ref = inner_ref;
  f.gemv_ref = gemv_ref;
}

}  // namespace qb::bitnet

// BitNet b1.58 ternary weights (specs/bitnet.md): the formats, their stored tensors, the int8
// activation encodings, and the vocabulary the references, the x86 kernels, the importer and the
// model-directory reader share.
//
// A weight is the logical W [rows = out_features, cols = in_features] of a ternary matrix T and
// one per-tensor scale. Registry formats (stored tensors in layout order):
//   bitnet_hf        weight U8 [ceil(rows/4), cols], weight_scale BF16 [1]   (spec 2)
//                    params {"scale_rule": "multiply" | "divide"} (default multiply, spec 2.1);
//                    kHfBands bands (Format::row_bands): kernel calls take packed-row ranges
//   bitnet_i2_s      weight U8 [rows*cols/4 + 32] (x86 canonical, 128-element blocks; f32 scale
//                    in the tail), cols % 128 == 0                           (spec 3)
//   bitnet_i2_s_arm  the same bytes in the ARM layout (64-element blocks), cols % 64 == 0
//   bitnet_tl1       weight U8 [rows*cols/4], weight_scale F32 [1]; params {"BM", "BK", "bm"} (spec 4.1)
//   bitnet_tl2       weight U8 [tl2_bytes], weight_scale F32 [1]; params {"BM", "BK"} (bm = 32, spec 4.2)
//   bitnet_gpu_int2  weight I8 [rows, cols/4], weight_scale BF16 [1], rows % 16, cols % 128 (spec 5)
//
// Codes: every 2-bit field decodes as code - 1 (HF, I2_S: 0 -> -1, 1 -> 0, 2 -> +1, and 3 -> +2,
// never written, decoded as upstream's unpack and kernels do) or code - 2 (GPU). TL1/TL2 nibbles
// outside their range are refused by validate_stored.
//
// GEMV (spec 3.1, 6): x is quantized to int8 with one per-vector scale s (the activation
// encodings below), the integer dot D = sum_k T[r][k] q[k] is exact (int32; no kernel may wrap,
// unlike upstream's int16 AVX2 sums), and the float epilogue is fixed per format, so every correct
// kernel gives the same bits: the bound is 0.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "harness/family.h"
#include "harness/registry.h"
#include "reference/common/half.h"

namespace qb::bitnet {

// bitnet_hf's packed byte holds rows i, i + P, i + 2P, i + 3P (Format::row_bands).
constexpr int64_t kHfBands = 4;

// Activation bytes (all three encodings): f32 scale s at byte 0, int32 sum of q at byte 4, then
// cols int8 q at byte 8. m vectors lie back to back, act_bytes(cols) apart.
inline constexpr int64_t kActHeader = 8;
inline std::size_t act_bytes(int64_t cols) { return static_cast<std::size_t>(kActHeader + cols); }
inline float act_scale(const uint8_t* act) {
  float s;
  std::memcpy(&s, act, 4);
  return s;
}
inline int32_t act_sum(const uint8_t* act) {
  int32_t s;
  std::memcpy(&s, act + 4, 4);
  return s;
}
inline const int8_t* act_q(const uint8_t* act) { return reinterpret_cast<const int8_t*>(act + kActHeader); }

// bitnet.cpp quantize_row_i8_s (I2_S): s = (float)(127 / max(1e-5, max|x|)) in double,
// q = clamp(nearest_int(x * s), -128, 127) with an fp32 product, half to even.
const ActivationFormat& i8_s_activation();
// transformers BitLinear.activation_quant (HF packed, GPU): s = 127.f / max(max|x|, 1e-5f) in fp32,
// q = clamp(round_half_even(x * s), -128, 127).
const ActivationFormat& i8_torch_activation();
// TL1/TL2 kernels: s = 127.f / max|x| in fp32 (no floor), q = round_half_even(x * s), no clamp;
// all-zero x (s = +Inf) gives q = 0 (ARM's vcvtnq of NaN).
const ActivationFormat& i8_lut_activation();

enum class ScaleRule { multiply = 0, divide = 1 };

// Parsed params (throw std::invalid_argument naming the field).
ScaleRule scale_rule_of(const nlohmann::json& params);
// Tile parameters of a TL kernel config (spec 4): by columns per LUT step (TL1 256/bm; TL2 6).
struct TileParams {
  int64_t BM = 0, BK = 0, bm = 0, by = 0;
};
TileParams tl1_params(const nlohmann::json& params, int64_t rows, int64_t cols);
TileParams tl2_params(const nlohmann::json& params, int64_t rows, int64_t cols);
// Bytes of a TL2 weight as the converter pads it: (K-256)*M/3*5/8 + 256*M/2*4/8, C integer
// arithmetic left to right (spec 4.2).
int64_t tl2_bytes(int64_t rows, int64_t cols);

// I2_S: bytes of packed codes before the 32-byte tail, and the tail's f32 scale.
inline int64_t i2s_code_bytes(int64_t rows, int64_t cols) { return rows * cols / 4; }
inline float i2s_scale(const qb_weight* w) {
  float s;
  std::memcpy(&s, static_cast<const uint8_t*>(w->tensors[0].data) + i2s_code_bytes(w->rows, w->cols), 4);
  return s;
}
inline float bf16_scale(const qb_weight* w) {
  uint16_t h;
  std::memcpy(&h, w->tensors[1].data, 2);
  return bits_to_f32(static_cast<uint32_t>(h) << 16);
}
inline float f32_scale(const qb_weight* w) {
  float s;
  std::memcpy(&s, w->tensors[1].data, 4);
  return s;
}

// The float epilogues (spec 2.1, 3.1, 4, 5): D is the exact integer dot sum T q, s the activation
// scale, ws the weight scale. Evaluated in this order in fp32 by every kernel.
inline float epilogue_multiply(int32_t d, float s, float ws) { return static_cast<float>(d) / s * ws; }
inline float epilogue_divide(int32_t d, float s, float ws) { return static_cast<float>(d) / (s * ws); }
// bitnet.cpp I2_S: the kernel sums code*q = D + act_sum, then ((float)sumi - (float)act_sum) / s * scale.
inline float epilogue_i2s(int32_t d, int32_t sum_q, float s, float scale) {
  return (static_cast<float>(d + sum_q) - static_cast<float>(sum_q)) / s * scale;
}
// BitNet GPU: bf16((float)D / s * ws), widened back to fp32.
inline float epilogue_gpu(int32_t d, float s, float ws) {
  return bits_to_f32(static_cast<uint32_t>(f32_to_bf16_rne(epilogue_multiply(d, s, ws))) << 16);
}

// The ternary row r of any BitNet weight (values -1..+2 as int8; cols entries): what the inner
// op writes as floats and every reference GEMV dots with q.
void ternary_row(const qb_weight* w, int64_t r, int8_t* out);

std::vector<Format> bitnet_formats();
Family bitnet_family();

// Shape suite (reference/bitnet/suites.cpp): BitNet b1.58 2B-4T's seven linear layers, 30 blocks.
std::vector<LayerSpec> bitnet_2b4t_layers();

// Hugging Face checkpoints (reference/bitnet/model.cpp; spec 1, 2, 2.1): quantization_config.
// quant_method "bitnet"; every <module>.weight U8 [ceil(out/4), in] + <module>.weight_scale
// BF16 [1] is a bitnet_hf layer, out from config.json's sizes per projection name (q/k/v/o/gate/
// up/down_proj; 4 x packed rows for another name), params.scale_rule from linear_class
// ("autobitlinear": multiply; "bitlinear" or absent: divide). config_layers: the layers
// config.json's sizes declare (num_hidden_layers x the seven projections), for bench --model
// CONFIG. Both throw FileError naming the file and the field.
std::vector<ModelLayer> recognize_model(const ModelFiles& files);
std::vector<LayerSpec> config_layers(const nlohmann::ordered_json& quant_config, const std::string& file);

// bitnet.cpp's GGUF files (reference/bitnet/gguf_dialect.cpp, spec 3, 4): architecture bitnet or
// bitnet-b1.58 with file type I2_S (40), TL1 (38) or TL2 (39) read I2_S = 36, TL1 = 38 and
// TL2 = 39 as bitnet_i2_s, bitnet_tl1 and bitnet_tl2; a TL weight's scale is its <name>_scale
// tensor and its tile sizes the kernel_config.ini beside the file.
GgufDialect gguf_dialect();

}  // namespace qb::bitnet

// MLC-LLM group quantization (specs/mlc.md): the presets, the stored tensors, and the vocabulary
// the reference decoder, the x86 kernels, the importer and the tensor-cache reader share.
//
// One registry format per group preset, id "mlc_<preset>" (mlc_q4f16_1, ...). A weight is the
// logical W [rows = N = out_features, cols = K = in_features]; K need not be a multiple of the
// group size (the last group is padded, spec 2.2). Stored tensors (layout order):
//   NK presets (_1, _2): q_weight U32 [N, nw], q_scale <model dtype> [N, ng]
//   KN presets (_0):     q_weight U32 [nw, N], q_scale <model dtype> [ng, N]
// with ng = ceil(K / gs), nw = ng * spg. Code k of a row sits in word k / epw at bit
// (k % epw) * bits, LSB first (spec 2.2); int3 words leave bits 30-31 unused (ignored here).
// No params ({}); kernels take no typed parameters.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/family.h"
#include "harness/registry.h"
#include "reference/common/half.h"

namespace qb::mlc {

enum class ModelDType { f16, bf16, f32 };

// A group preset (spec 1, as upstream's GroupQuantize.__post_init__ derives it).
struct Preset {
  const char* name;  // upstream's name, e.g. "q4f16_1"
  int bits;          // 3 or 4
  int epw;           // codes per uint32 word: 32 / bits
  int gs;            // group size
  int spg;           // words per group: gs / epw
  int max_int;       // zero point 2^(bits-1) - 1
  ModelDType dtype;  // model dtype = scale dtype
  bool kn;           // layout KN (_0 presets) instead of NK
  bool quantize_embedding, quantize_final_fc;
};
// Every group preset, in spec 1's order: name, bits, epw, gs, spg, max_int, dtype, KN, quantize
// embedding / final fc. Inline (as the rest kernels use), so a kernel built alone links.
inline const std::vector<Preset>& presets() {
  static const std::vector<Preset> all{
      {"q3f16_0", 3, 10, 40, 4, 3, ModelDType::f16, true, true, true},
      {"q3f16_1", 3, 10, 40, 4, 3, ModelDType::f16, false, true, true},
      {"q4f16_0", 4, 8, 32, 4, 7, ModelDType::f16, true, true, true},
      {"q4f16_1", 4, 8, 32, 4, 7, ModelDType::f16, false, true, true},
      {"q4bf16_0", 4, 8, 32, 4, 7, ModelDType::bf16, true, true, true},
      {"q4bf16_1", 4, 8, 32, 4, 7, ModelDType::bf16, false, true, true},
      {"q4f32_1", 4, 8, 32, 4, 7, ModelDType::f32, false, true, true},
      {"q4f16_2", 4, 8, 32, 4, 7, ModelDType::f16, false, false, false},
  };
  return all;
}
// By upstream name; null when none.
inline const Preset* find_preset(const std::string& name) {
  for (const Preset& p : presets())
    if (name == p.name) return &p;
  return nullptr;
}
// The preset of format "mlc_<name>"; throws std::invalid_argument for any other id.
inline const Preset& preset_of_format(const std::string& id) {
  if (id.rfind("mlc_", 0) == 0)
    if (const Preset* p = find_preset(id.substr(4))) return *p;
  throw std::invalid_argument("mlc: '" + id + "' is not an MLC group-quantization format");
}
std::string format_id(const Preset& p);
DType scale_dtype(const Preset& p);

// A weight as references and kernels read it (stored bytes carry no alignment promise: memcpy).
struct Args {
  const Preset* p = nullptr;
  int64_t n = 0, k = 0;  // rows (out), cols (in)
  int64_t ng = 0, nw = 0;
  const uint8_t* q_weight = nullptr;
  const uint8_t* q_scale = nullptr;

  uint32_t word(int64_t row, int64_t w) const {
    uint32_t v;
    std::memcpy(&v, q_weight + 4 * (p->kn ? w * n + row : row * nw + w), 4);
    return v;
  }
  // Code of element kk of output row `row` (spec 2.2).
  uint32_t code(int64_t row, int64_t kk) const {
    return (word(row, kk / p->epw) >> ((kk % p->epw) * p->bits)) & ((1u << p->bits) - 1u);
  }
  // Scale of group g of row `row`, widened exactly to fp32.
  float scale(int64_t row, int64_t g) const {
    const int64_t i = p->kn ? g * n + row : row * ng + g;
    if (p->dtype == ModelDType::f32) {
      float s;
      std::memcpy(&s, q_scale + 4 * i, 4);
      return s;
    }
    uint16_t h;
    std::memcpy(&h, q_scale + 2 * i, 2);
    return p->dtype == ModelDType::f16 ? fp16_to_f32(h) : bits_to_f32(static_cast<uint32_t>(h) << 16);
  }
};
// A weight of `p` at rows x cols over the stored bytes.
inline Args make_args(const Preset& p, int64_t rows, int64_t cols, const void* q_weight, const void* q_scale) {
  Args a;
  a.p = &p;
  a.n = rows;
  a.k = cols;
  a.ng = (cols + p.gs - 1) / p.gs;
  a.nw = a.ng * p.spg;
  a.q_weight = static_cast<const uint8_t*>(q_weight);
  a.q_scale = static_cast<const uint8_t*>(q_scale);
  return a;
}
// From the prepared weight (kernels): tensors in layout order, the preset from w->format.
inline Args args_of(const qb_weight* w) {
  return make_args(preset_of_format(w->format), w->rows, w->cols, w->tensors[0].data, w->tensors[1].data);
}
Args args_of(const QWeight& w);

// One fp32 value rounded to the model dtype and widened back: fp16 RNE with subnormals (NaN keeps
// sign and top payload), bf16 by TVM's (u + 0x7FFF + lsb) >> 16, fp32 unchanged (spec 2.3).
inline float to_model_dtype(const Preset& p, float v) {
  switch (p.dtype) {
    case ModelDType::f16:
      return fp16_to_f32(f32_to_fp16_rne(v));
    case ModelDType::bf16:
      return bits_to_f32(static_cast<uint32_t>(f32_to_bf16_rne(v)) << 16);
    case ModelDType::f32:
      break;
  }
  return v;
}

// The exact decode of one element: (code - max_int) * scale, rounded once to the model dtype
// (spec 2.3), widened to fp32.
float decode(const Preset& p, uint32_t code, float scale);

// Registered reference functions (Format fields of the same role).
void dequant_ref(const qb_weight* w, int64_t r0, int64_t r1, float* out);
void gemv_ref(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y);
std::vector<double> gemv_error_bounds(const QWeight& w, const uint8_t* act, int64_t m);  // [m][rows]
std::vector<double> gemv_rms_terms(const QWeight& w, const uint8_t* act, int64_t m);     // [m][rows]
int64_t gemv_rounding_depth(int64_t k);
std::vector<std::vector<uint8_t>> random_stored(const Format& f, int64_t rows, int64_t cols,
                                                const nlohmann::json& params, uint64_t seed);

// The quantizer as `mlc_llm convert_weight` runs it on a CPU (LLVM target, spec 2.4): src is
// W [rows][cols] in fp32 holding model-dtype values; writes q_weight and q_scale in `f`'s layout.
void encode(const Preset& p, const float* src, int64_t rows, int64_t cols, std::vector<std::vector<uint8_t>>& tensors);

// Shape suites (reference/mlc/suites.cpp): the seed cache's model, and Llama-2-7B in q4f16_1.
std::vector<LayerSpec> seed_cache_layers();
std::vector<LayerSpec> llama2_7b_q4f16_1_layers();

std::vector<Format> mlc_formats();
Family mlc_family();

}  // namespace qb::mlc

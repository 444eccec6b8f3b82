// MLC registry entries: the preset table (specs/mlc.md section 1), stored tensors (section 2.1)
// and one format per group preset.
#include <stdexcept>
#include <utility>

#include "reference/common/half.h"
#include "reference/mlc/mlc.h"

namespace qb::mlc {

const std::vector<Preset>& presets() {
  // name, bits, epw, gs, spg, max_int, dtype, KN, quantize embedding / final fc (spec 1).
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

const Preset* find_preset(const std::string& name) {
  for (const Preset& p : presets())
    if (name == p.name) return &p;
  return nullptr;
}

std::string format_id(const Preset& p) { return std::string("mlc_") + p.name; }

const Preset& preset_of_format(const std::string& id) {
  if (id.rfind("mlc_", 0) == 0)
    if (const Preset* p = find_preset(id.substr(4))) return *p;
  throw std::invalid_argument("mlc: '" + id + "' is not an MLC group-quantization format");
}

DType scale_dtype(const Preset& p) {
  return p.dtype == ModelDType::f16 ? DType::F16 : p.dtype == ModelDType::bf16 ? DType::BF16 : DType::F32;
}

float Args::scale(int64_t row, int64_t g) const {
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

namespace {

std::pair<int64_t, int64_t> groups_words(const Preset& p, int64_t cols) {
  const int64_t ng = (cols + p.gs - 1) / p.gs;
  return {ng, ng * p.spg};
}

Args make_args(const Preset& p, int64_t rows, int64_t cols, const void* q_weight, const void* q_scale) {
  Args a;
  a.p = &p;
  a.n = rows;
  a.k = cols;
  std::tie(a.ng, a.nw) = groups_words(p, cols);
  a.q_weight = static_cast<const uint8_t*>(q_weight);
  a.q_scale = static_cast<const uint8_t*>(q_scale);
  return a;
}

template <std::size_t I>
void encode_preset(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
                   std::vector<std::vector<uint8_t>>& tensors) {
  encode(presets()[I], src, rows, cols, tensors);
}

template <std::size_t... I>
constexpr auto encoders(std::index_sequence<I...>) {
  return std::array<void (*)(const float*, int64_t, int64_t, const nlohmann::json&, std::vector<std::vector<uint8_t>>&),
                    sizeof...(I)>{encode_preset<I>...};
}

}  // namespace

Args args_of(const qb_weight* w) {
  return make_args(preset_of_format(w->format), w->rows, w->cols, w->tensors[0].data, w->tensors[1].data);
}

Args args_of(const QWeight& w) {
  return make_args(preset_of_format(w.format->id), w.rows, w.cols, w.tensor("q_weight").data, w.tensor("q_scale").data);
}

std::vector<Format> mlc_formats() {
  static constexpr std::size_t kPresets = 8;
  static const auto enc = encoders(std::make_index_sequence<kPresets>{});
  if (presets().size() != kPresets) throw std::logic_error("mlc: the encoder table and the preset table differ in size");
  std::vector<Format> out;
  for (std::size_t i = 0; i < kPresets; ++i) {
    const Preset& p = presets()[i];
    Format f;
    f.id = format_id(p);
    f.family = "mlc";
    f.layout = [&p](int64_t rows, int64_t cols, const nlohmann::json& params) {
      if (!params.is_object() || !params.empty())
        throw std::invalid_argument("mlc: " + std::string(p.name) + " takes no params, got " + params.dump());
      if (rows <= 0) throw std::invalid_argument("mlc: rows (out_features) = " + std::to_string(rows) + " is not positive");
      if (cols <= 0) throw std::invalid_argument("mlc: cols (in_features) = " + std::to_string(cols) + " is not positive");
      const auto [ng, nw] = groups_words(p, cols);
      const DType sd = scale_dtype(p);
      if (p.kn) return std::vector<StoredTensorSpec>{{"q_weight", DType::U32, {nw, rows}}, {"q_scale", sd, {ng, rows}}};
      return std::vector<StoredTensorSpec>{{"q_weight", DType::U32, {rows, nw}}, {"q_scale", sd, {rows, ng}}};
    };
    f.activation = &f32_activation();
    f.dequant_ref = dequant_ref;
    f.gemv_ref = gemv_ref;
    f.gemv_bounds = gemv_error_bounds;
    f.gemv_rms_terms = gemv_rms_terms;
    f.gemv_rounding_depth = gemv_rounding_depth;
    f.encode_ref = enc[i];
    f.random_stored = random_stored;
    // Sweeps in whole words, most of them not whole groups: the padded last group (spec 2.2)
    // is in every shape family.
    f.col_granule = p.epw;
    if (p.dtype == ModelDType::f16) f.fp16_scale_tensors = {"q_scale"};
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace qb::mlc

// MLC registry entries: stored tensors (specs/mlc.md section 2.1)
// and one format per group preset.
#include <stdexcept>
#include <array>
#include <utility>

#include "reference/mlc/mlc.h"

namespace qb::mlc {

std::string format_id(const Preset& p) { return std::string("mlc_") + p.name; }

DType scale_dtype(const Preset& p) {
  return p.dtype == ModelDType::f16 ? DType::F16 : p.dtype == ModelDType::bf16 ? DType::BF16 : DType::F32;
}

namespace {

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
      const Args a = make_args(p, rows, cols, nullptr, nullptr);
      const int64_t ng = a.ng, nw = a.nw;
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

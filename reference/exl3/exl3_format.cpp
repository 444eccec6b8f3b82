// EXL3 registry entry: stored tensors and their validation (specs/exl3.md section 1).
#include <cstring>
#include <stdexcept>
#include <string>

#include "harness/stored_check.h"

#include "reference/exl3/exl3.h"
#include "reference/exl3/random.h"

namespace qb::exl3 {
namespace {

Params parse_params(const nlohmann::json& params) {
  if (!params.is_object()) throw std::invalid_argument("exl3: params must be an object {\"bits\", \"codebook\"}");
  const auto bits = params.find("bits");
  if (bits == params.end() || !bits->is_number_integer() || bits->get<int64_t>() < 1 || bits->get<int64_t>() > 8)
    throw std::invalid_argument("exl3: params.bits must be an integer 1..8, got " +
                                (bits == params.end() ? std::string("nothing") : bits->dump()));
  const auto cb = params.find("codebook");
  const std::optional<Codebook> codebook =
      cb != params.end() && cb->is_string() ? codebook_from_name(cb->get<std::string>()) : std::nullopt;
  if (!codebook)
    throw std::invalid_argument("exl3: params.codebook must be \"3inst\", \"mcg\" or \"mul1\", got " +
                                (cb == params.end() ? std::string("nothing") : cb->dump()));
  return {static_cast<int>(bits->get<int64_t>()), *codebook};
}

// Both Hadamard sides work on whole 128-blocks; upstream pads every layer to that (spec 1.1).
void check_dims(int64_t rows, int64_t cols) {
  if (cols <= 0 || cols % 128 != 0)
    throw std::invalid_argument("exl3: cols (k, in_features) = " + std::to_string(cols) +
                                " is not a positive multiple of 128");
  if (rows <= 0 || rows % 128 != 0)
    throw std::invalid_argument("exl3: rows (n, out_features) = " + std::to_string(rows) +
                                " is not a positive multiple of 128");
}

std::vector<StoredTensorSpec> layout(int64_t rows, int64_t cols, const nlohmann::json& params) {
  const Params p = parse_params(params);
  check_dims(rows, cols);
  std::vector<StoredTensorSpec> specs{{"trellis", DType::I16, {cols / 16, rows / 16, 16 * p.bits}},
                                      {"suh", DType::F16, {cols}},
                                      {"svh", DType::F16, {rows}}};
  // The marker's presence selects the codebook; validate_stored checks its value (spec 1).
  if (p.codebook != Codebook::inst3) specs.push_back({std::string(codebook_name(p.codebook)), DType::I32, {}});
  return specs;
}

// Upstream never reads the marker's value, but a value other than the locked multiplier marks a
// model quantized before the lock (2025-10-12), which current upstream decodes wrongly too
// (spec 1 and note 5): refused in every container.
void validate_stored(const QWeight& w) {
  const Params p = params_of(w);
  if (p.codebook == Codebook::inst3) return;
  const std::string name(codebook_name(p.codebook));
  const TensorView& marker = w.tensor(name);
  if (!marker.data) return;
  uint32_t v;
  std::memcpy(&v, marker.data, sizeof v);
  const uint32_t want = p.codebook == Codebook::mcg ? kMcgMultiplier : kMul1Multiplier;
  if (v != want)
    throw StoredTensorError(name, "value", "holds " + std::to_string(v) + ", not the locked multiplier " + std::to_string(want) +
                                               " (a pre-lock model: current upstream decodes it wrongly too)");
}

}  // namespace

Params params_of(const QWeight& w) {
  check_dims(w.rows, w.cols);
  return parse_params(w.params);
}

std::vector<int64_t> kernel_params(const nlohmann::json& params) {
  const Params p = parse_params(params);
  return {p.bits, static_cast<int64_t>(p.codebook)};
}

Args args_of(const QWeight& w) {
  const Params p = params_of(w);
  Args a;
  a.K = p.bits;
  a.cb = p.codebook;
  a.k = w.cols;
  a.n = w.rows;
  a.trellis = w.tensor("trellis").data;
  a.suh.bytes = w.tensor("suh").data;
  a.svh.bytes = w.tensor("svh").data;
  return a;
}

Format exl3_format() {
  Format f;
  f.id = "exl3";
  f.family = "exl3";
  f.row_granule = 128;  // the output Hadamard mixes 128 rows
  f.layout = layout;
  f.validate_stored = validate_stored;
  f.activation = &f32_activation();
  f.dequant_ref = dequant_ref;
  f.inner_ref = inner_ref;
  f.gemv_ref = gemv_ref;
  f.gemv_ref_batches = true;
  f.kernel_params = kernel_params;
  f.random_stored = random_trellis_tensors;
  // Every trellis width with every codebook: each K has its own bit-window arithmetic.
  f.test_params.clear();
  for (int bits = 1; bits <= 8; ++bits)
    for (const char* cb : {"3inst", "mcg", "mul1"}) f.test_params.push_back({{"bits", bits}, {"codebook", cb}});
  f.dequant_bounds = dequant_error_bounds;
  f.gemv_bounds = gemv_error_bounds;
  f.gemv_rms_terms = gemv_rms_terms;
  f.fp16_scale_tensors = {"suh", "svh"};
  f.gemv_rounding_depth = gemv_rounding_depth;
  return f;
}

}  // namespace qb::exl3

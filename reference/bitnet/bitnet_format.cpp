// BitNet registry entries (specs/bitnet.md 2-6): params, stored tensors and their value checks,
// the three int8 activation encodings, the encoders and the random fills.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

#include "harness/stored_check.h"
#include "reference/bitnet/bitnet.h"
#include "reference/bitnet/layouts.h"

namespace qb::bitnet {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

void need(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("bitnet: " + what);
}

void no_params(const std::string& id, const nlohmann::json& params) {
  need(params.is_object() && params.empty(), id + " takes no params, got " + params.dump());
}

int64_t int_param(const nlohmann::json& params, const char* key) {
  need(params.contains(key) && params[key].is_number_integer(),
       std::string("params.") + key + " must be an integer (the kernel config's " + key + "), got " +
           (params.contains(key) ? params[key].dump() : "nothing"));
  return params[key].get<int64_t>();
}

void known_keys(const nlohmann::json& params, std::initializer_list<const char*> keys, const char* list) {
  need(params.is_object(), std::string("params must be an object {") + list + "}, got " + params.dump());
  for (const auto& [key, value] : params.items())
    need(std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; }),
         "params has an unknown key '" + key + "' (" + list + ")");
}

// --- activations (spec 3.1, 6) ---

void write_header(uint8_t* out, float s, const int8_t* q, int64_t cols) {
  int32_t sum = 0;
  for (int64_t i = 0; i < cols; ++i) sum += q[i];
  std::memcpy(out, &s, 4);
  std::memcpy(out + 4, &sum, 4);
}

float max_abs(const float* x, int64_t cols) {
  float m = 0;
  for (int64_t i = 0; i < cols; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

// Round half to even in fp32 (ggml's nearest_int: 1.5 * 2^23 added), valid for |v| < 2^22.
int32_t nearest_even(float v) {
  const float t = v + 12582912.0f;
  return static_cast<int32_t>(f32_to_bits(t) & 0x007FFFFFu) - 0x00400000;
}

int8_t clamp8(int32_t v) { return static_cast<int8_t>(std::clamp(v, -128, 127)); }

void quantize_i8_s(const float* x, int64_t cols, uint8_t* out) {
  const double mx = std::max(1e-5, static_cast<double>(max_abs(x, cols)));
  const auto s = static_cast<float>(127.0 / mx);
  auto* q = reinterpret_cast<int8_t*>(out + kActHeader);
  for (int64_t i = 0; i < cols; ++i) q[i] = clamp8(nearest_even(x[i] * s));
  write_header(out, s, q, cols);
}

void quantize_i8_torch(const float* x, int64_t cols, uint8_t* out) {
  const float s = 127.0f / std::max(max_abs(x, cols), 1e-5f);
  auto* q = reinterpret_cast<int8_t*>(out + kActHeader);
  for (int64_t i = 0; i < cols; ++i) q[i] = clamp8(nearest_even(x[i] * s));
  write_header(out, s, q, cols);
}

void quantize_i8_lut(const float* x, int64_t cols, uint8_t* out) {
  const float mx = max_abs(x, cols);
  const float s = 127.0f / mx;  // +Inf for an all-zero x
  auto* q = reinterpret_cast<int8_t*>(out + kActHeader);
  // |x * s| <= 127 (x*s rounds to at most 127 * (1 + 2^-23)): no clamp needed, none applied.
  for (int64_t i = 0; i < cols; ++i) q[i] = mx == 0 ? 0 : static_cast<int8_t>(nearest_even(x[i] * s));
  write_header(out, s, q, cols);
}

// What the kernels multiply: q / s (feeds reports, never an expectation).
void dequant_act(const uint8_t* act, int64_t cols, float* out) {
  const float s = act_scale(act);
  for (int64_t i = 0; i < cols; ++i) out[i] = static_cast<float>(act_q(act)[i]) / s;
}

// --- params ---

std::vector<int64_t> hf_kernel_params(const nlohmann::json& params) { return {static_cast<int64_t>(scale_rule_of(params))}; }
std::vector<int64_t> tl1_kernel_params(const nlohmann::json& params) {
  return {int_param(params, "BM"), int_param(params, "BK"), int_param(params, "bm")};
}
std::vector<int64_t> tl2_kernel_params(const nlohmann::json& params) { return {int_param(params, "BM"), int_param(params, "BK")}; }

void positive(int64_t rows, int64_t cols) {
  need(rows > 0, "rows (out_features) = " + str(rows) + " is not positive");
  need(cols > 0, "cols (in_features) = " + str(cols) + " is not positive");
}

// --- stored values ---

void check_nibbles(const QWeight& w, const char* what, int64_t begin, int64_t end, int max_nibble) {
  const TensorView& t = w.tensor("weight");
  if (!t.data) return;
  for (int64_t i = begin; i < end; ++i)
    for (int shift : {4, 0})
      if (((t.data[i] >> shift) & 15) > max_nibble)
        throw StoredTensorError("weight", "value",
                                std::string(what) + " nibble " + str((t.data[i] >> shift) & 15) + " at byte " + str(i) +
                                    " is above " + str(max_nibble) + " (the largest the converter writes)");
}

void validate_tl1(const QWeight& w) { check_nibbles(w, "TL1 pair", 0, w.rows * w.cols / 4, 8); }

void validate_tl2(const QWeight& w) {
  const TileParams t = tl2_params(w.params, w.rows, w.cols);
  const int64_t k3 = w.cols - w.cols % t.BK, two = tl2_two_part_offset(w.rows, k3);
  check_nibbles(w, "TL2 triple magnitude", 0, w.rows * k3 / 6, 13);
  check_nibbles(w, "TL2 two-part pair", two, two + w.rows * (w.cols % t.BK) / 4, 8);
}

// --- encoders: source holds T * one magnitude, as a converter has it after WeightQuant ---

// T as bitnet.cpp's quantize_i2_s reads it: |w| < 1e-6 is 0, otherwise the sign (spec 3).
std::vector<int8_t> ternary_of(const float* src, int64_t n) {
  std::vector<int8_t> t(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[i] = std::fabs(src[i]) < 1e-6f ? 0 : src[i] > 0 ? 1 : -1;
  return t;
}
float magnitude(const float* src, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(src[i])));
  return static_cast<float>(m);
}

std::vector<std::vector<uint8_t>> sized(const Format& f, int64_t rows, int64_t cols, const nlohmann::json& params) {
  std::vector<std::vector<uint8_t>> out;
  for (const StoredTensorSpec& s : f.layout(rows, cols, params)) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    out.emplace_back(static_cast<std::size_t>(n) * dtype_size(s.dtype));
  }
  return out;
}

void put_f32(std::vector<uint8_t>& b, std::size_t at, float v) { std::memcpy(b.data() + at, &v, 4); }
void put_bf16(std::vector<uint8_t>& b, float v) {
  const uint16_t h = f32_to_bf16_rne(v);
  std::memcpy(b.data(), &h, 2);
}

const Format& format_named(const char* id) {
  const Format* f = find_format(id);
  if (!f) throw std::logic_error(std::string("bitnet: format ") + id + " is not registered");
  return *f;
}

// weight_scale = max|w| (multiply) or its reciprocal (divide), rounded to bf16.
void encode_hf(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params, std::vector<std::vector<uint8_t>>& t) {
  t = sized(format_named("bitnet_hf"), rows, cols, params);
  hf_pack(ternary_of(src, rows * cols).data(), rows, cols, t[0].data());
  const float mag = magnitude(src, rows * cols);
  put_bf16(t[1], scale_rule_of(params) == ScaleRule::divide ? static_cast<float>(1.0 / mag) : mag);
}

// bitnet.cpp quantize_i2_s: codes, then max|w| (double, stored f32) at the tail; tail bytes 4..31
// are not written upstream (zero here).
template <int64_t QK>
void encode_i2s(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params, std::vector<std::vector<uint8_t>>& t) {
  t = sized(format_named(QK == 128 ? "bitnet_i2_s" : "bitnet_i2_s_arm"), rows, cols, params);
  i2s_pack(ternary_of(src, rows * cols).data(), rows, cols, QK, t[0].data());
  put_f32(t[0], static_cast<std::size_t>(i2s_code_bytes(rows, cols)), magnitude(src, rows * cols));
}

void encode_tl1(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params, std::vector<std::vector<uint8_t>>& t) {
  t = sized(format_named("bitnet_tl1"), rows, cols, params);
  tl1_pack(ternary_of(src, rows * cols).data(), rows, cols, tl1_params(params, rows, cols), t[0].data());
  put_f32(t[1], 0, magnitude(src, rows * cols));
}

void encode_tl2(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params, std::vector<std::vector<uint8_t>>& t) {
  t = sized(format_named("bitnet_tl2"), rows, cols, params);
  tl2_pack(ternary_of(src, rows * cols).data(), rows, cols, tl2_params(params, rows, cols), t[0].data());
  put_f32(t[1], 0, magnitude(src, rows * cols));
}

void encode_gpu(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params, std::vector<std::vector<uint8_t>>& t) {
  t = sized(format_named("bitnet_gpu_int2"), rows, cols, params);
  gpu_int2_pack(ternary_of(src, rows * cols).data(), rows, cols, t[0].data());
  put_bf16(t[1], magnitude(src, rows * cols));
}

// --- random fills: any ternary matrix (code 3 included where 2 bits hold it), a scale of real
// models' magnitude (2B-4T's weight_scale ~1.5), either sign ---

std::vector<std::vector<uint8_t>> random_stored(const Format& f, int64_t rows, int64_t cols, const nlohmann::json& params,
                                                uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto out = sized(f, rows, cols, params);
  const float scale = static_cast<float>((rng() & 1 ? -1.0 : 1.0) * std::exp(std::uniform_real_distribution<double>(-1, 1)(rng)));
  const std::string& id = f.id;
  if (id == "bitnet_hf" || id == "bitnet_i2_s" || id == "bitnet_i2_s_arm" || id == "bitnet_gpu_int2") {
    // Every bit pattern is a valid code: 2-bit fields take all four values.
    const std::size_t codes = id == "bitnet_hf" || id == "bitnet_gpu_int2" ? out[0].size()
                                                                          : static_cast<std::size_t>(i2s_code_bytes(rows, cols));
    for (std::size_t i = 0; i < codes; ++i) out[0][i] = static_cast<uint8_t>(rng());
    if (id == "bitnet_hf" || id == "bitnet_gpu_int2")
      put_bf16(out[1], scale);
    else
      put_f32(out[0], codes, scale);
    return out;
  }
  // TL1 / TL2: nibbles only in the converter's range, through the packer.
  std::vector<int8_t> t(static_cast<std::size_t>(rows * cols));
  for (int8_t& v : t) v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
  if (id == "bitnet_tl1")
    tl1_pack(t.data(), rows, cols, tl1_params(params, rows, cols), out[0].data());
  else
    tl2_pack(t.data(), rows, cols, tl2_params(params, rows, cols), out[0].data());
  put_f32(out[1], 0, scale);
  return out;
}

std::vector<double> zero_bounds(const QWeight& w, const uint8_t*, int64_t m) {
  return std::vector<double>(static_cast<std::size_t>(m * w.rows), 0.0);
}
// Exact integer dot and a fixed epilogue: no rounding a kernel may choose.
int64_t rounding_depth(int64_t) { return 1; }

Format base(const char* id) {
  Format f;
  f.id = id;
  f.family = "bitnet";
  set_references(f);
  f.gemv_bounds = zero_bounds;
  f.gemv_rms_terms = zero_bounds;
  f.gemv_rounding_depth = rounding_depth;
  f.random_stored = random_stored;
  return f;
}

}  // namespace

const ActivationFormat& i8_s_activation() {
  static const ActivationFormat a{"i8_s", act_bytes, quantize_i8_s, dequant_act};
  return a;
}
const ActivationFormat& i8_torch_activation() {
  static const ActivationFormat a{"i8_absmax", act_bytes, quantize_i8_torch, dequant_act};
  return a;
}
const ActivationFormat& i8_lut_activation() {
  static const ActivationFormat a{"i8_lut", act_bytes, quantize_i8_lut, dequant_act};
  return a;
}

ScaleRule scale_rule_of(const nlohmann::json& params) {
  known_keys(params, {"scale_rule"}, "scale_rule");
  if (!params.contains("scale_rule")) return ScaleRule::multiply;
  const nlohmann::json& v = params["scale_rule"];
  if (v == "multiply") return ScaleRule::multiply;
  if (v == "divide") return ScaleRule::divide;
  throw std::invalid_argument("bitnet: params.scale_rule must be \"multiply\" or \"divide\", got " + v.dump());
}

TileParams tl1_params(const nlohmann::json& params, int64_t rows, int64_t cols) {
  known_keys(params, {"BM", "BK", "bm"}, "BM, BK, bm");
  TileParams t{int_param(params, "BM"), int_param(params, "BK"), int_param(params, "bm"), 0};
  need(t.bm == 32 || t.bm == 64, "TL1 params.bm = " + str(t.bm) + " (the kernels allow 32 or 64)");
  t.by = 256 / t.bm;
  need(t.BM > 0 && t.BM % t.bm == 0, "TL1 params.BM = " + str(t.BM) + " is not a positive multiple of bm = " + str(t.bm));
  need(t.BK > 0 && t.BK % t.by == 0, "TL1 params.BK = " + str(t.BK) + " is not a positive multiple of by = " + str(t.by));
  need(rows % t.BM == 0, "TL1 rows = " + str(rows) + " is not a multiple of params.BM = " + str(t.BM));
  need(cols % t.BK == 0, "TL1 cols = " + str(cols) + " is not a multiple of params.BK = " + str(t.BK));
  return t;
}

TileParams tl2_params(const nlohmann::json& params, int64_t rows, int64_t cols) {
  known_keys(params, {"BM", "BK"}, "BM, BK");
  TileParams t{int_param(params, "BM"), int_param(params, "BK"), 32, 6};
  need(t.BM > 0 && t.BM % 32 == 0, "TL2 params.BM = " + str(t.BM) + " is not a positive multiple of bm = 32");
  need(t.BK > 0 && t.BK % 24 == 0, "TL2 params.BK = " + str(t.BK) + " is not a positive multiple of 24");
  need(rows % t.BM == 0, "TL2 rows = " + str(rows) + " is not a multiple of params.BM = " + str(t.BM));
  need(cols % t.BK % 32 == 0, "TL2 cols % BK = " + str(cols % t.BK) + " (the two-part columns) is not a multiple of 32");
  return t;
}

int64_t tl2_bytes(int64_t rows, int64_t cols) { return (cols - 256) * rows / 3 * 5 / 8 + 256 * rows / 2 * 4 / 8; }

std::vector<Format> bitnet_formats() {
  std::vector<Format> out;

  Format hf = base("bitnet_hf");
  hf.layout = [](int64_t rows, int64_t cols, const nlohmann::json& params) {
    scale_rule_of(params);
    positive(rows, cols);
    return std::vector<StoredTensorSpec>{{"weight", DType::U8, {(rows + 3) / 4, cols}}, {"weight_scale", DType::BF16, {1}}};
  };
  hf.activation = &i8_torch_activation();
  hf.kernel_params = hf_kernel_params;
  hf.encode_ref = encode_hf;
  hf.col_granule = 1;
  hf.row_bands = kHfBands;
  hf.test_params = {nlohmann::json::object(), {{"scale_rule", "divide"}}};
  out.push_back(std::move(hf));

  for (const int64_t qk : {128, 64}) {
    Format f = base(qk == 128 ? "bitnet_i2_s" : "bitnet_i2_s_arm");
    f.layout = [qk, id = f.id](int64_t rows, int64_t cols, const nlohmann::json& params) {
      no_params(id, params);
      positive(rows, cols);
      need(cols % qk == 0, id + " cols = " + str(cols) + " is not a multiple of its " + str(qk) + "-element block");
      return std::vector<StoredTensorSpec>{{"weight", DType::U8, {i2s_code_bytes(rows, cols) + 32}}};
    };
    f.activation = &i8_s_activation();
    f.encode_ref = qk == 128 ? encode_i2s<128> : encode_i2s<64>;
    f.col_granule = qk;
    out.push_back(std::move(f));
  }

  Format tl1 = base("bitnet_tl1");
  tl1.layout = [](int64_t rows, int64_t cols, const nlohmann::json& params) {
    positive(rows, cols);
    tl1_params(params, rows, cols);
    return std::vector<StoredTensorSpec>{{"weight", DType::U8, {rows * cols / 4}}, {"weight_scale", DType::F32, {1}}};
  };
  tl1.validate_stored = validate_tl1;
  tl1.activation = &i8_lut_activation();
  tl1.kernel_params = tl1_kernel_params;
  tl1.encode_ref = encode_tl1;
  tl1.row_granule = 128;  // every test_params' BM divides it
  tl1.col_granule = 128;
  tl1.test_params = {{{"BM", 64}, {"BK", 128}, {"bm", 32}}, {{"BM", 128}, {"BK", 64}, {"bm", 64}}};
  out.push_back(std::move(tl1));

  Format tl2 = base("bitnet_tl2");
  tl2.layout = [](int64_t rows, int64_t cols, const nlohmann::json& params) {
    positive(rows, cols);
    const TileParams t = tl2_params(params, rows, cols);
    const int64_t k3 = cols - cols % t.BK, data = tl2_two_part_offset(rows, k3) + rows * (cols % t.BK) / 4;
    const int64_t padded = tl2_bytes(rows, cols);
    need(padded >= data, "TL2 at " + str(rows) + "x" + str(cols) + ": the converter's padded size " + str(padded) +
                             " is below the " + str(data) + " data bytes (it assumes cols >= 256)");
    return std::vector<StoredTensorSpec>{{"weight", DType::U8, {padded}}, {"weight_scale", DType::F32, {1}}};
  };
  tl2.validate_stored = validate_tl2;
  tl2.activation = &i8_lut_activation();
  tl2.kernel_params = tl2_kernel_params;
  tl2.encode_ref = encode_tl2;
  tl2.row_granule = 32;
  tl2.col_granule = 288;  // 3 BK: at least 256 columns, which the converter's padding formula assumes
  tl2.test_params = {{{"BM", 32}, {"BK", 96}}};
  out.push_back(std::move(tl2));

  Format gpu = base("bitnet_gpu_int2");
  gpu.layout = [](int64_t rows, int64_t cols, const nlohmann::json& params) {
    no_params("bitnet_gpu_int2", params);
    positive(rows, cols);
    need(rows % 16 == 0, "bitnet_gpu_int2 rows = " + str(rows) + " is not a multiple of 16 (the kernel's row tile)");
    need(cols % 128 == 0, "bitnet_gpu_int2 cols = " + str(cols) + " is not a multiple of 128 (the kernel's k step)");
    return std::vector<StoredTensorSpec>{{"weight", DType::I8, {rows, cols / 4}}, {"weight_scale", DType::BF16, {1}}};
  };
  gpu.activation = &i8_torch_activation();
  gpu.encode_ref = encode_gpu;
  gpu.row_granule = 16;
  gpu.col_granule = 128;
  out.push_back(std::move(gpu));
  return out;
}

}  // namespace qb::bitnet

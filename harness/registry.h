// The one registry: formats (geometry, stored tensors, reference decoder/encoder/GEMV, activation
// quantizer) and kernel variants (format, op, ISA requirement, function). Dispatch, tests,
// `verify` and `bench` all read these lists; nothing else enumerates kernels.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/dtype.h"
#include "harness/qb_plugin.h"
#include "harness/qweight.h"

namespace qb {

// Kernels (references included) take the prepared weight of harness/qb_plugin.h and write rows
// [row_begin, row_end) of the full output. They run single-threaded: the harness splits rows over
// threads, so a kernel's result never depends on the thread count.
using DequantFn = qb_dequant_fn;
using GemvFn = qb_gemv_fn;  // m vectors; called with m = 1 unless the variant batches
using Dequant16Fn = qb_dequant16_fn;  // Op::dequant_f16 / Op::dequant_bf16

struct StoredTensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;

  std::size_t bytes() const;  // the element count times the dtype's size
};

// How a GEMV input is represented when it reaches the kernel: quantized to int8 blocks with
// scales, int8 with a per-tensor scale, or kept in fp32 (the family's format decides).
struct ActivationFormat {
  std::string id;  // the activation encoding's name, as report lines print it
  std::size_t (*bytes)(int64_t cols);
  // Throws std::invalid_argument when cols does not fit the activation's block size.
  void (*quantize)(const float* x, int64_t cols, uint8_t* out);
  // Exact values the kernels multiply: feeds the error bound, never the expectation.
  void (*dequant)(const uint8_t* act, int64_t cols, float* out);
  // Block geometry and fp16 scale fields, where verify plants NaN/Inf/subnormal activation
  // scales (0: not a block encoding).
  int64_t block_bytes = 0;
  std::vector<int64_t> fp16_scale_offsets = {};
};

// GEMV input kept in fp32, for formats whose kernels take float activations.
const ActivationFormat& f32_activation();

struct Format {
  std::string id;      // registry id, as in fixture metadata; unique across families
  std::string family;  // the id of the family that registers it (harness/family.h)
  int64_t block_elems = 0;  // elements per block along a row (0 where the format is not row blocks)
  int64_t block_bytes = 0;
  // Output rows a kernel call covers come in multiples of this (128 where an output rotation
  // mixes 128 rows); the harness splits rows over threads on these boundaries.
  int64_t row_granule = 1;
  // Stored rows that interleave this many bands: stored unit u (a packed row) holds output rows
  // u, u + P, ..., u + (row_bands - 1) P, P = ceil(rows / row_bands). Kernel calls of such a format
  // take unit ranges: a call for [u0, u1) writes output rows b P + u for every band b and u in
  // [u0, u1) below rows (call_extent below). So threads split the units and each reads only its
  // own bytes; a split of the rows would make every thread stream the whole weight.
  int64_t row_bands = 1;
  // The input dimension the tests sweep comes in multiples of this (0: block_elems, or row_granule
  // for formats without row blocks): a format whose params are rules over cols (an allocation of groups, say)
  // states the smallest unit its test_params all fit.
  int64_t col_granule = 0;
  // Byte offsets of fp16 scale fields inside a block: where tests plant NaN/Inf/subnormal scales.
  std::vector<int64_t> fp16_scale_offsets;
  // Stored fp16 tensors that are all scales (per-row or per-column scale vectors): where verify plants special values.
  std::vector<std::string> fp16_scale_tensors;
  // Stored tensors for a weight of this shape and params; throws std::invalid_argument naming
  // the offending dimension or parameter.
  std::function<std::vector<StoredTensorSpec>(int64_t rows, int64_t cols, const nlohmann::json& params)>
      layout;
  // Constraints on stored values beyond names, dtypes and shapes (a marker holding its locked
  // constant, say), applied by harness/stored_check.h to every container alike; throws
  // StoredTensorError naming the tensor. Tensors without data are skipped. Null: any bytes are valid.
  void (*validate_stored)(const QWeight& w) = nullptr;
  const ActivationFormat* activation = nullptr;  // null: the GEMV takes fp32 x
  DequantFn dequant_ref = nullptr;
  // Exact intermediate (a decode before the format's rotations, say), [rows, cols] like
  // the full decode, compared as bits with expect.inner.
  DequantFn inner_ref = nullptr;
  GemvFn gemv_ref = nullptr;  // called one vector at a time unless gemv_ref_batches
  bool gemv_ref_batches = false;  // gemv_ref serves m vectors per call (one decode)
  // The typed parameters kernels receive (qb_weight.params), parsed from the params JSON in the
  // order the format documents; throws std::invalid_argument naming the field. Null: none.
  std::vector<int64_t> (*kernel_params)(const nlohmann::json& params) = nullptr;
  // Formats whose full decode has no unique bit pattern (rotations summed in an order each
  // implementation picks) give an elementwise error bound instead; null means bits must match.
  std::vector<double> (*dequant_bounds)(const QWeight& w) = nullptr;
  // Per-row GEMV bound for m vectors back to back, [m][rows]; null means the generic
  // 2*gamma_n*sum|w*x| of harness/check.h.
  std::vector<double> (*gemv_bounds)(const QWeight& w, const uint8_t* act, int64_t m) = nullptr;
  // Root of the sum of squared product terms of each output row, T_r of the probabilistic model
  // (harness/check.h gemv_sigmas); null means the generic sqrt(sum (w_i x_i)^2). Formats with
  // their own GEMV (rotations) give their own.
  std::vector<double> (*gemv_rms_terms)(const QWeight& w, const uint8_t* act, int64_t m) = nullptr;  // [m][rows]
  // Exact-by-construction GEMV inputs (the benchdnn way): stored tensors (layout order) and one
  // activation vector for which every value any correct kernel forms is exact in fp32, so the
  // result has one bit pattern whatever the summation order; the format states why. Returns
  // false when the shape cannot be made exact. Null: the format has none.
  bool (*exact_gemv_case)(const Format& f, int64_t rows, int64_t cols, uint64_t seed,
                          std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act) = nullptr;
  // Encoder reproducing upstream's reference quantizer; fills one byte vector per layout() tensor.
  void (*encode_ref)(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params,
                     std::vector<std::vector<uint8_t>>& tensors) = nullptr;
  // Valid stored tensors with random content (layout order), for formats where any bit pattern
  // decodes; tests and benches fill weights with it, or with encode_ref where it is null.
  std::vector<std::vector<uint8_t>> (*random_stored)(const Format& f, int64_t rows, int64_t cols,
                                                     const nlohmann::json& params, uint64_t seed) = nullptr;
  // Parameter sets the tests sweep ({} for formats without parameters).
  std::vector<nlohmann::json> test_params{nlohmann::json::object()};
  // Longest chain of fp32 roundings any correct GEMV kernel applies to one product term
  // (products plus additions); the harness bound is 2*gamma_n*sum|w*x|. Each format states
  // why in its own file.
  int64_t (*gemv_rounding_depth)(int64_t cols) = nullptr;

  bool implemented() const { return dequant_ref != nullptr; }
  std::size_t stored_bytes(int64_t rows, int64_t cols, const nlohmann::json& params) const;
};

// What a kernel call over a whole weight of `rows` output rows covers: [0, rows), or for a banded
// format (Format::row_bands) its [0, P) stored units.
inline int64_t call_extent(const Format& f, int64_t rows) {
  return f.row_bands > 1 ? (rows + f.row_bands - 1) / f.row_bands : rows;
}

// dequant_f16 / dequant_bf16: the full decode written as fp16 / bf16, the value being one
// round-to-nearest-even of the fp32 decode (reference/common/half.h f32_to_fp16_rne,
// f32_to_bf16_rne); defined for formats whose fp32 decode has one bit pattern.
enum class Op { dequant, inner, gemv, dequant_f16, dequant_bf16 };
std::string_view op_name(Op op);
// The op named `name` ("dequant", "dequant_f16", ...); false when none is.
bool parse_op(std::string_view name, Op& op);
inline bool is_decode16(Op op) { return op == Op::dequant_f16 || op == Op::dequant_bf16; }
// Bytes of one output element: 4 for fp32 outputs, 2 for the 16-bit decodes.
inline std::size_t output_elem_bytes(Op op) { return is_decode16(op) ? 2 : 4; }

// How a variant's NaN outputs are compared with the reference. CPU kernels keep payloads
// (x86/ARM propagate the NaN operand, quieted), so exact bits are required; GPU kernels may
// produce the canonical NaN and would declare any_nan.
enum class NanPolicy { exact_bits, any_nan };

class Backend;  // harness/backend.h

// Variant::origin of the registry's own variants.
inline constexpr const char* kOwnOrigin = "quantbench";

// Where a variant runs: a backend plus the CPU features its code needs on the host.
struct Target {
  const Backend* backend = nullptr;  // null: this process's CPU, rows split over OpenMP threads
  uint64_t features = 0;             // required CPU features (cpu_features.h masks)
  std::string name;                  // "scalar", "avx2", "avx512", "avx512vnni", "avx512vbmi"
};

struct Variant {
  std::string name;  // "<format>_<op>_<target>" for ours; plugins choose their own
  std::string format;
  Op op;
  Target target;
  // dequant and inner; for a reference 16-bit decode, the fp32 decode the harness rounds
  DequantFn dequant = nullptr;
  Dequant16Fn dequant16 = nullptr;  // dequant_f16 and dequant_bf16 kernels
  GemvFn gemv = nullptr;
  bool batches = false;  // the GEMV serves m > 1 vectors per call (one decode)
  NanPolicy nan = NanPolicy::exact_bits;
  bool reference = false;
  std::string origin = kOwnOrigin;  // or the plugin library it came from
};

// "avx2", or "avx2 @ plugin:libx.so" for a variant of another backend: what report lines print.
std::string target_label(const Variant& v);

const std::vector<Format>& formats();
const Format* find_format(std::string_view id);
// The ids of the formats with a reference, joined by `sep`, for messages that list the valid ones.
std::string implemented_format_ids(std::string_view sep);
// Reference variants (one per implemented format and op) followed by optimized kernels.
const std::vector<Variant>& variants();

struct Selection {
  std::vector<const Variant*> run;
  std::vector<std::pair<const Variant*, std::string>> skipped;  // with the reason
};
// Variants of `format` and `op` from `pool` that this CPU can run under the ISA ceiling `isa_cap`
// (feature mask; ~0 = no ceiling); the others with the reason they are skipped.
Selection select_variants(const std::vector<Variant>& pool, std::string_view format, Op op,
                          uint64_t isa_cap);

// Variant entries for the kernels of one arch's list (optimized/<arch>/kernels.inc).
std::vector<Variant> make_optimized_variants();

}  // namespace qb

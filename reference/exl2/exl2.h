// EXL2 (ExLlamaV2) reference: shared vocabulary for the reference decoder, the x86 kernels, the
// importer and the model-directory reader (specs/exl2.md).
//
// Orientation: upstream's quantized matrix is W [K = in][N = out] with y = x.W; the registry's
// weight is [rows = N (out), cols = K (in)], so expect.dequant holds W^T.
// Stored tensors (layout()): q_weight I32 [Q, N], q_scale I32 [G, N/8], q_scale_max F16 [G],
// q_groups I16 [2G], q_invperm I32 [K], and bias F16 [N] when params.bias is true.
// params: {"groups": [[bits, rows, count], ...]} (runs of `count` groups of `rows` stored rows at
// `bits`, in stored-row order) or {"option": "<desc>"} (an upstream option string such as
// "0.05:3b/0.95:2b 32g s4" (2023 rule) or "0.05:3b_32g/0.95:2b_32g s4" (current rule), whose
// groups reference/exl2/qparams.h allocates for K); optional "bias": true.
// Kernels read the group table from q_groups (validated against params by validate_stored) and
// take no typed parameters; tensors in layout order.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "harness/family.h"
#include "harness/registry.h"

namespace qb::exl2 {

// Bit widths upstream packs (spec 4).
inline bool valid_bits(int64_t b) { return b == 2 || b == 3 || b == 4 || b == 5 || b == 6 || b == 8; }

// One group as the decoder walks it (spec 3.1).
struct Group {
  int bits = 0;
  int64_t rows = 0;  // stored rows (input features) in the group
  int64_t row0 = 0;  // its first stored row
  int64_t q0 = 0;    // its first q_weight row
};

struct Params {
  std::vector<Group> groups;  // in stored-row order, row0 and q0 filled
  bool bias = false;
  int64_t q_rows() const { return groups.empty() ? 0 : groups.back().q0 + groups.back().rows * groups.back().bits / 32; }
};
// Params of a weight of K = cols input features (throws std::invalid_argument naming the field).
Params parse_params(const nlohmann::json& params, int64_t cols);
// The group table a stored q_groups (`entries` int16 values: (bits, first q_weight row) pairs)
// states for a q_weight of q_rows rows (spec 3.1); throws std::invalid_argument unless the pairs
// tile q_weight in order from row 0 with whole rows of a valid width.
std::vector<Group> groups_from_stored(const uint8_t* q_groups, int64_t entries, int64_t q_rows);
// params.groups in the canonical run-length form for a group list (merging equal neighbours).
nlohmann::json groups_json(const std::vector<Group>& groups);

// A weight as references and kernels read it. Stored tensors sit where the container put them
// (safetensors promises no alignment): elements are read by memcpy.
struct Args {
  int64_t k = 0, n = 0;  // upstream orientation: k = cols (in), n = rows (out)
  int64_t g = 0;         // groups
  const uint8_t* q_weight = nullptr;     // uint32 [Q][n]
  const uint8_t* q_scale = nullptr;      // uint32 [g][n/8]
  const uint8_t* q_scale_max = nullptr;  // fp16 [g]
  const uint8_t* q_groups = nullptr;     // uint16 [2g]
  const uint8_t* q_invperm = nullptr;    // int32 [k]
  const uint8_t* bias = nullptr;         // fp16 [n] or null
  int64_t q_rows = 0;

  template <typename T>
  static T load(const uint8_t* p, int64_t i) {
    T v;
    std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    return v;
  }
  uint32_t word(int64_t q, int64_t col) const { return load<uint32_t>(q_weight, q * n + col); }
  // The group table from q_groups (spec 3.1), row0 filled; inline, as kernels use it.
  std::vector<Group> groups() const {
    std::vector<Group> out;
    int64_t row = 0;
    for (int64_t i = 0; i < g; ++i) {
      Group gr;
      gr.bits = load<uint16_t>(q_groups, 2 * i);
      gr.q0 = load<uint16_t>(q_groups, 2 * i + 1);
      const int64_t q1 = i + 1 < g ? load<uint16_t>(q_groups, 2 * i + 3) : q_rows;
      gr.rows = (q1 - gr.q0) * 32 / gr.bits;
      gr.row0 = row;
      row += gr.rows;
      out.push_back(gr);
    }
    return out;
  }
  // Stored row of input feature i (spec 6).
  int64_t invperm(int64_t i) const { return load<int32_t>(q_invperm, i); }
};
// From the prepared weight (kernels): tensors in layout order.
inline Args args_of(const qb_weight* w) {
  Args a;
  a.k = w->cols;
  a.n = w->rows;
  a.q_weight = static_cast<const uint8_t*>(w->tensors[0].data);
  a.q_scale = static_cast<const uint8_t*>(w->tensors[1].data);
  a.q_scale_max = static_cast<const uint8_t*>(w->tensors[2].data);
  a.q_groups = static_cast<const uint8_t*>(w->tensors[3].data);
  a.q_invperm = static_cast<const uint8_t*>(w->tensors[4].data);
  a.bias = w->n_tensors > 5 ? static_cast<const uint8_t*>(w->tensors[5].data) : nullptr;
  a.g = w->tensors[2].nbytes / 2;
  a.q_rows = w->tensors[0].nbytes / 4 / a.n;
  return a;
}
Args args_of(const QWeight& w);

// fp16 scale of group gi, column col, as bits: fp16(float((c+1)^2) * float(smax)) with
// smax = fp16(float(q_scale_max[gi]) * 2^-8), both RNE with subnormals (spec 5, roundings 1, 2).
uint16_t group_max_fp16(uint16_t q_scale_max);
inline uint16_t group_max_fp16(const Args& w, int64_t gi) { return group_max_fp16(Args::load<uint16_t>(w.q_scale_max, gi)); }
uint16_t scale_fp16(uint16_t smax_fp16, uint32_t code);
uint32_t scale_code(const Args& w, int64_t gi, int64_t col);  // c, 0..15 (stored code - 1)
// Unsigned level q of stored row r of group gr in column col (spec 4).
uint32_t level(const Args& w, const Group& gr, int64_t r, int64_t col);

// Ws: the reconstructed fp16 weight in stored row order, columns [n0, n1), row-major
// [k][n1 - n0], as fp16 bits (spec 7, rounding 3 included).
std::vector<uint16_t> decode_stored(const Args& w, int64_t n0, int64_t n1);

// Registered reference functions (Format fields of the same role).
void dequant_ref(const qb_weight* w, int64_t r0, int64_t r1, float* out);  // W^T, exact
void gemv_ref(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y);
std::vector<double> gemv_error_bounds(const QWeight& w, const uint8_t* act, int64_t m);  // [m][n]
std::vector<double> gemv_rms_terms(const QWeight& w, const uint8_t* act, int64_t m);     // [m][n]
int64_t gemv_rounding_depth(int64_t k);
std::vector<std::vector<uint8_t>> random_stored(const Format& f, int64_t rows, int64_t cols,
                                                const nlohmann::json& params, uint64_t seed);

// Round-to-nearest encoder of a weight W^T = src [rows = N][cols = K] (fp32) into the layout's
// tensors for `params`, packed as upstream's pack() (reference/exl2/encode.cpp states its rules);
// a bias, where params ask for one, is written as zeros. Throws std::invalid_argument on bad params.
void encode_rtn(const float* src, int64_t rows, int64_t cols, const nlohmann::json& params,
                std::vector<std::vector<uint8_t>>& tensors);

Format exl2_format();
Family exl2_family();

// Model directories with quant_method "exl2", or tensors named X.q_weight (2023 models have no
// quantization_config; reference/exl2/model.cpp).
std::vector<ModelLayer> recognize_model(const ModelFiles& files);

}  // namespace qb::exl2

// EXL2 converter options ("qparams"): the option strings and qparams objects of exllamav2's
// converter, the per-group bit widths they give a matrix of K input features, and the bpw /
// total_bits numbers a 2023 measurement.json records for them (specs/exl2.md sections 3.2, 10).
//
// Two eras (specs/exl2.md section 0):
//  * 2023 (exllamav2 <= 0.0.9): one group size for every width, desc "0.05:3b/0.95:2b 32g s4",
//    qparams.group_size a plain int; groups allocated by the 2023 rule (groups_2023).
//  * current (since 714a19c): a group size per width, desc "0.05:3b_32g/0.95:2b_64g s4",
//    qparams.group_size an object {"3": 32, "2": 64}; groups allocated by the current rule
//    (groups_current).
// Nothing here reads tensors: this is the converter's bookkeeping, which decides the group table a
// file's q_groups then records (reference/exl2/exl2.h reads that).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace qb::exl2 {

struct QParams {
  std::vector<int> bits;             // widths, strictly descending, each one of 2,3,4,5,6,8
  std::vector<double> bits_prop;     // share of the input features per width, > 0, summing to 1
  std::vector<int64_t> group_size;   // rows per group, one per width (same order as bits)
  bool per_width_group_size = false; // written in the current form (desc "_32g" / group_size object)
  int scale_bits = 4;                // upstream only ever packs 4-bit scale codes (spec 5)
};
// Equal options: same widths, bit-identical proportions, same group sizes and scale bits (the
// form, per_width_group_size, is not compared: "1.0:4b 32g s4" and "1.0:4b_32g s4" are one option).
bool same_option(const QParams& a, const QParams& b);

// qparams_from_json's error. field() is the path inside the qparams object ("bits[1]",
// "group_size.4", "bits_prop"; empty: the object itself), cause() the problem alone; what() is
// "qparams.<field>: <cause>".
class QParamsFieldError : public std::invalid_argument {
 public:
  QParamsFieldError(const std::string& field, const std::string& cause)
      : std::invalid_argument("qparams" + (field.empty() ? "" : "." + field) + ": " + cause), field_(field), cause_(cause) {}
  const std::string& field() const { return field_; }
  const std::string& cause() const { return cause_; }

 private:
  std::string field_, cause_;
};

// An option string in either form: "0.05:3b/0.95:2b 32g s4" (2023) or
// "0.05:3b_32g/0.95:2b_64g s4" (current); single spaces, nothing else around it.
// Throws std::invalid_argument naming the desc and what is wrong: junk text, bits not one of
// 2,3,4,5,6,8 or not strictly descending, a proportion <= 0 or proportions not summing to 1 within
// 1e-9, a group size that is not a positive multiple of 32 (16 is allowed for a 2-bit width: the
// kernels need group boundaries on multiples of 32 rows, 16 for 2-bit, spec 3.1), scale bits not 4.
QParams parse_desc(const std::string& desc);

// A measurement.json / manifest "qparams" object {"group_size", "bits", "bits_prop", "scale_bits"}:
// group_size an int (2023) or an object keyed by width ({"4": 32, "2": 64}, current, one key per
// width and no other). The same rules as parse_desc; unknown keys are rejected (they could change
// what the option means). Throws QParamsFieldError (a std::invalid_argument) naming the field.
QParams qparams_from_json(const nlohmann::json& j);

// The desc upstream's 2023 get_desc writes: "<p>:<b>b/... <gs>g s<scale_bits>", each proportion
// as Python's repr of the float (0.05, 0.95, 1.0, 1e-05). Throws std::invalid_argument when the
// option is invalid or its widths have different group sizes (the 2023 form has one).
std::string desc_2023(const QParams& q);
// The current form: "<p>:<b>b_<gs>g/... s<scale_bits>". Throws std::invalid_argument when invalid.
std::string desc_current(const QParams& q);
// Python's repr() of a float (shortest round-trip digits; exponent form when the decimal exponent
// is below -4 or above 15: "1e-05", "1e+16"; ".0" on integers: "1.0").
std::string python_float_repr(double x);

// One group of the allocation, in stored-row order: its width and number of rows (input features).
struct GroupSpec {
  int bits;
  int64_t rows;
};
// The 2023 rule (spec 3.2): G = ceil(K/gs), g128 = ceil(K/128),
// n_i = max(round(g128 * p_i), 1) * 128 // gs with Python's round (half to even, on the double
// product), the last width's count absorbing the difference to G; every group gs rows except the
// last, clipped to K. Needs one group size for all widths. Throws std::invalid_argument for an
// invalid option, K outside 1..2^24, unequal group sizes, or a count that goes negative.
std::vector<GroupSpec> groups_2023(const QParams& q, int64_t K);
// The current rule (spec 3.2): remaining = K; per width n = ceil(min(K * p, remaining) / gs_b)
// (float arithmetic as Python does it), remaining -= n * gs_b; groups of gs_b rows, the final one
// clipped to K. Throws std::invalid_argument for an invalid option, K outside 1..2^24, a negative
// count, rows left over (remaining > 0) or a group starting past K.
std::vector<GroupSpec> groups_current(const QParams& q, int64_t K);

// Sizes in bits of a [K in, N out] matrix (spec 10), as exact integers in a double (both are far
// below 2^53; std::invalid_argument otherwise, or for N <= 0 and the groups_* errors):
//   Σ rows·N·bits (q_weight) + 16·G (q_scale_max) + 32·G (q_groups) + 4·G·N (q_scale).
// total_bits_2023 is upstream 2023 QParams.total_bits over groups_2023: q_invperm is NOT counted
// (the `total_bits ++ rows * 32` no-op of <= v0.0.11). total_bits_current is master's: groups_current
// plus q_invperm's 32·K (no bias term; the golden-vector manifests' "head" formula, spec 11).
double total_bits_2023(const QParams& q, int64_t K, int64_t N);
double total_bits_current(const QParams& q, int64_t K, int64_t N);
// total_bits / (K·N): one correctly rounded division of the integers, as Python's int / int.
double bpw_2023(const QParams& q, int64_t K, int64_t N);
double bpw_current(const QParams& q, int64_t K, int64_t N);
// The "total_bits" a 2023 measurement.json records: the float product numel · bpw (not the integer
// count; the two differ in the last bit for some options, e.g. 1.0:8b 32g at 8192 -> 28672).
double measured_total_bits_2023(const QParams& q, int64_t K, int64_t N);

}  // namespace qb::exl2

// EXL2 registry entry: params, stored tensors and their validation (specs/exl2.md sections 2-4, 9).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "harness/stored_check.h"

#include "reference/exl2/exl2.h"
#include "reference/exl2/qparams.h"

namespace qb::exl2 {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

// The rules upstream's pack() and QMatrix impose on a group table (spec 3.1, 9), checked on the
// list however it was given.
void check_groups(const std::vector<Group>& groups, int64_t k) {
  if (groups.empty()) throw std::invalid_argument("exl2: params.groups is empty");
  int64_t rows = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    const std::string at = "exl2: params.groups: group " + std::to_string(i);
    if (!valid_bits(g.bits)) throw std::invalid_argument(at + " has " + str(g.bits) + " bits, not one of 2,3,4,5,6,8");
    if (g.rows <= 0) throw std::invalid_argument(at + " has " + str(g.rows) + " rows");
    if (g.rows * g.bits % 32 != 0)
      throw std::invalid_argument(at + ": rows*bits = " + str(g.rows) + "*" + str(g.bits) +
                                  " is not a multiple of 32 (a group fills whole q_weight rows)");
    if (i > 0 && g.bits > groups[i - 1].bits)
      throw std::invalid_argument(at + " has " + str(g.bits) + " bits after a group of " + str(groups[i - 1].bits) +
                                  ": upstream's kernels need bit widths in descending order");
    rows += g.rows;
  }
  if (rows != k)
    throw std::invalid_argument("exl2: params.groups cover " + str(rows) + " stored rows, cols (in_features) is " + str(k));
}

// Fills row0 and q0 (spec 3.1).
std::vector<Group> placed(std::vector<Group> groups) {
  int64_t row = 0, q = 0;
  for (Group& g : groups) {
    g.row0 = row;
    g.q0 = q;
    row += g.rows;
    q += g.rows * g.bits / 32;
  }
  return groups;
}

std::vector<Group> groups_from_runs(const nlohmann::json& runs) {
  if (!runs.is_array()) throw std::invalid_argument("exl2: params.groups must be an array of [bits, rows, count]");
  std::vector<Group> groups;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const nlohmann::json& r = runs[i];
    const auto is_int = [](const nlohmann::json& v) { return v.is_number_integer(); };
    if (!r.is_array() || r.size() != 3 || !std::all_of(r.begin(), r.end(), is_int))
      throw std::invalid_argument("exl2: params.groups[" + std::to_string(i) + "] is " + r.dump() +
                                  ", not [bits, rows, count] integers");
    const int64_t bits = r[0].get<int64_t>(), rows = r[1].get<int64_t>(), count = r[2].get<int64_t>();
    if (count <= 0 || count > (int64_t{1} << 16) || rows > (int64_t{1} << 16) || bits > 64)
      throw std::invalid_argument("exl2: params.groups[" + std::to_string(i) + "] = " + r.dump() + " is out of range");
    for (int64_t c = 0; c < count; ++c) groups.push_back({static_cast<int>(bits), rows, 0, 0});
  }
  return groups;
}

std::vector<StoredTensorSpec> layout(int64_t rows, int64_t cols, const nlohmann::json& params) {
  const Params p = parse_params(params, cols);
  // q_scale packs 8 columns per word and pack() pads out_features to 32 (spec 9).
  if (rows <= 0 || rows % 32 != 0)
    throw std::invalid_argument("exl2: rows (out_features) = " + str(rows) +
                                " is not a positive multiple of 32 (upstream pads the output to 32)");
  // The kernels' permutation is uint16 and q_groups' row numbers are int16 (spec 9).
  if (cols > 65536) throw std::invalid_argument("exl2: cols (in_features) = " + str(cols) + " exceeds upstream's 65536");
  const int64_t g = static_cast<int64_t>(p.groups.size());
  std::vector<StoredTensorSpec> specs{{"q_weight", DType::I32, {p.q_rows(), rows}},
                                      {"q_scale", DType::I32, {g, rows / 8}},
                                      {"q_scale_max", DType::F16, {g}},
                                      {"q_groups", DType::I16, {2 * g}},
                                      {"q_invperm", DType::I32, {cols}}};
  if (p.bias) specs.push_back({"bias", DType::F16, {rows}});
  return specs;
}

// q_groups must say what params say (spec 3.1: (bits, first q_weight row) pairs), and q_invperm
// must be a permutation of the input features (spec 6): a repeated or missing feature would
// decode silently to a wrong matrix.
void validate_stored(const QWeight& w) {
  const Params p = parse_params(w.params, w.cols);
  const TensorView& qg = w.tensor("q_groups");
  if (qg.data) {
    for (std::size_t i = 0; i < p.groups.size(); ++i) {
      const int64_t bits = Args::load<int16_t>(qg.data, static_cast<int64_t>(2 * i));
      const int64_t q0 = Args::load<int16_t>(qg.data, static_cast<int64_t>(2 * i + 1));
      if (bits != p.groups[i].bits || q0 != p.groups[i].q0)
        throw StoredTensorError("q_groups", "value",
                                "group " + std::to_string(i) + " is (" + str(bits) + " bits, q_weight row " + str(q0) +
                                    "), the group table needs (" + str(p.groups[i].bits) + ", " + str(p.groups[i].q0) +
                                    "): groups must run in stored-row order, bits descending, covering q_weight");
    }
  }
  const TensorView& perm = w.tensor("q_invperm");
  if (perm.data) {
    std::vector<uint8_t> seen(static_cast<std::size_t>(w.cols));
    for (int64_t i = 0; i < w.cols; ++i) {
      const int64_t v = Args::load<int32_t>(perm.data, i);
      if (v < 0 || v >= w.cols)
        throw StoredTensorError("q_invperm", "value", "entry " + str(i) + " is " + str(v) + ", outside 0.." + str(w.cols - 1));
      if (seen[static_cast<std::size_t>(v)]++)
        throw StoredTensorError("q_invperm", "value", "entry " + str(i) + " repeats stored row " + str(v) + ": not a permutation");
    }
  }
}

}  // namespace

Params parse_params(const nlohmann::json& params, int64_t cols) {
  if (!params.is_object()) throw std::invalid_argument("exl2: params must be an object {\"groups\"} or {\"option\"}");
  for (const auto& [key, value] : params.items())
    if (key != "groups" && key != "option" && key != "bias")
      throw std::invalid_argument("exl2: params has an unknown key '" + key + "' (groups, option, bias)");
  const bool has_groups = params.contains("groups"), has_option = params.contains("option");
  if (has_groups == has_option)
    throw std::invalid_argument("exl2: params needs exactly one of \"groups\" and \"option\"");
  Params p;
  if (params.contains("bias")) {
    if (!params["bias"].is_boolean()) throw std::invalid_argument("exl2: params.bias must be true or false");
    p.bias = params["bias"].get<bool>();
  }
  std::vector<Group> groups;
  if (has_groups) {
    groups = groups_from_runs(params["groups"]);
  } else {
    if (!params["option"].is_string()) throw std::invalid_argument("exl2: params.option must be a string");
    const QParams q = parse_desc(params["option"].get<std::string>());
    const std::vector<GroupSpec> specs = q.per_width_group_size ? groups_current(q, cols) : groups_2023(q, cols);
    for (const GroupSpec& s : specs) groups.push_back({s.bits, s.rows, 0, 0});
  }
  check_groups(groups, cols);
  p.groups = placed(std::move(groups));
  // q_groups stores the first q_weight row as int16 (spec 9).
  if (p.q_rows() > 32767)
    throw std::invalid_argument("exl2: the group table needs " + str(p.q_rows()) + " q_weight rows, past int16's 32767");
  return p;
}

std::vector<Group> groups_from_stored(const uint8_t* q_groups, int64_t entries, int64_t q_rows) {
  if (entries % 2 != 0 || entries == 0)
    throw std::invalid_argument("holds " + str(entries) + " values, expected (bits, q_weight row) pairs");
  const int64_t pairs = entries / 2;
  std::vector<Group> groups;
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t bits = Args::load<int16_t>(q_groups, 2 * i), q0 = Args::load<int16_t>(q_groups, 2 * i + 1);
    const int64_t q1 = i + 1 < pairs ? Args::load<int16_t>(q_groups, 2 * i + 3) : q_rows;
    const std::string at = "group " + str(i) + " (" + str(bits) + " bits, q_weight rows " + str(q0) + ".." + str(q1) + ")";
    if (!valid_bits(bits)) throw std::invalid_argument(at + ": bits not one of 2,3,4,5,6,8");
    if ((i == 0 && q0 != 0) || q1 <= q0 || q1 > q_rows)
      throw std::invalid_argument(at + ": the groups must tile q_weight's " + str(q_rows) + " rows in order from row 0");
    if ((q1 - q0) * 32 % bits != 0)
      throw std::invalid_argument(at + ": not a whole number of " + str(bits) + "-bit rows");
    groups.push_back({static_cast<int>(bits), (q1 - q0) * 32 / bits, 0, 0});
  }
  return groups;
}

nlohmann::json groups_json(const std::vector<Group>& groups) {
  nlohmann::json runs = nlohmann::json::array();
  for (const Group& g : groups) {
    if (!runs.empty() && runs.back()[0] == g.bits && runs.back()[1] == g.rows)
      runs.back()[2] = runs.back()[2].get<int64_t>() + 1;
    else
      runs.push_back({g.bits, g.rows, 1});
  }
  return runs;
}

Args args_of(const QWeight& w) {
  const Params p = parse_params(w.params, w.cols);
  Args a;
  a.k = w.cols;
  a.n = w.rows;
  a.q_weight = w.tensor("q_weight").data;
  a.q_scale = w.tensor("q_scale").data;
  a.q_scale_max = w.tensor("q_scale_max").data;
  a.q_groups = w.tensor("q_groups").data;
  a.q_invperm = w.tensor("q_invperm").data;
  a.bias = p.bias ? w.tensor("bias").data : nullptr;
  a.g = static_cast<int64_t>(p.groups.size());
  a.q_rows = p.q_rows();
  return a;
}

Format exl2_format() {
  Format f;
  f.id = "exl2";
  f.family = "exl2";
  // Kernels take 16 output columns per vector of q_weight words; N is a multiple of 32 (layout).
  f.row_granule = 32;
  f.layout = layout;
  f.validate_stored = validate_stored;
  f.activation = &f32_activation();
  f.dequant_ref = dequant_ref;
  f.gemv_ref = gemv_ref;
  f.random_stored = random_stored;
  // Every width alone (each has its own bit-stream arithmetic, spec 4), the 2023 and the current
  // allocation rules, three-width mixes with a clipped last group, and a bias. The 2023 rule gives
  // every width at least 128 rows, so its mixes need more than one 128-row unit: those here are
  // in the current form, which fits any multiple of 128 input features (col_granule).
  f.col_granule = 128;
  f.test_params = {{{"option", "1.0:2b 32g s4"}},
                   {{"option", "1.0:3b 32g s4"}},
                   {{"option", "1.0:4b 128g s4"}},
                   {{"option", "1.0:5b 32g s4"}},
                   {{"option", "1.0:6b 64g s4"}},
                   {{"option", "1.0:8b 32g s4"}},
                   {{"option", "0.05:3b/0.95:2b 32g s4"}},
                   {{"option", "0.1:8b_32g/0.3:6b_32g/0.6:5b_32g s4"}},
                   {{"option", "0.05:6b_32g/0.2:3b_64g/0.75:2b_64g s4"}},
                   {{"option", "0.1:4b_32g/0.4:3b_32g/0.5:2b_32g s4"}, {"bias", true}}};
  f.fp16_scale_tensors = {"q_scale_max"};
  f.gemv_bounds = gemv_error_bounds;
  f.gemv_rms_terms = gemv_rms_terms;
  f.gemv_rounding_depth = gemv_rounding_depth;
  return f;
}

}  // namespace qb::exl2

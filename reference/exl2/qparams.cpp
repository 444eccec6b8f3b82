#include "reference/exl2/qparams.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>

#include <nlohmann/json.hpp>

#include "harness/json_field.h"

namespace qb::exl2 {

namespace {

// Products and bit counts are converted to double and divided once, as Python's int / int does:
// that matches Python only while every integer is exact in a double.
constexpr int64_t kExactDouble = int64_t{1} << 53;
// Bounds that keep every count below in int64 with room to spare. Upstream's kernels take
// K <= 65536 (uint16 permutation, spec 2); lm_head's N is a vocabulary (~2^18).
constexpr int64_t kMaxK = int64_t{1} << 24;
constexpr int64_t kMaxN = (int64_t{1} << 31) - 1;

bool is_width(int64_t b) { return b == 2 || b == 3 || b == 4 || b == 5 || b == 6 || b == 8; }

std::string str(int64_t v) { return std::to_string(v); }

// The field a group size is reported under: "group_size" in the 2023 form (one value for all
// widths), "group_size.<width>" in the current form (the object's key).
std::string group_size_field(const QParams& q, std::size_t i) {
  return q.per_width_group_size ? "group_size." + str(q.bits[i]) : "group_size";
}

// Every rule parse_desc and qparams_from_json enforce; throws QParamsFieldError.
void validate(const QParams& q) {
  if (q.bits.empty()) throw QParamsFieldError("bits", "is empty: an option needs at least one width");
  for (std::size_t i = 0; i < q.bits.size(); ++i) {
    const std::string at = "bits[" + str(static_cast<int64_t>(i)) + "]";
    if (!is_width(q.bits[i])) throw QParamsFieldError(at, "width " + str(q.bits[i]) + " is not one of 2, 3, 4, 5, 6, 8");
    // Groups must run in descending width (QMatrix counts rows_8 ... rows_2 cumulatively, spec 3.1);
    // a repeated width would also make the current form's group_size object ambiguous.
    if (i > 0 && q.bits[i] >= q.bits[i - 1])
      throw QParamsFieldError(at, "width " + str(q.bits[i]) + " follows width " + str(q.bits[i - 1]) +
                                      ": widths must be strictly descending (spec 3.1)");
  }
  if (q.bits_prop.size() != q.bits.size())
    throw QParamsFieldError("bits_prop", "has " + str(static_cast<int64_t>(q.bits_prop.size())) + " proportions for " +
                                             str(static_cast<int64_t>(q.bits.size())) + " widths");
  double sum = 0;  // summed in list order, as Python's sum() does
  for (std::size_t i = 0; i < q.bits_prop.size(); ++i) {
    const double p = q.bits_prop[i];
    if (!(std::isfinite(p) && p > 0))  // upstream asserts p > 0 (spec 3.2 needs a share per width)
      throw QParamsFieldError("bits_prop[" + str(static_cast<int64_t>(i)) + "]",
                              "proportion " + python_float_repr(p) + " of width " + str(q.bits[i]) + " is not positive");
    sum += p;
  }
  if (!(std::fabs(sum - 1.0) <= 1e-9))
    throw QParamsFieldError("bits_prop", "proportions sum to " + python_float_repr(sum) + ", not 1 (within 1e-9)");
  if (q.group_size.size() != q.bits.size())
    throw QParamsFieldError("group_size", "has " + str(static_cast<int64_t>(q.group_size.size())) + " group sizes for " +
                                              str(static_cast<int64_t>(q.bits.size())) + " widths");
  for (std::size_t i = 0; i < q.bits.size(); ++i) {
    const int64_t gs = q.group_size[i];
    // Group boundaries must fall on multiples of 32 rows, 16 for 2-bit (spec 3.1): a 16-row group
    // is one whole 32-bit word of 2-bit values and nothing smaller packs.
    const bool ok = gs > 0 && (gs % 32 == 0 || (gs == 16 && q.bits[i] == 2));
    if (!ok)
      throw QParamsFieldError(group_size_field(q, i), "group size " + str(gs) + " of width " + str(q.bits[i]) +
                                                          " is not a positive multiple of 32 (16 only for 2-bit, spec 3.1)");
  }
  if (!q.per_width_group_size)
    for (std::size_t i = 1; i < q.group_size.size(); ++i)
      if (q.group_size[i] != q.group_size[0])
        throw QParamsFieldError("group_size", "widths have different group sizes, which only the current form can say");
  if (q.scale_bits != 4)
    throw QParamsFieldError("scale_bits", "scale bits " + str(q.scale_bits) + ": upstream packs 4-bit scale codes only (s4, spec 5)");
}

// ---- desc strings ----

[[noreturn]] void bad_desc(const std::string& desc, const std::string& what) {
  throw std::invalid_argument("exl2 option '" + desc + "': " + what);
}

// A non-negative decimal integer (digits only, no sign, no space); false on anything else or on
// overflow.
bool parse_count(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// A plain decimal number as Python writes a float: digits[.digits][e[+-]digits]. No sign, no
// "inf"/"nan", no hex; parsed locale-independently.
bool parse_proportion(std::string_view s, double& out) {
  std::size_t i = 0;
  const auto digits = [&]() {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  if (i != s.size()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// "<n>g" -> n
bool parse_group_token(std::string_view s, int64_t& out) {
  return s.size() >= 2 && s.back() == 'g' && parse_count(s.substr(0, s.size() - 1), out);
}

void check_sizes(int64_t K, const char* what) {
  if (K <= 0 || K > kMaxK)
    throw std::invalid_argument(std::string("exl2 group allocation: ") + what + " = " + str(K) + " is outside 1.." + str(kMaxK));
}

// Python's round() on a double: to the nearest integer, ties to even. x - floor(x) is exact.
int64_t round_half_even(double x) {
  const double f = std::floor(x);
  const double d = x - f;
  double r = f;
  if (d > 0.5 || (d == 0.5 && std::fmod(f, 2.0) != 0)) r = f + 1;
  return static_cast<int64_t>(r);
}

void check_option(const QParams& q, const char* who) {
  try {
    validate(q);
  } catch (const QParamsFieldError& e) {
    throw std::invalid_argument(std::string(who) + ": invalid option: " + e.cause());
  }
}

// Σ rows·N·bits + G·(16 + 32 + 4·N), spec 10; checked exact in a double.
int64_t storage_bits(const std::vector<GroupSpec>& groups, int64_t K, int64_t N, bool count_invperm) {
  if (N <= 0 || N > kMaxN) throw std::invalid_argument("exl2 size: N (out_features) = " + str(N) + " is outside 1.." + str(kMaxN));
  int64_t bits = 0;
  for (const GroupSpec& g : groups) bits += g.rows * N * g.bits;     // q_weight
  const int64_t G = static_cast<int64_t>(groups.size());
  bits += G * 16;                                                     // q_scale_max, fp16 per group
  bits += G * 32;                                                     // q_groups, two int16 per group
  bits += G * N * 4;                                                  // q_scale, 4-bit code per column
  if (count_invperm) bits += K * 32;                                  // q_invperm (master only)
  if (bits > kExactDouble || K * N > kExactDouble)
    throw std::invalid_argument("exl2 size: " + str(K) + " x " + str(N) + " is too large to reproduce upstream's float bpw");
  return bits;
}

}  // namespace

bool same_option(const QParams& a, const QParams& b) {
  return a.bits == b.bits && a.bits_prop == b.bits_prop && a.group_size == b.group_size && a.scale_bits == b.scale_bits;
}

std::string python_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  // Shortest round-trip digits (what Python's repr picks, dtoa mode 0), as d.ddde±X.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const std::size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  const int exp10 = std::stoi(sci.substr(e + 1));
  const int n = static_cast<int>(digits.size());
  // Python: repr uses the exponent form when the exponent is < -4 or >= 16 (format_float_short).
  if (exp10 < -4 || exp10 >= 16) {
    std::string out = sign + digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    const int ae = exp10 < 0 ? -exp10 : exp10;
    out += std::string("e") + (exp10 < 0 ? "-" : "+") + (ae < 10 ? "0" : "") + std::to_string(ae);
    return out;
  }
  const int point = exp10 + 1;  // digits before the decimal point
  if (point <= 0) return sign + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  if (point >= n) return sign + digits + std::string(static_cast<std::size_t>(point - n), '0') + ".0";
  return sign + digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
}

QParams parse_desc(const std::string& desc) {
  const std::vector<std::string_view> tokens = split(desc, ' ');
  for (std::string_view t : tokens)
    if (t.empty()) bad_desc(desc, "stray space (tokens are separated by one space, none around)");
  if (tokens.size() != 2 && tokens.size() != 3)
    bad_desc(desc, "expected '<p>:<b>b/... <gs>g s4' (2023) or '<p>:<b>b_<gs>g/... s4' (current), found " +
                       str(static_cast<int64_t>(tokens.size())) + " space-separated tokens");
  QParams q;
  int with_group = 0;
  for (std::string_view part : split(tokens[0], '/')) {
    const std::string p(part);
    const std::size_t colon = part.find(':');
    if (colon == std::string_view::npos) bad_desc(desc, "'" + p + "' is not '<proportion>:<bits>b'");
    double prop;
    if (!parse_proportion(part.substr(0, colon), prop))
      bad_desc(desc, "'" + std::string(part.substr(0, colon)) + "' in '" + p + "' is not a decimal proportion");
    std::string_view rest = part.substr(colon + 1);
    int64_t gs = 0;
    const std::size_t under = rest.find('_');
    if (under != std::string_view::npos) {
      if (!parse_group_token(rest.substr(under + 1), gs)) bad_desc(desc, "'" + p + "' does not end in '_<n>g'");
      rest = rest.substr(0, under);
      ++with_group;
    }
    int64_t bits;
    if (rest.size() < 2 || rest.back() != 'b' || !parse_count(rest.substr(0, rest.size() - 1), bits))
      bad_desc(desc, "'" + p + "' has no '<bits>b' after the ':'");
    if (bits > 64) bad_desc(desc, "width " + str(bits) + " is not one of 2, 3, 4, 5, 6, 8");
    q.bits.push_back(static_cast<int>(bits));
    q.bits_prop.push_back(prop);
    q.group_size.push_back(gs);
  }
  const int widths = static_cast<int>(q.bits.size());
  if (with_group != 0 && with_group != widths)
    bad_desc(desc, "some widths have a '_<n>g' group size and some do not");
  q.per_width_group_size = with_group == widths;
  if (q.per_width_group_size && tokens.size() != 2)
    bad_desc(desc, "the current form (a group size per width) has no separate '<n>g' token");
  if (!q.per_width_group_size) {
    if (tokens.size() != 3)
      bad_desc(desc, tokens.back()[0] == 's' ? "the 2023 form needs a '<n>g' group size token before 's4'"
                                             : "'" + std::string(tokens.back()) + "' is not the scale bits 's<n>' that ends a desc");
    int64_t gs;
    if (!parse_group_token(tokens[1], gs)) bad_desc(desc, "'" + std::string(tokens[1]) + "' is not a group size '<n>g'");
    for (int64_t& g : q.group_size) g = gs;
  }
  const std::string_view s = tokens.back();
  int64_t scale_bits;
  if (s.size() < 2 || s[0] != 's' || !parse_count(s.substr(1), scale_bits))
    bad_desc(desc, "'" + std::string(s) + "' is not the scale bits 's<n>'");
  if (scale_bits > 64) bad_desc(desc, "scale bits " + str(scale_bits) + ": upstream packs 4-bit scale codes only (s4, spec 5)");
  q.scale_bits = static_cast<int>(scale_bits);
  try {
    validate(q);
  } catch (const QParamsFieldError& e) {
    bad_desc(desc, e.cause());
  }
  return q;
}

QParams qparams_from_json(const nlohmann::json& j) {
  using nlohmann::json;
  if (!j.is_object()) throw QParamsFieldError("", "is " + describe_json(j) + ", expected an object");
  for (const auto& [key, value] : j.items())
    if (key != "group_size" && key != "bits" && key != "bits_prop" && key != "scale_bits")
      throw QParamsFieldError(key, "unknown key (qparams holds group_size, bits, bits_prop, scale_bits)");
  const auto need = [&](const char* key) -> const json& {
    const auto it = j.find(key);
    if (it == j.end()) throw QParamsFieldError(key, "missing");
    return *it;
  };
  // A JSON integer as an int64 (nlohmann keeps non-negative ones unsigned: one past INT64_MAX
  // must not wrap); floats such as 4.0 are not integers.
  const auto integer = [](const json& v, const std::string& field) -> int64_t {
    if (!v.is_number_integer()) throw QParamsFieldError(field, "is " + describe_json(v) + ", expected an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw QParamsFieldError(field, "is " + describe_json(v) + ", too large");
    return v.get<int64_t>();
  };
  QParams q;
  const json& bits = need("bits");
  if (!bits.is_array()) throw QParamsFieldError("bits", "is " + describe_json(bits) + ", expected an array of widths");
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const std::string at = "bits[" + str(static_cast<int64_t>(i)) + "]";
    const int64_t b = integer(bits[i], at);
    if (!is_width(b)) throw QParamsFieldError(at, "width " + str(b) + " is not one of 2, 3, 4, 5, 6, 8");
    q.bits.push_back(static_cast<int>(b));
  }
  const json& prop = need("bits_prop");
  if (!prop.is_array()) throw QParamsFieldError("bits_prop", "is " + describe_json(prop) + ", expected an array of proportions");
  for (std::size_t i = 0; i < prop.size(); ++i) {
    if (!prop[i].is_number())
      throw QParamsFieldError("bits_prop[" + str(static_cast<int64_t>(i)) + "]", "is " + describe_json(prop[i]) + ", expected a number");
    q.bits_prop.push_back(prop[i].get<double>());
  }
  const json& gs = need("group_size");
  if (gs.is_object()) {
    // Current form: one entry per width, keyed by the width's decimal (spec 3.2 group_size[b]).
    q.per_width_group_size = true;
    for (const auto& [key, value] : gs.items()) {
      bool known = false;
      for (int b : q.bits) known = known || key == str(b);
      if (!known) throw QParamsFieldError("group_size." + key, "no width " + key + " in bits");
    }
    for (int b : q.bits) {
      const auto it = gs.find(str(b));
      if (it == gs.end()) throw QParamsFieldError("group_size", "has no group size for width " + str(b));
      q.group_size.push_back(integer(*it, "group_size." + str(b)));
    }
  } else if (gs.is_number_integer()) {
    q.group_size.assign(q.bits.size(), integer(gs, "group_size"));
  } else {
    throw QParamsFieldError("group_size", "is " + describe_json(gs) + ", expected an integer or an object keyed by width");
  }
  const int64_t sb = integer(need("scale_bits"), "scale_bits");
  if (sb != 4) throw QParamsFieldError("scale_bits", "scale bits " + str(sb) + ": upstream packs 4-bit scale codes only (s4, spec 5)");
  q.scale_bits = 4;
  validate(q);
  return q;
}

std::string desc_2023(const QParams& q) {
  check_option(q, "desc_2023");
  for (int64_t g : q.group_size)
    if (g != q.group_size[0])
      throw std::invalid_argument("desc_2023: the widths have different group sizes, which the 2023 form cannot say");
  std::string s;
  for (std::size_t i = 0; i < q.bits.size(); ++i)
    s += (i ? "/" : "") + python_float_repr(q.bits_prop[i]) + ":" + str(q.bits[i]) + "b";
  return s + " " + str(q.group_size[0]) + "g s" + str(q.scale_bits);
}

std::string desc_current(const QParams& q) {
  check_option(q, "desc_current");
  std::string s;
  for (std::size_t i = 0; i < q.bits.size(); ++i)
    s += (i ? "/" : "") + python_float_repr(q.bits_prop[i]) + ":" + str(q.bits[i]) + "b_" + str(q.group_size[i]) + "g";
  return s + " s" + str(q.scale_bits);
}

std::vector<GroupSpec> groups_2023(const QParams& q, int64_t K) {
  check_option(q, "groups_2023");
  check_sizes(K, "K (in_features)");
  for (int64_t g : q.group_size)
    if (g != q.group_size[0])
      throw std::invalid_argument("groups_2023: the 2023 rule takes one group size for all widths");
  const int64_t gs = q.group_size[0];
  // specs/exl2.md 3.2, 2023 rule. gs may exceed K (one clipped group), so no K + gs - 1.
  const int64_t G = K / gs + (K % gs != 0);
  const int64_t g128 = K / 128 + (K % 128 != 0);
  std::vector<int64_t> n;
  int64_t sum = 0;
  for (double p : q.bits_prop) {
    // round(g128 * p): the int converted to float, one float product, then Python's round.
    const int64_t r = round_half_even(static_cast<double>(g128) * p);
    n.push_back(std::max<int64_t>(r, 1) * 128 / gs);  // (max(...) * 128) // gs, left to right
    sum += n.back();
  }
  n.back() -= sum - G;  // the last width absorbs the difference
  if (n.back() < 0)
    throw std::invalid_argument("groups_2023: K = " + str(K) + " has " + str(G) + " groups of " + str(gs) +
                                " rows, fewer than the widths before the last take (" + str(G - n.back()) +
                                "): the last width's count would be " + str(n.back()));
  std::vector<GroupSpec> groups;
  int64_t row = 0;
  for (std::size_t i = 0; i < n.size(); ++i)
    for (int64_t c = 0; c < n[i]; ++c) {
      const int64_t rows = std::min(gs, K - row);  // every group gs rows, the last clipped to K
      groups.push_back({q.bits[i], rows});
      row += rows;
    }
  return groups;
}

std::vector<GroupSpec> groups_current(const QParams& q, int64_t K) {
  check_option(q, "groups_current");
  check_sizes(K, "K (in_features)");
  std::vector<GroupSpec> groups;
  int64_t remaining = K, row = 0;
  for (std::size_t i = 0; i < q.bits.size(); ++i) {
    const int64_t gs = q.group_size[i];
    // ceil(min(K * p, remaining) / gs), in Python's float arithmetic: K * p a float product,
    // min() comparing float and int exactly, one true division, math.ceil (specs/exl2.md 3.2).
    const double kp = static_cast<double>(K) * q.bits_prop[i];
    const double m = std::min(kp, static_cast<double>(remaining));
    const double c = std::ceil(m / static_cast<double>(gs));
    if (c < 0)
      throw std::invalid_argument("groups_current: width " + str(q.bits[i]) + " gets " + str(static_cast<int64_t>(c)) +
                                  " groups: the widths before it overran K = " + str(K));
    const int64_t n = static_cast<int64_t>(c);
    for (int64_t g = 0; g < n; ++g) {
      if (row >= K)
        throw std::invalid_argument("groups_current: a group of width " + str(q.bits[i]) + " would start at row " + str(row) +
                                    ", past K = " + str(K));
      const int64_t rows = std::min(gs, K - row);  // group covers [a, min(a + gs, K))
      groups.push_back({q.bits[i], rows});
      row += rows;
    }
    remaining -= n * gs;
  }
  // upstream asserts remaining <= 0: every row has a group.
  if (remaining > 0)
    throw std::invalid_argument("groups_current: " + str(remaining) + " of K = " + str(K) + " rows have no group");
  return groups;
}

double total_bits_2023(const QParams& q, int64_t K, int64_t N) {
  return static_cast<double>(storage_bits(groups_2023(q, K), K, N, /*count_invperm=*/false));
}

double total_bits_current(const QParams& q, int64_t K, int64_t N) {
  return static_cast<double>(storage_bits(groups_current(q, K), K, N, /*count_invperm=*/true));
}

double bpw_2023(const QParams& q, int64_t K, int64_t N) {
  // Both integers are exact in a double (storage_bits checks), so one IEEE division is Python's
  // correctly rounded int / int.
  return total_bits_2023(q, K, N) / static_cast<double>(K * N);
}

double bpw_current(const QParams& q, int64_t K, int64_t N) {
  return total_bits_current(q, K, N) / static_cast<double>(K * N);
}

double measured_total_bits_2023(const QParams& q, int64_t K, int64_t N) {
  // 2023 test_quants records numel * bpw, a float product, not QParams.total_bits (spec 10).
  return static_cast<double>(K * N) * bpw_2023(q, K, N);
}

}  // namespace qb::exl2

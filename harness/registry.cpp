#include "harness/registry.h"

#include "harness/backend.h"
#include "harness/cpu_features.h"
#include "harness/family.h"

#include <cstring>
#include <set>
#include <stdexcept>

namespace qb {

std::size_t StoredTensorSpec::bytes() const {
  std::size_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

std::size_t Format::stored_bytes(int64_t rows, int64_t cols, const nlohmann::json& params) const {
  std::size_t total = 0;
  for (const auto& t : layout(rows, cols, params)) total += t.bytes();
  return total;
}

std::string_view op_name(Op op) {
  switch (op) {
    case Op::dequant: return "dequant";
    case Op::inner: return "inner";
    case Op::gemv: return "gemv";
    case Op::dequant_f16: return "dequant_f16";
    case Op::dequant_bf16: return "dequant_bf16";
  }
  return "?";
}

bool parse_op(std::string_view name, Op& op) {
  for (const Op o : {Op::dequant, Op::inner, Op::gemv, Op::dequant_f16, Op::dequant_bf16})
    if (op_name(o) == name) {
      op = o;
      return true;
    }
  return false;
}

std::string target_label(const Variant& v) {
  return v.target.backend ? v.target.name + " @ " + std::string(v.target.backend->name()) : v.target.name;
}

const ActivationFormat& f32_activation() {
  static const ActivationFormat act{
      "f32", [](int64_t cols) { return static_cast<std::size_t>(cols) * sizeof(float); },
      [](const float* x, int64_t cols, uint8_t* out) { std::memcpy(out, x, static_cast<std::size_t>(cols) * 4); },
      [](const uint8_t* act, int64_t cols, float* out) { std::memcpy(out, act, static_cast<std::size_t>(cols) * 4); }};
  return act;
}

const std::vector<Format>& formats() {
  static const std::vector<Format> all = [] {
    std::vector<Format> v;
    for (const Family& fam : families()) v.insert(v.end(), fam.formats.begin(), fam.formats.end());
    return v;
  }();
  return all;
}

const Format* find_format(std::string_view id) {
  for (const auto& f : formats())
    if (f.id == id) return &f;
  return nullptr;
}

std::string implemented_format_ids(std::string_view sep) {
  std::string s;
  for (const auto& f : formats())
    if (f.implemented()) s += (s.empty() ? "" : std::string(sep)) + f.id;
  return s;
}

const std::vector<Variant>& variants() {
  static const std::vector<Variant> all = [] {
    std::vector<Variant> v;
    const auto reference = [&](const Format& f, Op op, DequantFn dequant, GemvFn gemv) {
      Variant r;
      r.name = f.id + "_" + std::string(op_name(op)) + "_ref";
      r.format = f.id;
      r.op = op;
      r.target = {nullptr, kIsaScalar, "scalar"};
      r.dequant = dequant;
      r.gemv = gemv;
      r.batches = gemv != nullptr && f.gemv_ref_batches;
      r.reference = true;
      v.push_back(std::move(r));
    };
    for (const auto& f : formats()) {
      if (f.dequant_ref) reference(f, Op::dequant, f.dequant_ref, nullptr);
      // The 16-bit decodes' reference is the fp32 decode rounded by the harness (harness/run.cpp),
      // defined where that decode is exact.
      if (f.dequant_ref && !f.dequant_bounds) {
        reference(f, Op::dequant_f16, f.dequant_ref, nullptr);
        reference(f, Op::dequant_bf16, f.dequant_ref, nullptr);
      }
      if (f.inner_ref) reference(f, Op::inner, f.inner_ref, nullptr);
      if (f.gemv_ref) reference(f, Op::gemv, nullptr, f.gemv_ref);
    }
    for (auto& k : make_optimized_variants()) v.push_back(std::move(k));
    // A name listed twice would run (and report) one kernel under two lines.
    std::set<std::string> names;
    for (const Variant& k : v)
      if (!names.insert(k.name).second)
        throw std::logic_error("variant " + k.name + " is registered twice (a duplicated kernel list line?)");
    return v;
  }();
  return all;
}

Selection select_variants(const std::vector<Variant>& pool, std::string_view format, Op op, uint64_t isa_cap) {
  Selection s;
  const uint64_t have = cpu_info().features;
  for (const auto& v : pool) {
    if (v.format != format || v.op != op) continue;
    if (uint64_t miss = missing_features(v.target.features, have))
      s.skipped.emplace_back(&v, "CPU lacks " + feature_names(miss));
    else if (uint64_t over = missing_features(v.target.features, isa_cap))
      s.skipped.emplace_back(&v, "above --isa ceiling " + std::string(isa_level_name(isa_cap)) + " (needs " +
                                     feature_names(over) + ")");
    else
      s.run.push_back(&v);
  }
  return s;
}

}  // namespace qb

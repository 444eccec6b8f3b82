#include "harness/family.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace qb {

const std::vector<Family>& families() {
  static const std::vector<Family> all = make_families();
  return all;
}

const Family* find_family(const std::string& id) {
  for (const Family& f : families())
    if (f.id == id) return &f;
  return nullptr;
}

const Family& family_of(const Format& f) {
  if (const Family* fam = find_family(f.family)) return *fam;
  throw std::logic_error("format " + f.id + " names family " + f.family + ", which is not registered");
}

const Family* family_for_method(const std::string& method) {
  for (const Family& f : families())
    for (const std::string& m : f.quant_methods)
      if (m == method) return &f;
  return nullptr;
}

const ModelContainer* find_container(const std::string& dir, const Family** family) {
  for (const Family& f : families())
    for (const ModelContainer& c : f.containers)
      if (c.detect && c.detect(dir)) {
        if (family) *family = &f;
        return &c;
      }
  return nullptr;
}

const std::vector<GgufTypeId>& gguf_types() {
  static const std::vector<GgufTypeId> all = [] {
    std::vector<GgufTypeId> v;
    std::vector<std::string> owner;
    for (const Family& f : families())
      for (const GgufTypeId& t : f.gguf_types) {
        for (std::size_t i = 0; i < v.size(); ++i)
          if (v[i].id == t.id)
            throw std::logic_error("GGUF type id " + std::to_string(t.id) + " is listed by families " + owner[i] +
                                   " and " + f.id);
        v.push_back(t);
        owner.push_back(f.id);
      }
    return v;
  }();
  return all;
}

const GgufDialect* gguf_dialect_for(const GgufFile& header) {
  for (const Family& f : families())
    for (const GgufDialect& d : f.gguf_dialects)
      if (d.claims && d.claims(header)) return &d;
  return nullptr;
}

const std::vector<GgufTypeId>& gguf_types_for(const GgufFile& header) {
  const GgufDialect* d = gguf_dialect_for(header);
  if (!d) return gguf_types();
  // One list per dialect, built once (families() never changes, so the dialects stay put).
  static const std::map<const GgufDialect*, std::vector<GgufTypeId>> merged = [] {
    std::map<const GgufDialect*, std::vector<GgufTypeId>> m;
    for (const Family& f : families())
      for (const GgufDialect& dd : f.gguf_dialects) {
        std::vector<GgufTypeId> v = dd.types;
        for (const GgufTypeId& t : gguf_types())
          if (std::none_of(dd.types.begin(), dd.types.end(), [&](const GgufTypeId& o) { return o.id == t.id; })) v.push_back(t);
        m.emplace(&dd, std::move(v));
      }
    return m;
  }();
  return merged.at(d);
}

const ShapeSuite* find_suite(const std::string& name) {
  for (const Family& fam : families())
    for (const ShapeSuite& s : fam.suites)
      if (s.name == name) return &s;
  return nullptr;
}

std::string known_suites() {
  std::string out;
  for (const Family& fam : families())
    for (const ShapeSuite& s : fam.suites) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

std::string known_quant_methods() {
  std::string s;
  for (const Family& f : families())
    for (const std::string& m : f.quant_methods) s += (s.empty() ? "" : ", ") + m;
  return s;
}

}  // namespace qb

// The variants the parameterized kernel tests run: the registry's, and those of the plugin library
// named by QB_PLUGIN (how ci/mutants.sh puts each mutant kernel under these tests).
#pragma once
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/plugin.h"
#include "harness/registry.h"

namespace qb::test {

inline const std::vector<Variant>& test_pool() {
  static const std::vector<Variant> pool = [] {
    std::vector<Variant> p = variants();
    if (const char* lib = std::getenv("QB_PLUGIN")) {
      std::vector<Variant> more = load_plugin(lib, p);
      p.insert(p.end(), more.begin(), more.end());
    }
    return p;
  }();
  return pool;
}

// The pool's variant of that name; throws std::invalid_argument when none is.
inline const Variant& pool_variant(const std::string& name) {
  for (const Variant& v : test_pool())
    if (v.name == name) return v;
  throw std::invalid_argument("no variant named " + name);
}

// Why this CPU does not run `v` (the selection's reason), or "" when it does.
inline std::string why_not_run(const Variant& v) {
  const Selection sel = select_variants(test_pool(), v.format, v.op, ~0ull);
  if (std::find(sel.run.begin(), sel.run.end(), &v) != sel.run.end()) return "";
  for (const auto& [skipped, why] : sel.skipped)
    if (skipped == &v) return v.name + ": " + why;
  return v.name + " does not run on this CPU";
}

}  // namespace qb::test

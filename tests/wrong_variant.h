// A deliberately wrong q4_0 kernel as a registry variant, for tests that show the harness
// catching it.
#pragma once
#include "harness/registry.h"

namespace qb::test {

inline Variant wrong_q4_0_variant(const char* name, Op op, DequantFn dequant, GemvFn gemv) {
  Variant v;
  v.name = name;
  v.format = "q4_0";
  v.op = op;
  v.target.name = "scalar";
  v.dequant = dequant;
  v.gemv = gemv;
  return v;
}

}  // namespace qb::test

// The optimized variants of the arch this binary is built for, from its kernel list
// (optimized/<arch>/kernels.inc): name, format, op and ISA are derived from the one line.
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "harness/cpu_features.h"
#include "harness/registry.h"

#if defined(__x86_64__)
#include "optimized/x86/kernels.h"
#endif

namespace qb {
namespace {

template <typename Fn>
Variant kernel_variant(const char* format, const char* op, const char* isa, uint64_t features, const char* tag,
                       Fn fn, bool batches) {
  Variant v;
  v.format = format;
  if (!parse_op(op, v.op)) throw std::logic_error(std::string("kernel list names an unknown op: ") + op);
  v.name = v.format + "_" + op + "_" + isa + (*tag ? std::string("_") + tag : "");
  v.target.features = features;
  v.target.name = isa;
  if constexpr (std::is_same_v<Fn, GemvFn>)
    v.gemv = fn;
  else if constexpr (std::is_same_v<Fn, Dequant16Fn>)
    v.dequant16 = fn;
  else
    v.dequant = fn;
  v.batches = batches;
  return v;
}

}  // namespace

std::vector<Variant> make_optimized_variants() {
  std::vector<Variant> v;
#if defined(__x86_64__)
#define QB_KERNEL(format, op, isa) \
  v.push_back(kernel_variant(#format, #op, #isa, isa_level::isa, "", &x86::format##_##op##_##isa, false));
#define QB_BATCH_KERNEL(format, op, isa) \
  v.push_back(kernel_variant(#format, #op, #isa, isa_level::isa, "", &x86::format##_##op##_##isa, true));
#define QB_KERNEL_TAGGED(format, op, isa, tag)                                                \
  v.push_back(kernel_variant(#format, #op, #isa, isa_level::isa, #tag, &x86::format##_##op##_##isa##_##tag, \
                             false));
#include "optimized/x86/kernels.inc"
#undef QB_KERNEL
#undef QB_BATCH_KERNEL
#undef QB_KERNEL_TAGGED
#endif
  return v;
}

}  // namespace qb

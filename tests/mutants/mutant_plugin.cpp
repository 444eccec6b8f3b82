// One mutant kernel as a plugin (harness/qb_plugin.h): CMake compiles this file with the mutated
// kernel's source, both with -DQB_MUTANT=<id> (optimized/mutation.h switches the bug on) and
// -DQB_MUTANT_KERNEL=<format>_<op>_<isa>[_<tag>] (the function that carries it). Its one kernel,
// mutant_<id>, takes format, op, isa and flags from that kernel's line of kernels.inc.
#include <cstdint>
#include <type_traits>

#include "harness/qb_plugin.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"

#if !defined(QB_MUTANT) || !defined(QB_MUTANT_KERNEL)
#error "mutant_plugin.cpp needs -DQB_MUTANT=<id> and -DQB_MUTANT_KERNEL=<kernel function>"
#endif

namespace {

struct Line {
  const char* format = nullptr;
  const char* op = nullptr;
  const char* isa = nullptr;
  uint32_t flags = 0;
};

// The kernels.inc line of QB_MUTANT_KERNEL, found at compile time (names only: no other kernel
// function is referenced, so the library links from the one kernel source).
constexpr Line line_of_kernel() {
  constexpr const char* kWant = QB_MUTANT_STR(QB_MUTANT_KERNEL);
#define QB_MUTANT_LINE(format, op, isa, fn, flags) \
  if (::qb::mutation::same_id(#fn, kWant)) return Line{#format, #op, #isa, flags};
#define QB_KERNEL(format, op, isa) QB_MUTANT_LINE(format, op, isa, format##_##op##_##isa, 0u)
#define QB_BATCH_KERNEL(format, op, isa) QB_MUTANT_LINE(format, op, isa, format##_##op##_##isa, QB_KERNEL_BATCH)
#define QB_KERNEL_TAGGED(format, op, isa, tag) QB_MUTANT_LINE(format, op, isa, format##_##op##_##isa##_##tag, 0u)
#include "optimized/x86/kernels.inc"
#undef QB_KERNEL
#undef QB_BATCH_KERNEL
#undef QB_KERNEL_TAGGED
#undef QB_MUTANT_LINE
  return Line{};
}
constexpr Line kLine = line_of_kernel();
static_assert(kLine.format != nullptr, "QB_MUTANT_KERNEL is not a kernel of optimized/x86/kernels.inc");

// The kernel's function in the slot its signature (its op) selects.
template <typename Slot, typename Fn>
constexpr Slot as(Fn f) {
  if constexpr (std::is_same_v<Slot, Fn>)
    return f;
  else
    return nullptr;
}

const qb_kernel kKernels[] = {
    {"mutant_" QB_MUTANT_STR(QB_MUTANT), kLine.format, kLine.op, kLine.isa,
     as<qb_dequant_fn>(&qb::x86::QB_MUTANT_KERNEL), as<qb_gemv_fn>(&qb::x86::QB_MUTANT_KERNEL), kLine.flags,
     as<qb_dequant16_fn>(&qb::x86::QB_MUTANT_KERNEL), nullptr, nullptr},
};

const qb_plugin kPlugin = {QB_PLUGIN_ABI_VERSION, "quantbench mutant " QB_MUTANT_STR(QB_MUTANT), kKernels, 1};

}  // namespace

extern "C" __attribute__((visibility("default"))) const qb_plugin* qb_plugin_init(void) { return &kPlugin; }

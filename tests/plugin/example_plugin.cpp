// An external-kernel plugin (harness/qb_plugin.h) made of a few of quantbench's own x86 kernels,
// compiled into this library from their sources (CMake: qb_example_plugin), without the
// quantbench library or its registry. `verify --plugin` must pass them exactly as it passes the
// registry's copies; the test suite (tests/plugin_test.cpp) checks that it does.
#include "harness/qb_plugin.h"
#include "optimized/x86/kernels.h"

namespace {

// Flags follow optimized/x86/kernels.inc: these four are listed with QB_KERNEL (no batching).
const qb_kernel kKernels[] = {
    {"example_q4_0_dequant_avx2", "q4_0", "dequant", "avx2", qb::x86::q4_0_dequant_avx2, nullptr, 0, nullptr, nullptr, nullptr},
    {"example_q4_0_dequant_avx512", "q4_0", "dequant", "avx512", qb::x86::q4_0_dequant_avx512, nullptr, 0, nullptr, nullptr, nullptr},
    {"example_q4_0_gemv_avx2", "q4_0", "gemv", "avx2", nullptr, qb::x86::q4_0_gemv_avx2, 0, nullptr, nullptr, nullptr},
    {"example_q8_0_gemv_avx512vnni", "q8_0", "gemv", "avx512vnni", nullptr, qb::x86::q8_0_gemv_avx512vnni, 0, nullptr, nullptr, nullptr},
};

const qb_plugin kPlugin = {QB_PLUGIN_ABI_VERSION, "quantbench example plugin", kKernels,
                           static_cast<int32_t>(sizeof kKernels / sizeof kKernels[0])};

}  // namespace

// The library is built with hidden visibility (its kernels bind to its own copies); only the
// init symbol is exported.
extern "C" __attribute__((visibility("default"))) const qb_plugin* qb_plugin_init(void) { return &kPlugin; }

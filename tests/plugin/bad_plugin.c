/* Plugins that must be refused at load time, one library per defect (CMake builds this file once
 * per BAD_* macro): tests/plugin_test.cpp checks that load_plugin names the library and the field
 * or kernel at fault. The kernel is never run. */
#include <stddef.h>

#include "qb_plugin.h"

/* Exported (not static) so every build uses it, the null_fn one included. */
void noop_dequant(const qb_weight* w, int64_t row_begin, int64_t row_end, float* out) {
  (void)w;
  (void)row_begin;
  (void)row_end;
  (void)out;
}

#if defined(BAD_null_fn)
#define DEQUANT NULL
#else
#define DEQUANT noop_dequant
#endif

#if defined(BAD_format)
#define FORMAT "q9_9"
#else
#define FORMAT "q4_0"
#endif

#if defined(BAD_op)
#define OP "matmul"
#else
#define OP "dequant"
#endif

#if defined(BAD_isa)
#define ISA "sse9"
#else
#define ISA "scalar"
#endif

static const qb_kernel kernels[] = {
    {"bad_kernel", FORMAT, OP, ISA, DEQUANT, NULL, 0, NULL, NULL, NULL},
#if defined(BAD_duplicate)
    {"bad_kernel", FORMAT, OP, ISA, DEQUANT, NULL, 0, NULL, NULL, NULL},
#endif
};

#if defined(BAD_abi)
#define ABI 99
#else
#define ABI QB_PLUGIN_ABI_VERSION
#endif

static const qb_plugin plugin = {ABI, "bad plugin (test)", kernels, (int32_t)(sizeof kernels / sizeof kernels[0])};

#if defined(BAD_no_init)
/* Exports a function, but not qb_plugin_init. */
const qb_plugin* qb_plugin_get(void) { return &plugin; }
#elif defined(BAD_null_return)
const qb_plugin* qb_plugin_init(void) { return NULL; }
const qb_plugin* qb_plugin_get(void) { return &plugin; }
#else
const qb_plugin* qb_plugin_init(void) { return &plugin; }
#endif

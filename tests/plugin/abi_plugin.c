/* Plugins for the ABI versions the harness loads (tests/plugin_test.cpp), both a correct scalar
 * q4_0 decode:
 *   default         ABI 3: "abi3_q4_0_dequant_own" (QB_KERNEL_OWN_THREADS) and
 *                   "abi3_q4_0_dequant_rows" (the harness's row split), both with prepare/release
 *                   hooks that count, so the test sees the harness pair them around every run and
 *                   call the own-threads kernel once with all rows and the run's thread count.
 *   -DABI2_LAYOUT   a library as built against ABI 2's header: its qb_kernel ends at dequant16, so
 *                   a harness that read it with ABI 3's stride would take kernel 1's name from the
 *                   middle of kernel 0. Two kernels, "abi2_q4_0_dequant_a" and "_b".
 * The test reads the counters through abi_plugin_stats (it dlopens the same file again). */
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "qb_plugin.h"

/* q4_0: 18-byte blocks (fp16 d, 16 bytes of nibbles), value (q - 8) * d. */
static float half_to_float(const unsigned char* p) {
  const unsigned h = (unsigned)p[0] | (unsigned)p[1] << 8, e = (h >> 10) & 31, m = h & 1023;
  float f;
  if (e == 0) {
    f = (float)m * (1.0f / 16777216.0f); /* subnormal: m * 2^-24 */
  } else if (e == 31) {
    unsigned bits = (h & 0x8000u) << 16 | 0x7F800000u | m << 13;
    if (m) bits |= 0x400000u; /* quiet, as the harness's widening does */
    memcpy(&f, &bits, 4);
    return f;
  } else {
    unsigned bits = (e + 112) << 23 | m << 13;
    memcpy(&f, &bits, 4);
  }
  return (h & 0x8000u) ? -f : f;
}

static void q4_0_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const unsigned char* blocks = (const unsigned char*)w->tensors[0].data;
  const int64_t nb = w->cols / 32;
  int64_t r, b;
  int j;
  for (r = r0; r < r1; ++r)
    for (b = 0; b < nb; ++b) {
      const unsigned char* blk = blocks + (r * nb + b) * 18;
      const float d = half_to_float(blk);
      float* y = out + r * w->cols + b * 32;
      for (j = 0; j < 16; ++j) {
        y[j] = (float)((blk[2 + j] & 15) - 8) * d;
        y[j + 16] = (float)((blk[2 + j] >> 4) - 8) * d;
      }
    }
}

/* What the test reads back. Hooks and the own-threads kernel run on one thread at a time. */
static long g_prepares, g_releases, g_own_calls;
static int g_threads, g_refuse;
static int64_t g_r0 = -1, g_r1 = -1;

void abi_plugin_stats(long* prepares, long* releases, long* own_calls, int* threads, int64_t* r0, int64_t* r1) {
  *prepares = g_prepares;
  *releases = g_releases;
  *own_calls = g_own_calls;
  *threads = g_threads;
  *r0 = g_r0;
  *r1 = g_r1;
}
/* refuse != 0: prepare refuses every weight from now on. */
void abi_plugin_reset(int refuse) {
  g_prepares = g_releases = g_own_calls = 0;
  g_threads = 0;
  g_r0 = g_r1 = -1;
  g_refuse = refuse;
}

#if defined(ABI2_LAYOUT)

typedef struct kernel_v2 { /* ABI 2's qb_kernel, field for field */
  const char* name;
  const char* format;
  const char* op;
  const char* isa;
  qb_dequant_fn dequant;
  qb_gemv_fn gemv;
  uint32_t flags;
  qb_dequant16_fn dequant16;
} kernel_v2;

static const kernel_v2 kernels[] = {
    {"abi2_q4_0_dequant_a", "q4_0", "dequant", "scalar", q4_0_dequant, NULL, 0, NULL},
    {"abi2_q4_0_dequant_b", "q4_0", "dequant", "scalar", q4_0_dequant, NULL, 0, NULL},
};
static const qb_plugin plugin = {2, "ABI 2 layout (test)", (const qb_kernel*)(const void*)kernels, 2};

#else

static const char* prepare(const qb_weight* w) {
  (void)w;
  if (g_refuse) return "refused on purpose (test)";
  ++g_prepares;
  return NULL;
}
static void release(const qb_weight* w) {
  (void)w;
  ++g_releases;
}
static void own_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  ++g_own_calls;
  g_threads = omp_get_max_threads();
  g_r0 = r0;
  g_r1 = r1;
  q4_0_dequant(w, r0, r1, out);
}

static const qb_kernel kernels[] = {
    {"abi3_q4_0_dequant_own", "q4_0", "dequant", "scalar", own_dequant, NULL, QB_KERNEL_OWN_THREADS, NULL, prepare,
     release},
    {"abi3_q4_0_dequant_rows", "q4_0", "dequant", "scalar", q4_0_dequant, NULL, 0, NULL, prepare, release},
};
static const qb_plugin plugin = {QB_PLUGIN_ABI_VERSION, "ABI 3 hooks and own threads (test)", kernels, 2};

#endif

const qb_plugin* qb_plugin_init(void) { return &plugin; }

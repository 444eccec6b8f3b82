/* quantbench kernel ABI: what every kernel receives, ours and external ones alike.
 *
 * A kernel is a plain C function over a prepared weight (qb_weight): the stored tensors of one
 * quantized weight in the order its format's layout lists them (README, "Formats"), plus the
 * format's typed parameters as integers. The harness builds a qb_weight once per weight; no
 * kernel parses JSON or looks a tensor up by name.
 *
 * External kernels: build a shared library exporting
 *     const qb_plugin* qb_plugin_init(void);
 * and pass it to `verify --plugin LIB.so PATH...` or `bench --plugin LIB.so`. Its kernels are
 * checked and timed exactly like quantbench's own (same fixtures, bounds and reports).
 * Plain C, no C++ types: any compiler and language that speaks the C ABI can implement it. */
#ifndef QB_PLUGIN_H
#define QB_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: ops "dequant_f16" and "dequant_bf16" with qb_kernel.dequant16.
 * 3: per-weight hooks qb_kernel.prepare / release and the flag QB_KERNEL_OWN_THREADS. A harness of
 *    ABI 3 still loads libraries built for 2 (their qb_kernel ends at dequant16; it reads them
 *    with that layout, hooks null). */
#define QB_PLUGIN_ABI_VERSION 3
#define QB_PLUGIN_ABI_VERSION_MIN 2 /* the oldest version this harness loads */

/* One stored tensor: its bytes as the container holds them (no alignment promised). */
typedef struct qb_tensor {
  const void* data;
  int64_t nbytes;
} qb_tensor;

/* A quantized weight of rows = output features x cols = input features. */
typedef struct qb_weight {
  const char* format;        /* registry id, as `verify` lists them */
  int64_t rows, cols;
  const qb_tensor* tensors;  /* the format's stored tensors, in its layout order */
  int32_t n_tensors;
  const int64_t* params;     /* the format's typed parameters, in its documented order */
  int32_t n_params;
} qb_weight;

/* Row ranges: [row_begin, row_end) counts output rows, except for a format whose stored units
 * interleave bands of rows (its documented row_bands B > 1: a packed row holding B rows P apart): there it
 * counts units, and a call writes rows u + b * ceil(rows / B) below rows for u in the range and
 * every band b.
 *
 * Full decode (op "dequant") or exact intermediate (op "inner") of rows [row_begin, row_end):
 * writes out[r * cols + c] for those rows; `out` is the [rows, cols] fp32 base. */
typedef void (*qb_dequant_fn)(const qb_weight* w, int64_t row_begin, int64_t row_end, float* out);

/* Full decode into 16-bit floats (ops "dequant_f16", "dequant_bf16"): writes out[r * cols + c] as
 * IEEE binary16 / bfloat16 bits, each one round-to-nearest-even of the exact fp32 decode (a NaN
 * keeps sign and top payload bits, quiet bit set; subnormals are not flushed). */
typedef void (*qb_dequant16_fn)(const qb_weight* w, int64_t row_begin, int64_t row_end, uint16_t* out);

/* y = W x for m activation vectors: `act` holds m activations back to back in the format's
 * activation encoding (fp32, or the int8 blocks the format quantizes x to), `y` is [m][rows]; the kernel
 * writes y[i * rows + r] for r in [row_begin, row_end). A kernel without QB_KERNEL_BATCH is only
 * ever called with m = 1. */
typedef void (*qb_gemv_fn)(const qb_weight* w, const uint8_t* act, int64_t m, int64_t row_begin, int64_t row_end,
                           float* y);

/* Per-weight hooks (ABI 3; each optional). The harness calls prepare(w) before the kernel's first
 * call on w, from one thread and outside any timing: bench once per rotated copy of a weight before
 * a row's clock starts, verify before each checked run. Each prepare that returns NULL (success) is
 * paired with one release(w) after the kernel's last call on w (release without prepare: that
 * call alone). Until release returns, w and everything it points to stay as they are, and the kernel
 * is called with this same w, so state may be keyed on w or on its tensors' data pointers: a
 * repacked copy of the weight, a device upload. Pairs for different weights overlap (bench prepares
 * every copy, runs, then releases them all), and pairs for the same weight may nest: count them.
 * prepare returns NULL, or a message (valid until the next call into the kernel on this thread)
 * saying why it cannot take w; the harness then reports the kernel failed on w and never calls it
 * on w. */
typedef const char* (*qb_prepare_fn)(const qb_weight* w);
typedef void (*qb_release_fn)(const qb_weight* w);

/* qb_kernel.flags */
#define QB_KERNEL_BATCH 1u   /* gemv: one call serves m > 1 vectors (decode once) */
#define QB_KERNEL_ANY_NAN 2u /* NaN outputs may carry any payload (GPU-style canonical NaN) */
/* ABI 3: the kernel splits the rows over threads of its own. The harness calls it once per op
 * (per vector for a gemv without QB_KERNEL_BATCH) with the whole row range (a banded format: all
 * units), from one thread outside any OpenMP parallel region, and sets the run's thread count as
 * that thread's OpenMP default for the call (omp_set_num_threads): the kernel reads it with
 * omp_get_max_threads() and may run that many threads. Results must still be the same bits for
 * every thread count. */
#define QB_KERNEL_OWN_THREADS 4u

typedef struct qb_kernel {
  const char* name;    /* unique, e.g. "acme_<format>_gemv_avx2" */
  const char* format;  /* registry id of the weights it takes */
  const char* op;      /* "dequant", "inner", "gemv", "dequant_f16" or "dequant_bf16" */
  /* CPU features it needs, as an ISA level: "scalar", "avx2", "avx512", "avx512vnni",
   * "avx512vbmi"; the harness never runs it on a CPU without them. */
  const char* isa;
  qb_dequant_fn dequant; /* set for dequant and inner */
  qb_gemv_fn gemv;       /* set for gemv */
  uint32_t flags;
  qb_dequant16_fn dequant16; /* set for dequant_f16 and dequant_bf16 */
  /* ABI 3: optional per-weight hooks (above); NULL when unused. */
  qb_prepare_fn prepare;
  qb_release_fn release;
} qb_kernel;

typedef struct qb_plugin {
  uint32_t abi_version; /* QB_PLUGIN_ABI_VERSION */
  const char* name;
  const qb_kernel* kernels;
  int32_t n_kernels;
} qb_plugin;

typedef const qb_plugin* (*qb_plugin_init_fn)(void);
#define QB_PLUGIN_INIT_SYMBOL "qb_plugin_init"

#ifdef __cplusplus
}
#endif

#endif /* QB_PLUGIN_H */

/* A deliberately wrong external kernel, in plain C (C99, no C++ anywhere: the plugin ABI is C).
 * A scalar q4_0 dequant that decodes element 17 of every block from the wrong nibble: the low
 * nibble of qs[1] (element 1's) instead of the high one. `verify --plugin` must fail it with the
 * usual first-bad-block report and a repro line that loads this library again.
 *
 * q4_0 block (18 bytes): fp16 scale d, then 16 bytes qs; element j < 16 is (qs[j] & 0xF) - 8,
 * element j + 16 is (qs[j] >> 4) - 8, each times d widened to fp32. */
#include <stdint.h>
#include <string.h>

#include "qb_plugin.h"

/* fp16 -> fp32, exact; NaNs are quieted with their payload kept (what vcvtph2ps does). */
static float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu, bits;
  float f;
  if (exp == 0x1Fu) {
    bits = sign | 0x7F800000u | (mant << 13) | (mant ? 0x400000u : 0u);
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { /* subnormal: normalize */
      uint32_t e = 113;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((mant & 0x3FFu) << 13);
    }
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  memcpy(&f, &bits, sizeof f);
  return f;
}

static void wrong_q4_0_dequant(const qb_weight* w, int64_t row_begin, int64_t row_end, float* out) {
  const uint8_t* blocks = (const uint8_t*)w->tensors[0].data; /* q4_0: one tensor, `blocks` */
  const int64_t nb = w->cols / 32;
  int64_t r, b;
  int j;
  for (r = row_begin; r < row_end; ++r) {
    for (b = 0; b < nb; ++b) {
      const uint8_t* blk = blocks + (r * nb + b) * 18;
      const uint8_t* qs = blk + 2;
      float* y = out + r * w->cols + b * 32;
      uint16_t dh;
      float d;
      memcpy(&dh, blk, 2);
      d = half_to_float(dh);
      for (j = 0; j < 16; ++j) {
        y[j] = (float)((qs[j] & 0xF) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
      }
      y[17] = (float)((qs[1] & 0xF) - 8) * d; /* the bug: should be qs[1] >> 4 */
    }
  }
}

static const qb_kernel kernels[] = {
    {"wrong_q4_0_dequant_scalar", "q4_0", "dequant", "scalar", wrong_q4_0_dequant, 0, 0, 0, 0, 0},
};

static const qb_plugin plugin = {QB_PLUGIN_ABI_VERSION, "wrong nibble (test)", kernels, 1};

const qb_plugin* qb_plugin_init(void) { return &plugin; }

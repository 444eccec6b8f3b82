// iq4_xs golden reference (specs/ggml.md 3.21, 4.2); compiled with -ffp-contract=off.
#include "reference/ggml/iq4_xs.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "reference/common/half.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq4_nl.h"
#include "reference/ggml/iq_common.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/nearest_int.h"
#include "reference/ggml/q8_K_exact_case.h"

namespace qb::ggml {
namespace {

// Sub-block ib's 6-bit scale code ls (the signed scale is ls - 32).
int scale_code(const uint8_t* blk, int ib) {
  const int low = (blk[4 + ib / 2] >> (4 * (ib % 2))) & 15;
  const int high = (load_u16(blk + 2) >> (2 * ib)) & 3;
  return low | high << 4;
}

void dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const int64_t nb = w->cols / kQK_K;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK_K, sizeof(BlockIQ4_XS));
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b, blk += sizeof(BlockIQ4_XS)) {
      const float d = fp16_to_f32(load_u16(blk));
      for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32) {
        const float dl = d * static_cast<float>(scale_code(blk, ib) - 32);
        const uint8_t* qs = blk + 8 + 16 * ib;
        for (int j = 0; j < 16; ++j) {
          y[j] = dl * static_cast<float>(kvalues_iq4nl[qs[j] & 15]);
          y[j + 16] = dl * static_cast<float>(kvalues_iq4nl[qs[j] >> 4]);
        }
      }
    }
  }
}

// quantize_iq4_xs(..., imatrix = NULL): each 32-group's scale from the iq4_nl fit with the
// search (ntry = 7); d = -(the group scale of largest |scale|, first wins ties)/32 in fp32;
// group codes l = clamp(nearest_int(scale/d), -32, 31) (through id = 1/d); levels re-chosen
// with 1/(d*l) from the fp32 d, not its fp16 rounding. A group with scale 0 (all |x| < 1e-15, or
// l = 0) gets 1/(d*l) = 0, hence level index 8 (+1) everywhere.
void encode_block(const float* x, uint8_t* out) {
  float scales[kQK_K / 32];
  float max_scale = 0.0f, amax_scale = 0.0f;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    uint8_t unused[32];
    scales[ib] = iq4_nl_group_scale(x + 32 * ib, 7, unused);
    if (std::fabs(scales[ib]) > amax_scale) {
      amax_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  BlockIQ4_XS blk{};
  const float d = -max_scale / 32;
  blk.d = f32_to_fp16(d);
  const float id = d != 0.0f ? 1 / d : 0.0f;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    int l = nearest_int(id * scales[ib]);
    l = l < -32 ? -32 : (l > 31 ? 31 : l);
    const float dl = d * static_cast<float>(l);
    const float idl = dl != 0.0f ? 1 / dl : 0.0f;
    const float* xb = x + 32 * ib;
    for (int j = 0; j < 16; ++j)
      blk.qs[16 * ib + j] =
          static_cast<uint8_t>(iq4_nl_index(idl * xb[j]) | iq4_nl_index(idl * xb[j + 16]) << 4);
    const int code = l + 32;
    blk.scales_l[ib / 2] |= static_cast<uint8_t>((code & 15) << (4 * (ib % 2)));
    blk.scales_h |= static_cast<uint16_t>((code >> 4) << (2 * ib));
  }
  std::memcpy(out, &blk, sizeof blk);
}

// Upstream ggml_vec_dot_iq4_xs_q8_K: d4d8 = d_w*d_x once per block, then per 32-group in order
// sumf += (d4d8*(float)(ls-32))*(float)sumi, sumi the exact sum of level*code.
void gemv(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0, int64_t r1, float* y) {
  q8_K_paired_gemv<sizeof(BlockIQ4_XS)>(w, act, r0, r1, y, 1.0f, [](const uint8_t* blk, const uint8_t* ab, float& sumf) {
    const float d4d8 = fp16_to_f32(load_u16(blk)) * q8_K_d(ab);
    const int8_t* q8 = q8_K_qs(ab);
    for (int ib = 0; ib < kQK_K / 32; ++ib, q8 += 32) {
      const uint8_t* qs = blk + 8 + 16 * ib;
      int32_t sumi = 0;
      for (int j = 0; j < 16; ++j) {
        sumi += kvalues_iq4nl[qs[j] & 15] * q8[j];
        sumi += kvalues_iq4nl[qs[j] >> 4] * q8[j + 16];
      }
      sumf += (d4d8 * static_cast<float>(scale_code(blk, ib) - 32)) * static_cast<float>(sumi);
    }
  });
}

// q8_K_exact_case's view: element j of sub-block ib is (ls - 32) * kv_j in units of d. The levels
// are signed (-127..113); a kernel may make them unsigned for u8 x s8 instructions (kv + 128) and
// take 128 * (ls - 32) * bsum off: every subset of the pieces is at most |ls - 32| (|kv| + 128) |x8|.
void exact_terms(const uint8_t* blk, ExactTerms& t) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const int ls = scale_code(blk, ib) - 32;
    const uint8_t* qs = blk + 8 + 16 * ib;
    for (int j = 0; j < 16; ++j) {
      t.scaled[32 * ib + j] = static_cast<int64_t>(std::abs(ls)) * (std::abs(kvalues_iq4nl[qs[j] & 15]) + 128);
      t.scaled[32 * ib + 16 + j] = static_cast<int64_t>(std::abs(ls)) * (std::abs(kvalues_iq4nl[qs[j] >> 4]) + 128);
      t.min[32 * ib + j] = t.min[32 * ib + 16 + j] = 0;
    }
  }
}

}  // namespace

Format iq4_xs_format(Format f) {
  f.activation = &q8_K_activation();
  f.fp16_scale_offsets = {0};
  f.dequant_ref = dequant;
  f.gemv_ref = gemv;
  f.encode_ref = encode_blocks<kQK_K, sizeof(BlockIQ4_XS), encode_block>;
  f.gemv_rounding_depth = iq_q8_K_rounding_depth;
  f.exact_gemv_case = q8_K_exact_case<exact_terms>;
  return f;
}

}  // namespace qb::ggml

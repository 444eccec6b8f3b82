// q8_K as a GEMV input: what ggml's mul_mat feeds to every 256-element vec_dot (k-quants, iq*,
// tq*). specs/ggml.md 3.17.
#pragma once
#include <cstdint>
#include <cstring>

#include "harness/registry.h"

namespace qb::ggml {

constexpr int kQK_K = 256;
// fp32 d, 256 int8 levels, 16 int16 sums of 16 levels each (for the min/offset terms).
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "q8_K block is 292 bytes");

// Upstream quantize_row_q8_K_ref, which is also the x86 from_float: max = the first element of
// largest |x| (signed; NaN never wins), iscale = -127/max, qs = min(127, nearest_int(iscale*x))
// (round half to even), d = 1/iscale, bsums = sums of 16. A block with amax == 0 gets d = 0 and
// zero levels; upstream leaves its bsums unwritten, here they are 0 (what the golden vectors'
// zero-filled buffers hold). n must be a positive multiple of 256 (std::invalid_argument).
void quantize_row_q8_K(const float* x, int64_t n, uint8_t* out);
// dequantize_row_q8_K: y = d * (float)qs.
void dequantize_row_q8_K(const uint8_t* blocks, int64_t n, float* out);

// Unaligned reads of a q8_K block's fields (blocks in a byte buffer carry no alignment).
inline float q8_K_d(const uint8_t* blk) {
  float d;
  std::memcpy(&d, blk, 4);
  return d;
}
inline const int8_t* q8_K_qs(const uint8_t* blk) { return reinterpret_cast<const int8_t*>(blk + 4); }
inline int16_t q8_K_bsum(const uint8_t* blk, int j) {
  int16_t s;
  std::memcpy(&s, blk + 260 + 2 * j, 2);
  return s;
}

const ActivationFormat& q8_K_activation();

}  // namespace qb::ggml

// What every GGML block format shares: one U8 tensor `blocks` [rows, cols/QK * block_bytes].
#pragma once
#include <cstdint>
#include <functional>
#include <cstring>
#include <string>
#include <vector>

#include "harness/family.h"
#include "harness/registry.h"

namespace qb::ggml {

// A registry entry with GGML block geometry and no functions yet (the catalog of types that
// fixtures may name); implemented types fill in their functions.
Format block_format(std::string id, int64_t block_elems, int64_t block_bytes);

// All GGML weight types of specs/ggml.md section 2 with their geometry.
std::vector<Format> ggml_catalog();

Family ggml_family();

// Row `row` of a weight's one tensor, `blocks`, for a type of `qk` elements in `block_bytes`.
inline const uint8_t* row_blocks(const qb_weight* w, int64_t row, int64_t qk, int64_t block_bytes) {
  return static_cast<const uint8_t*>(w->tensors[0].data) + row * (w->cols / qk) * block_bytes;
}

// dequantize_row_<type>'s loop over rows [r0, r1) of a type of kQK-element blocks of kBlockBytes:
// decode_block(block, y) writes the block's kQK outputs, rounded as the type's spec section says.
template <int64_t kQK, int64_t kBlockBytes, typename DecodeBlock>
void dequant_blocks(const qb_weight* w, int64_t r0, int64_t r1, float* out, DecodeBlock decode_block) {
  const int64_t nb = w->cols / kQK;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, kQK, kBlockBytes);
    float* y = out + r * w->cols;
    for (int64_t b = 0; b < nb; ++b) decode_block(blk + b * kBlockBytes, y + b * kQK);
  }
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Format::encode_ref of a type of kQK-element blocks of kBlockBytes: the rows*cols source
// elements, row-major, in runs of kQK, each written by kEncodeBlock(x, out) (one block of the
// type's quantize_row_*_ref) into the next block of the weight's one tensor, `blocks`.
template <int64_t kQK, int64_t kBlockBytes, void (*kEncodeBlock)(const float* x, uint8_t* out)>
void encode_blocks(const float* src, int64_t rows, int64_t cols, const nlohmann::json&,
                   std::vector<std::vector<uint8_t>>& tensors) {
  const int64_t nb = rows * cols / kQK;
  tensors.assign(1, std::vector<uint8_t>(static_cast<std::size_t>(nb * kBlockBytes)));
  for (int64_t b = 0; b < nb; ++b) kEncodeBlock(src + b * kQK, tensors[0].data() + b * kBlockBytes);
}

// kEncodeBlock, which fills a Block, as encode_blocks takes it: the tensor's bytes carry no
// alignment, so the block is built aside and copied in.
template <typename Block, void (*kEncodeBlock)(const float* x, Block& y)>
void encode_into_bytes(const float* x, uint8_t* out) {
  Block y;
  kEncodeBlock(x, y);
  std::memcpy(out, &y, sizeof y);
}

// GGML's q8_0-paired dot products hold at most 2 roundings per block term (d_w*d_x and its
// product with the exact integer block sum, or an FMA) plus one addition per block in a
// sequential sum; SIMD kernels split the sum over up to 64 lanes and reduce them by a tree
// (<= 6 more additions). Any such evaluation is within gamma_n of the exact sum of terms.
inline int64_t q8_0_paired_rounding_depth(int64_t cols) { return cols / 32 + 2 + 6; }

// Format::exact_gemv_case of the 32-element formats paired with q8_0 (reference/ggml/exact_case.cpp):
// power-of-two weight and activation scales small enough that every value a kernel forms is exact.
bool q8_0_paired_exact_case(const Format& f, int64_t rows, int64_t cols, uint64_t seed,
                            std::vector<std::vector<uint8_t>>& tensors, std::vector<uint8_t>& act);

// A q4_0 or q8_0 GEMV case written from integer codes and power-of-two scales (d = 2^e): weight
// code (r, b, j) in the format's range with exponent wexp(r, b), activation code (i, b, j) in
// [-128, 127] with exponent aexp(i, b), for rows x nb blocks and m vectors. y [m][rows] is the
// exact result, int64 block sums times powers of two; `exact` says whether every partial sum a
// kernel may form (at most sum |w*x| in magnitude, a multiple of the smallest 2^(e_w+e_x)) is
// exact in fp32, so that every summation order gives y's bits (reference/ggml/exact_case.cpp).
struct IntegerCodeCase {
  std::vector<uint8_t> blocks, act;
  std::vector<float> y;
  bool exact = true;
};
IntegerCodeCase integer_code_case(const Format& f, int64_t rows, int64_t nb, int64_t m,
                                  const std::function<int(int64_t r, int64_t b, int j)>& wcode,
                                  const std::function<int(int64_t r, int64_t b)>& wexp,
                                  const std::function<int(int64_t i, int64_t b, int j)>& acode,
                                  const std::function<int(int64_t i, int64_t b)>& aexp);

// Upstream's scalar vec_dot order for 32-element formats paired with q8_0 (specs/ggml.md 4.2):
// sumf starts at 0 and adds each block's term in order; `term(weight_block, act_block)` gives the
// block's fp32 term, rounded exactly where the format's upstream code rounds it.
template <int64_t kBlockBytes, typename BlockTerm>
void q8_0_paired_gemv(const qb_weight* w, const uint8_t* act, int64_t r0, int64_t r1, float* y, BlockTerm term) {
  constexpr int64_t kActBlock = 34;  // q8_0: fp16 d + 32 int8
  const int64_t nb = w->cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* blk = row_blocks(w, r, 32, kBlockBytes);
    float sumf = 0.0f;
    for (int64_t b = 0; b < nb; ++b) sumf += term(blk + b * kBlockBytes, act + b * kActBlock);
    y[r] = sumf;
  }
}

}  // namespace qb::ggml

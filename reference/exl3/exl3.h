// EXL3 (ExLlamaV3 trellis) reference: shared vocabulary for the reference decoder, the x86
// kernels, the importer and the model-directory reader (specs/exl3.md).
//
// Orientation: upstream stores W as [k = in, n = out] with y = x.W; the registry's weight is
// [rows = n (out), cols = k (in)], so expect.dequant/expect.inner hold W^T and Ŵ^T.
// Stored tensors (layout()): trellis I16 [k/16, n/16, 16*bits], suh F16 [k], svh F16 [n], and a
// 0-dim I32 marker named "mcg" or "mul1" when that codebook is used (none for 3inst).
// params: {"bits": 1..8, "codebook": "3inst" | "mcg" | "mul1"}; k and n multiples of 128.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "harness/registry.h"

namespace qb::exl3 {

enum class Codebook { inst3, mcg, mul1 };
std::optional<Codebook> codebook_from_name(std::string_view name);  // "3inst", "mcg", "mul1"
std::string_view codebook_name(Codebook cb);

struct Params {
  int bits = 0;  // K, bits per weight
  Codebook codebook = Codebook::inst3;
};
// Params of a weight whose layout was validated (throws std::invalid_argument otherwise).
Params params_of(const QWeight& w);

// Codebook value of a 16-bit trellis state, as fp16 bits (bit-exact, RNE).
uint16_t codebook_value(Codebook cb, uint16_t state);
// The 256 states of one tile from its 16*bits int16 words (tail-biting bit windows).
void tile_states(const uint16_t* tile_words, int bits, uint16_t states[256]);
// Sequence position t (0..255) inside a tile -> row (k offset) and column (n offset).
inline int tile_row(int t) { return 2 * ((t >> 3) & 3) + (t & 1) + ((t & 2) ? 8 : 0); }
inline int tile_col(int t) { return (t >> 5) + ((t & 4) ? 8 : 0); }

// Ŵ columns [n0, n1) (multiples of 16) as fp16 bits, row-major [k][n1 - n0].
std::vector<uint16_t> decode_inner(const QWeight& w, int64_t n0, int64_t n1);

// The exact full weight W^T rows [r0, r1) (multiples of 128, registry orientation [n][k]) as an
// unevaluated sum hi + lo of doubles: hi = W rounded once to fp64, lo its exact remainder.
void full_weight_f64(const QWeight& w, int64_t r0, int64_t r1, double* hi, double* lo);

// Registered reference functions (Format fields of the same role).
void inner_ref(const QWeight& w, int64_t r0, int64_t r1, float* out);    // Ŵ^T, exact
void dequant_ref(const QWeight& w, int64_t r0, int64_t r1, float* out);  // W^T correctly rounded
void gemv_batch_ref(const QWeight& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y);
std::vector<double> dequant_error_bounds(const QWeight& w);                 // [n][k]
std::vector<double> gemv_error_bounds(const QWeight& w, const uint8_t* act);  // [n], one vector
// Bound on |W16 - W| [n][k] for upstream's fp16 reconstruction (LinearEXL3.get_weight_tensor:
// fp32 Hadamard matmuls with fp16 results, fp16 suh and svh multiplies; specs/exl3.md 4.1).
std::vector<double> fp16_weight_bounds(const QWeight& w);

Format exl3_format();

}  // namespace qb::exl3

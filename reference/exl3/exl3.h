// EXL3 (ExLlamaV3 trellis) reference: shared vocabulary for the reference decoder, the x86
// kernels, the importer and the model-directory reader (specs/exl3.md).
//
// Orientation: upstream stores W as [k = in, n = out] with y = x.W; the registry's weight is
// [rows = n (out), cols = k (in)], so expect.dequant/expect.inner hold W^T and Ŵ^T.
// Stored tensors (layout()): trellis I16 [k/16, n/16, 16*bits], suh F16 [k], svh F16 [n], and a
// 0-dim I32 marker named "mcg" or "mul1" when that codebook is used (none for 3inst).
// params: {"bits": 1..8, "codebook": "3inst" | "mcg" | "mul1"}; k and n multiples of 128.
// Kernel parameters (qb_weight.params): [bits, codebook] with codebook 0 = 3inst, 1 = mcg,
// 2 = mul1 (the Codebook values); tensors in layout order: trellis, suh, svh[, marker].
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "harness/family.h"
#include "harness/registry.h"

namespace qb::exl3 {

enum class Codebook { inst3 = 0, mcg = 1, mul1 = 2 };

// Codebook hash constants (spec 3): 3inst x*89226354 + 64248484; mcg and mul1 multiply by the
// locked multipliers, which are also the codebook markers' stored int32 values (spec 1).
inline constexpr uint32_t k3instMultiplier = 89226354u, k3instIncrement = 64248484u;
inline constexpr uint32_t kMcgMultiplier = 0xCBAC1FEDu;
inline constexpr uint32_t kMul1Multiplier = 0x83DCD12Du;
std::optional<Codebook> codebook_from_name(std::string_view name);  // "3inst", "mcg", "mul1"
std::string_view codebook_name(Codebook cb);

struct Params {
  int bits = 0;  // K, bits per weight
  Codebook codebook = Codebook::inst3;
};
// Params of a weight whose layout was validated (throws std::invalid_argument otherwise).
Params params_of(const QWeight& w);
// qb_weight.params from the params JSON (throws std::invalid_argument naming the field).
std::vector<int64_t> kernel_params(const nlohmann::json& params);

// A stored fp16 vector (suh, svh) where the container put it: safetensors promises no
// alignment (any header length is valid), so there is no uint16_t pointer to it. Elements are
// read by memcpy; vector loads take the byte address at() and must be unaligned (loadu) loads.
struct StoredF16 {
  const uint8_t* bytes = nullptr;
  uint16_t operator[](int64_t i) const {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    return h;
  }
  const uint8_t* at(int64_t i) const { return bytes + 2 * i; }
};

// A weight as references and kernels read it, taken from fixed positions of the prepared
// weight (or by name from a QWeight on the harness side, for bounds).
struct Args {
  int K = 0;  // bits per weight
  Codebook cb = Codebook::inst3;
  int64_t k = 0, n = 0;  // upstream orientation: k = cols (in), n = rows (out)
  const uint8_t* trellis = nullptr;
  StoredF16 suh;  // fp16 [k]
  StoredF16 svh;  // fp16 [n]
  int64_t tile_bytes() const { return 32 * K; }
  const uint8_t* tile(int64_t i, int64_t j) const { return trellis + (i * (n / 16) + j) * tile_bytes(); }
};
inline Args args_of(const qb_weight* w) {
  Args a;
  a.K = static_cast<int>(w->params[0]);
  a.cb = static_cast<Codebook>(w->params[1]);
  a.k = w->cols;
  a.n = w->rows;
  a.trellis = static_cast<const uint8_t*>(w->tensors[0].data);
  a.suh.bytes = static_cast<const uint8_t*>(w->tensors[1].data);
  a.svh.bytes = static_cast<const uint8_t*>(w->tensors[2].data);
  return a;
}
Args args_of(const QWeight& w);

// Codebook value of a 16-bit trellis state, as fp16 bits (bit-exact, RNE).
uint16_t codebook_value(Codebook cb, uint16_t state);
// The 256 states of one tile from its 16*bits int16 words (tail-biting bit windows).
void tile_states(const uint16_t* tile_words, int bits, uint16_t states[256]);
// Sequence position t (0..255) inside a tile -> row (k offset) and column (n offset).
inline int tile_row(int t) { return 2 * ((t >> 3) & 3) + (t & 1) + ((t & 2) ? 8 : 0); }
inline int tile_col(int t) { return (t >> 5) + ((t & 4) ? 8 : 0); }

// Ŵ columns [n0, n1) (multiples of 16) as fp16 bits, row-major [k][n1 - n0].
std::vector<uint16_t> decode_inner(const Args& w, int64_t n0, int64_t n1);

// The exact full weight W^T rows [r0, r1) (multiples of 128, registry orientation [n][k]) as an
// unevaluated sum hi + lo of doubles: hi = W rounded once to fp64, lo its exact remainder.
void full_weight_f64(const Args& w, int64_t r0, int64_t r1, double* hi, double* lo);

// Registered reference functions (Format fields of the same role).
void inner_ref(const qb_weight* w, int64_t r0, int64_t r1, float* out);    // Ŵ^T, exact
void dequant_ref(const qb_weight* w, int64_t r0, int64_t r1, float* out);  // W^T correctly rounded
void gemv_ref(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y);
std::vector<double> dequant_error_bounds(const QWeight& w);                 // [n][k]
std::vector<double> gemv_error_bounds(const QWeight& w, const uint8_t* act, int64_t m);  // [m][n]
std::vector<double> gemv_rms_terms(const QWeight& w, const uint8_t* act, int64_t m);     // [m][n]
int64_t gemv_rounding_depth(int64_t k);  // k + 20: the roundings gemv_error_bounds counts
// Bound on |W16 - W| [n][k] for upstream's fp16 reconstruction (LinearEXL3.get_weight_tensor:
// fp32 Hadamard matmuls with fp16 results, fp16 suh and svh multiplies; specs/exl3.md 4.1).
std::vector<double> fp16_weight_bounds(const QWeight& w);

Format exl3_format();
Family exl3_family();

// Model directories with quant_method "exl3" (reference/exl3/model.cpp): every linear layer
// (X.trellis + X.suh + X.svh, codebook marker X.mcg / X.mul1) of the files, checked against the
// config's tensor_storage; and the layers tensor_storage alone declares.
std::vector<ModelLayer> recognize_model(const ModelFiles& files);
std::vector<LayerSpec> config_layers(const nlohmann::ordered_json& quant_config, const std::string& file);

}  // namespace qb::exl3

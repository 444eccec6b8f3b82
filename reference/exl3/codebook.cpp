// EXL3 codebooks (specs/exl3.md section 3): 16-bit trellis state -> fp16 value, bit-exact.
#include <cmath>

#include "reference/common/half.h"
#include "reference/exl3/exl3.h"

namespace qb::exl3 {
namespace {

// IEEE binary16 round-to-nearest-even of a double in one step. Going through fp32 first would
// round twice, which MUL1 values can expose (specs/exl3.md 3.2).
uint16_t fp16_from_double(double x) {
  if (std::isnan(x)) return std::signbit(x) ? 0xFE00u : 0x7E00u;
  const double a = std::fabs(x);
  int e = 0;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  // fp16 keeps 11 significant bits down to 2^-14, then a fixed quantum of 2^-24 (subnormals).
  const int quantum_exp = a < std::ldexp(1.0, -14) ? -24 : e - 11;
  const double q = std::ldexp(std::nearbyint(std::ldexp(a, -quantum_exp)), quantum_exp);
  // q is now exactly representable in fp16 (or >= 65536, which the conversion maps to Inf), so
  // the fp32 narrowing below is exact and only encodes the bits.
  const uint16_t bits = f32_to_fp16(static_cast<float>(q));
  return std::signbit(x) ? static_cast<uint16_t>(bits | 0x8000u) : bits;
}

}  // namespace

std::optional<Codebook> codebook_from_name(std::string_view name) {
  if (name == "3inst") return Codebook::inst3;
  if (name == "mcg") return Codebook::mcg;
  if (name == "mul1") return Codebook::mul1;
  return std::nullopt;
}

std::string_view codebook_name(Codebook cb) {
  switch (cb) {
    case Codebook::inst3: return "3inst";
    case Codebook::mcg: return "mcg";
    case Codebook::mul1: return "mul1";
  }
  return "?";
}

uint16_t codebook_value(Codebook cb, uint16_t state) {
  uint32_t x = state;
  if (cb == Codebook::mul1) {
    x *= kMul1Multiplier;
    const uint32_t s = (x & 0xFFu) + ((x >> 8) & 0xFFu) + ((x >> 16) & 0xFFu) + (x >> 24);
    // (1024 + s) * k_inv has at most 22 significant bits and adding k_bias stays within 53:
    // the double result is the exact value of upstream's fp16 FMA before its single rounding.
    const double k_inv = fp16_to_f32(0x1EEEu), k_bias = fp16_to_f32(0xC931u);
    return fp16_from_double(static_cast<double>(1024u + s) * k_inv + k_bias);
  }
  x = cb == Codebook::mcg ? x * kMcgMultiplier : x * k3instMultiplier + k3instIncrement;
  x = (x & 0x8FFF8FFFu) ^ 0x3B603B60u;
  // Both halves are multiples of 2^-13 below 2 in magnitude, so their fp32 sum is exact and the
  // one rounding is upstream's fp16 add.
  const float sum = fp16_to_f32(static_cast<uint16_t>(x & 0xFFFFu)) + fp16_to_f32(static_cast<uint16_t>(x >> 16));
  return f32_to_fp16(sum);
}

}  // namespace qb::exl3

// ggml's nearest_int (specs/ggml.md section 1): round half to even in fp32 by adding 1.5*2^23 and
// reading the low mantissa bits; exact for |f| <= 4194303. Written with bit operations only, so
// every input (NaN, Inf, huge values) gives upstream's defined result, never UB.
#pragma once
#include <cstdint>

#include "reference/common/half.h"

namespace qb::ggml {

inline int nearest_int(float f) {
  const float v = f + 12582912.0f;
  return static_cast<int>(f32_to_bits(v) & 0x007FFFFFu) - 0x00400000;
}

}  // namespace qb::ggml

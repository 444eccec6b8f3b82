#pragma once
#include "harness/registry.h"

namespace qb::ggml {
// Registry entry: reference decoder, encoder (quantize_row_q8_0_ref), strict-order GEMV.
Format q8_0_format(Format catalog_entry);
}  // namespace qb::ggml

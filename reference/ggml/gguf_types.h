// The GGML tensor type ids of GGUF files (specs/ggml.md section 2), for Family::gguf_types.
#pragma once
#include <vector>

#include "harness/gguf.h"
#include "harness/registry.h"

namespace qb::ggml {

// Every weight type of the catalog with its id and the catalog's geometry (`formats`: the
// family's formats), then the unquantized ids with their element sizes. The activation-only types
// (q8_1 = 9, q8_K = 15) and the removed ids (4, 5, 31-33, 36-38) are left out: a tensor of those is
// refused by the reader, naming its id.
std::vector<GgufTypeId> gguf_type_ids(const std::vector<Format>& formats);

}  // namespace qb::ggml

#include "reference/ggml/iq_common.h"

#include <random>

namespace qb::ggml {

std::vector<std::vector<uint8_t>> iq_random_blocks(const Format& f, int64_t rows, int64_t cols,
                                                   const nlohmann::json&, uint64_t seed) {
  const int64_t nblocks = rows * (cols / f.block_elems);
  std::vector<uint8_t> blocks(static_cast<std::size_t>(nblocks * f.block_bytes));
  std::mt19937_64 rng(seed);
  for (auto& b : blocks) b = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < nblocks; ++i)
    for (const int64_t off : f.fp16_scale_offsets) blocks[static_cast<std::size_t>(i * f.block_bytes + off + 1)] &= 0xBF;
  return {std::move(blocks)};
}

}  // namespace qb::ggml

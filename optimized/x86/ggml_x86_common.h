// Activation preparation shared by the GGML x86 GEMV kernels (scalar code: it runs once per call,
// O(cols), and is amortized over the rows the call computes).
//
// The AVX-512 kernels read a weight row in 64-byte chunks exactly as stored, without regrouping
// blocks. That works because both block sizes (18, 34) are 2 mod 4: every 4-byte lane of a row holds
// quant bytes of a single block (the only mixed lanes pair a block's last quant bytes with the next
// block's fp16 scale). The prepared activation therefore mirrors the weight row byte for byte:
// activation values under quant bytes, zero under scale bytes, so vpdpbusd over raw chunks gives
// exact per-lane sums, and each lane is later scaled by its own block's d_w * d_x.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "reference/common/half.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"

namespace qb::x86::ggml_x86 {

constexpr int64_t kChunk = 64;

// Per 64-byte chunk of a weight row: kStreams activation byte vectors, then 16 int32 accumulator
// seeds (the weight offset times the lane's activation sum, making unsigned weight bytes exact),
// then 16 fp32 d_x, one per lane. Before the chunks: one vpermt2w index vector per chunk phase
// (the chunk pattern repeats every lcm(block_bytes, 64) bytes) that picks, for lane i, the fp16
// d_w of the lane's block out of (previous chunk, current chunk).
struct ChunkLayout {
  int64_t nb = 0;         // blocks per row
  int64_t row_bytes = 0;  // stored bytes per row
  int64_t nfull = 0;      // whole 64-byte chunks in a row
  int64_t tail = 0;       // bytes in the final partial chunk (0: none)
  int64_t period = 0;     // chunk phases
  int64_t stride = 0;     // prepared bytes per chunk
};

// Element of activation block `k` feeding stream `s` at quant byte `j` of the weight block.
// q4_0 (2 streams): byte j holds elements j (low nibble) and j + 16 (high nibble).
// q8_0 (1 stream): byte j holds element j.
inline int8_t act_value(const uint8_t* act, int64_t k, int64_t j, int s) {
  const int8_t* xq = reinterpret_cast<const int8_t*>(act + k * int64_t(sizeof(ggml::BlockQ8_0)) + 2);
  return xq[j + 16 * s];
}

// Fills `buf` (64-byte aligned inside) and returns the start of the chunk data; the phase index
// vectors lie in the `period * 64` bytes before it.
template <int kBlockBytes, int kStreams, int kWeightOffset>
const uint8_t* prepare_chunks(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf,
                              ChunkLayout& L) {
  L.nb = cols / 32;
  L.row_bytes = L.nb * kBlockBytes;
  L.nfull = L.row_bytes / kChunk;
  L.tail = L.row_bytes % kChunk;
  L.period = 1;
  while ((L.period * kChunk) % kBlockBytes != 0) ++L.period;
  L.stride = kChunk * (kStreams + 2);
  const int64_t nchunks = L.nfull + (L.tail ? 1 : 0);
  buf.resize(static_cast<std::size_t>((L.period + nchunks * (kStreams + 2)) * kChunk + kChunk));
  uint8_t* base = buf.data();
  base += (kChunk - reinterpret_cast<uintptr_t>(base) % kChunk) % kChunk;

  for (int64_t ph = 0; ph < L.period; ++ph) {
    uint16_t idx[32] = {};
    for (int i = 0; i < 16; ++i) {
      const int64_t owner = (ph * kChunk + 4 * i) / kBlockBytes;
      // Word offset of the owner's scale from the current chunk start, in [-kBlockBytes/2, 32);
      // the table is (previous chunk words 0..31, current chunk words 32..63).
      idx[i] = static_cast<uint16_t>(owner * kBlockBytes / 2 - ph * kChunk / 2 + 32);
    }
    std::memcpy(base + ph * kChunk, idx, sizeof idx);
  }

  uint8_t* chunks = base + L.period * kChunk;
  for (int64_t c = 0; c < nchunks; ++c) {
    uint8_t* out = chunks + c * L.stride;
    int32_t seed[16];
    float dx[16];
    for (int i = 0; i < 16; ++i) {
      int32_t sum = 0;
      for (int b = 0; b < 4; ++b) {
        const int64_t p = c * kChunk + 4 * i + b;
        const int64_t k = p / kBlockBytes, o = p % kBlockBytes;
        for (int s = 0; s < kStreams; ++s) {
          const int8_t v = (k < L.nb && o >= 2) ? act_value(act, k, o - 2, s) : 0;
          out[s * kChunk + 4 * i + b] = static_cast<uint8_t>(v);
          sum += v;
        }
      }
      seed[i] = -kWeightOffset * sum;
      const int64_t owner = (c * kChunk + 4 * i) / kBlockBytes;
      dx[i] = owner < L.nb ? fp16_to_f32(ggml::load_u16(act + owner * int64_t(sizeof(ggml::BlockQ8_0))))
                           : 0.0f;
    }
    std::memcpy(out + kStreams * kChunk, seed, sizeof seed);
    std::memcpy(out + (kStreams + 1) * kChunk, dx, sizeof dx);
  }
  return chunks;
}

// Per-block activation for the AVX2 kernels: 32 int8 values, 8 int32 seeds (weight offset times
// the sum of 4 consecutive values), and d_x; as three arrays.
struct BlockAct {
  const int8_t* x = nullptr;
  const int32_t* seed = nullptr;
  const float* dx = nullptr;
};

inline BlockAct prepare_blocks(const uint8_t* act, int64_t cols, int32_t weight_offset,
                               std::vector<uint8_t>& buf) {
  const int64_t nb = cols / 32;
  buf.resize(static_cast<std::size_t>(nb * (32 + 32 + 4) + 64));
  uint8_t* base = buf.data();
  base += (32 - reinterpret_cast<uintptr_t>(base) % 32) % 32;
  int8_t* x = reinterpret_cast<int8_t*>(base);
  int32_t* seed = reinterpret_cast<int32_t*>(base + nb * 32);
  float* dx = reinterpret_cast<float*>(base + nb * 64);
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* blk = act + k * int64_t(sizeof(ggml::BlockQ8_0));
    std::memcpy(x + k * 32, blk + 2, 32);
    for (int l = 0; l < 8; ++l) {
      int32_t s = 0;
      for (int b = 0; b < 4; ++b) s += x[k * 32 + 4 * l + b];
      seed[k * 8 + l] = -weight_offset * s;
    }
    dx[k] = fp16_to_f32(ggml::load_u16(blk));
  }
  return {x, seed, dx};
}

}  // namespace qb::x86::ggml_x86

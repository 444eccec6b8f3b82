// Activation preparation shared by the GGML x86 GEMV kernels (scalar code: it runs once per call,
// O(cols), and is amortized over the rows the call computes).
//
// The AVX-512 kernels read a weight row in 64-byte chunks exactly as stored, without regrouping
// blocks. That works because every 4-byte lane of a row holds quant bytes of a single block: the
// q8_0-paired sizes (18, 34) are 2 mod 4 with a 2-byte header (the only mixed lanes pair a block's
// last quant bytes with the next block's fp16 scale), and q4_1's 20 bytes are 0 mod 4 with a
// 4-byte header (d, m) that fills a lane of its own. The prepared activation therefore mirrors the
// weight row byte for byte: activation values under quant bytes, zero under header bytes, so
// vpdpbusd over raw chunks gives exact per-lane sums, and each lane is later scaled by its own
// block's d_w * d_x. q4_1's header lane carries the block's min term instead: its seed is 1 and
// its scale m_w * s_x (the q8_1 activation's stored s), so it adds exactly that product.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "reference/common/half.h"
#include "reference/ggml/blocks.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q8_1_activation.h"

namespace qb::x86::ggml_x86 {

constexpr int64_t kChunk = 64;

// Prepared activation, each array indexed like the weight row (byte p of a row <-> lane p / 4):
// kStreams activation byte arrays (values under quant bytes, zero under scale bytes and past the
// row), int32 accumulator seeds per lane (minus the weight offset times the lane's activation sum,
// making unsigned weight bytes exact), fp32 d_x per lane, and one vpermt2w index vector per chunk
// phase (the chunk pattern repeats every lcm(block_bytes, 64) bytes) that picks, for lane i, the
// fp16 d_w of the lane's block (m_w for a min lane) out of (previous chunk, current chunk). Arrays
// are padded to whole chunks and 64-byte aligned.
struct ChunkAct {
  int64_t row_bytes = 0;  // stored bytes per row
  int64_t nfull = 0;      // whole 64-byte chunks in a row
  int64_t tail = 0;       // bytes in the final partial chunk (0: none)
  int64_t period = 0;     // chunk phases
  const int8_t* x[2] = {};
  const int32_t* seed = nullptr;
  const float* dx = nullptr;
  const uint16_t* idx = nullptr;  // period * 32 words
  // q5_0/q5_1 (kQh): per chunk phase, the vpermi2b index of the qh byte holding each quant byte's
  // fifth bit, for its low nibble then its high nibble (2 x 64 bytes; into (previous chunk,
  // current chunk)), and that bit's mask within the byte (64 bytes; 0 under header bytes).
  const uint8_t* qh_idx = nullptr;
  const uint8_t* qh_bit = nullptr;
};

// q4_0, iq4_nl (2 streams): quant byte j holds elements j (low nibble) and j + 16 (high nibble).
// q8_0 (1 stream): quant byte j holds element j. kMinLane: a q8_1-paired format whose header
// starts with (d, m) in a lane of its own (q4_1, q5_1; 2 streams) against q8_1 blocks (d, s, 32
// values); else a header starting with d against q8_0 blocks (d, 32 values). kQh: the header ends
// in q5's uint32 qh (bit j: the fifth bit of element j), 4 more header bytes.
template <int kBlockBytes, int kStreams, int kWeightOffset, bool kMinLane = false, bool kQh = false>
ChunkAct prepare_chunks(const uint8_t* act, int64_t cols, std::vector<uint8_t>& buf) {
  constexpr int64_t kHeader = (kMinLane ? 4 : 2) + (kQh ? 4 : 0);
  constexpr int64_t kActBlock = kMinLane ? sizeof(ggml::BlockQ8_1) : sizeof(ggml::BlockQ8_0);
  constexpr int64_t kQuant = kBlockBytes - kHeader;
  static_assert(!kMinLane || kBlockBytes % 4 == 0, "a min lane needs blocks of whole lanes");
  ChunkAct A;
  const int64_t nb = cols / 32;
  A.row_bytes = nb * kBlockBytes;
  A.nfull = A.row_bytes / kChunk;
  A.tail = A.row_bytes % kChunk;
  A.period = 1;
  while ((A.period * kChunk) % kBlockBytes != 0) ++A.period;
  const int64_t padded = (A.nfull + (A.tail ? 1 : 0)) * kChunk, lanes = padded / 4;
  buf.assign(static_cast<std::size_t>(padded * (kStreams + 2) + A.period * kChunk * (kQh ? 4 : 1) + kChunk), 0);
  uint8_t* base = buf.data() + (kChunk - reinterpret_cast<uintptr_t>(buf.data()) % kChunk) % kChunk;

  int8_t* x[kStreams];
  for (int s = 0; s < kStreams; ++s) x[s] = reinterpret_cast<int8_t*>(base + s * padded);
  int32_t* seed = reinterpret_cast<int32_t*>(base + kStreams * padded);
  float* dx = reinterpret_cast<float*>(base + (kStreams + 1) * padded);
  uint16_t* idx = reinterpret_cast<uint16_t*>(base + (kStreams + 2) * padded);

  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* blk = act + k * kActBlock;
    for (int s = 0; s < kStreams; ++s)
      std::memcpy(x[s] + k * kBlockBytes + kHeader, blk + (kActBlock - 32) + 16 * s, kQuant);
  }
  for (int64_t i = 0; i < lanes; ++i) {
    int32_t sum = 0;
    for (int s = 0; s < kStreams; ++s)
      for (int b = 0; b < 4; ++b) sum += x[s][4 * i + b];
    seed[i] = -kWeightOffset * sum;
  }
  // Lanes of block k: from the one holding its first quant byte to the one holding its last; a
  // min lane (the header's) counts 1 at scale s_x.
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* blk = act + k * kActBlock;
    float d = fp16_to_f32(ggml::load_u16(blk));
    if (QB_MUTANT_ON(chunk_vnni_act_scale_nan_zero) && d != d) d = 0.0f;
    // From the block's first lane not shared with the previous block's quant bytes (header lanes
    // meet zero activation: d_x keeps their product a quant lane's) to its last.
    const int64_t first = kMinLane ? k * kBlockBytes / 4 + 1 : (k * kBlockBytes + 2) / 4;
    for (int64_t i = first; i <= (k * kBlockBytes + kBlockBytes - 1) / 4; ++i) dx[i] = d;
    if constexpr (kMinLane) {
      // Mutant q4_1_vnni_min_lane_zero: the min lane's seed left 0, the min term never added.
      seed[k * kBlockBytes / 4] = QB_MUTANT_ON(q4_1_vnni_min_lane_zero) ? 0 : 1;
      dx[k * kBlockBytes / 4] = fp16_to_f32(ggml::load_u16(blk + 2));
    }
  }
  for (int64_t ph = 0; ph < A.period; ++ph)
    for (int i = 0; i < 16; ++i) {
      // Word offset of the owner's scale from the chunk start lies in [-kBlockBytes / 2, 32); the
      // table is (previous chunk: words 0..31, current chunk: 32..63). A min lane takes the word
      // after d: m.
      const int64_t byte = ph * kChunk + 4 * i, owner = byte / kBlockBytes;
      const int64_t word = owner * kBlockBytes / 2 + (kMinLane && byte == owner * kBlockBytes ? 1 : 0);
      idx[ph * 32 + i] = static_cast<uint16_t>(word - ph * kChunk / 2 + 32);
    }
  if constexpr (kQh) {
    uint8_t* qh_idx = base + (kStreams + 2) * padded + A.period * kChunk;
    uint8_t* qh_bit = qh_idx + 2 * A.period * kChunk;
    for (int64_t ph = 0; ph < A.period; ++ph)
      for (int p = 0; p < kChunk; ++p) {
        const int64_t byte = ph * kChunk + p, owner = byte / kBlockBytes, j = byte - owner * kBlockBytes - kHeader;
        if (j < 0) continue;  // a header byte: bit mask 0
        // qh is the last 4 header bytes; relative to the previous chunk's start, within [0, 128).
        const int64_t qh = owner * kBlockBytes + kHeader - 4 - ph * kChunk + kChunk;
        qh_idx[ph * 2 * kChunk + p] = static_cast<uint8_t>(qh + j / 8);
        qh_idx[ph * 2 * kChunk + kChunk + p] = static_cast<uint8_t>(qh + 2 + j / 8);
        qh_bit[ph * kChunk + p] = static_cast<uint8_t>(1 << (j % 8));
      }
    A.qh_idx = qh_idx;
    A.qh_bit = qh_bit;
  }
  for (int s = 0; s < kStreams; ++s) A.x[s] = x[s];
  A.seed = seed;
  A.dx = dx;
  A.idx = idx;
  return A;
}

// Per-block activation for the legacy AVX2 kernels and the q8_0 and mxfp4 VNNI kernels: 32 int8
// values, 8 int32 seeds (weight offset times the sum of 4 consecutive values), and d_x; as three
// arrays.
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

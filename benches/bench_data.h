// What one benchmark shape runs on: rotated copies of a realistic quantized weight, the
// activation, and output buffers, sized so that every iteration streams weights from DRAM.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "benches/memory.h"
#include "harness/prepared.h"
#include "harness/registry.h"
#include "harness/shape.h"

namespace qb::bench {

// Copy counts and sizes, decided before anything is allocated.
struct DataPlan {
  Shape shape;
  std::size_t weight_bytes = 0;  // Format::stored_bytes
  std::size_t copy_bytes = 0;    // one copy in the pool: its tensors, each 64-byte aligned
  std::size_t out_bytes = 0;     // one output: [rows, cols] fp32 for dequant, [batch, rows] for GEMV
  std::size_t weight_copies = 1;
  std::size_t out_copies = 1;
  std::string describe() const;
};

// Throws std::invalid_argument when the format rejects the shape or one copy of everything
// does not fit kMemoryCap.
struct DataOptions {
  bool rotate = true;  // false (--warm): one copy of everything, cache-resident where it fits
  int batch = 1;       // GEMV vectors per call (--batch)
};
DataPlan plan_data(const Format& format, Op op, const Shape& shape, const nlohmann::json& params,
                   const DataOptions& opt = {});

struct BenchData {
  DataPlan plan;
  // One pool per rotation set: small shapes have thousands of copies.
  Buffer weight_pool;
  std::vector<QWeight> weights;  // views into weight_pool, one per copy
  std::vector<std::unique_ptr<PreparedWeight>> prepared;  // the kernels' view of each copy
  std::vector<uint8_t> act;      // `batch` activations back to back, as the GEMV kernels take them
  Buffer out_pool;
  std::size_t out_stride = 0;    // bytes between output copies in out_pool
  std::size_t next = 0;          // rotation position, kept across the runner's repeated calls

  // Output copy i: float, or uint16_t for the 16-bit decodes.
  void* out(std::size_t i) const { return out_pool.data() + (i % plan.out_copies) * out_stride; }
};

// Weights: format.encode_ref of N(0,1) floats with a fixed seed (identical for every variant and
// run), or the format's random valid tensors (Format::random_stored); activation:
// format.activation->quantize of N(0,1) floats (fp32 bytes when null).
BenchData make_data(const Format& format, Op op, const Shape& shape, const nlohmann::json& params,
                    const DataOptions& opt = {});

}  // namespace qb::bench

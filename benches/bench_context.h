// The benchmark rows of one run (one format, op and thread count) and what they share: the
// data of the shape being measured and the reference's time per shape, which later rows of the
// same shape divide by for speedup_vs_ref.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "benches/bench_data.h"
#include "benches/shapes.h"
#include "harness/registry.h"

namespace qb::bench {

struct RunConfig {
  const Format* format = nullptr;
  Op op = Op::gemv;
  int threads = 1;
  double probe_GBps = 0;  // read bandwidth at `threads`, measured in this process
};

class BenchContext {
 public:
  explicit BenchContext(RunConfig config) : config_(config) {}
  // Rows run in registration order: shape by shape, the reference first, so its time is known
  // when the other variants of the shape finish. The context must outlive the run.
  void register_rows(const std::vector<Shape>& shapes, std::vector<const Variant*> variants);

 private:
  void run_row(benchmark::State& state, const Variant& v, const Shape& shape);
  BenchData& data_for(const Shape& shape);

  RunConfig config_;
  std::unique_ptr<BenchData> data_;  // only the current shape's: the rotation sets are large
  std::map<std::string, double> ref_seconds_;  // shape -> reference seconds per iteration
};

std::string row_name(const RunConfig& config, const Variant& v, const Shape& shape);

}  // namespace qb::bench

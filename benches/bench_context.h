// The benchmark rows of one run (one format, op and thread count) and what they share: the
// data of the shape being measured and the reference's time per shape, which later rows of the
// same shape divide by for speedup_vs_ref.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "benches/bandwidth_probe.h"
#include "benches/bench_data.h"
#include "harness/shape.h"
#include "harness/registry.h"

namespace qb::bench {

// One benchmarked weight: its shape and params, and for a model's layer list the layers it
// stands for (identical shape, bits and codebook are measured once).
struct BenchCase {
  std::string format;  // registry id of a model's layers (bench runs them only as its --format); empty otherwise
  Shape shape;
  nlohmann::json params = nlohmann::json::object();
  std::string tag;           // row-name part after the shape: the family's parameter tag, or for a
                             // model the layer kinds, tag and multiplicity
  int64_t multiplicity = 1;  // model layers with this case
  bool model_layers = false;  // from --model: rows carry multiplicity and ms_per_token
  std::string key() const { return tag.empty() ? shape.str() : shape.str() + "/" + tag; }
};

struct RunConfig {
  const Format* format = nullptr;
  Op op = Op::gemv;
  int threads = 1;
  BandwidthProbe* probe = nullptr;  // at `threads`, measured around every row (none: no bw_fraction)
  DataOptions data;       // rotation (--warm) and GEMV batch (--batch)
};

class BenchContext {
 public:
  explicit BenchContext(RunConfig config) : config_(config) {}
  // Rows run in registration order: shape by shape, the reference first, so its time is known
  // when the other variants of the shape finish. The context must outlive the run.
  void register_rows(const std::vector<BenchCase>& cases, std::vector<const Variant*> variants);
  // Seconds per call of each variant on each case (case key -> seconds), from the reported runs.
  const std::map<std::string, std::map<std::string, double>>& seconds() const { return seconds_; }
  // Per variant and case: the median seconds per iteration over the row's repetitions (the calls
  // at the final iteration count; the runner's sizing calls run fewer).
  std::map<std::string, std::map<std::string, double>> median_seconds() const;

 private:
  void run_row(benchmark::State& state, const Variant& v, const BenchCase& c);
  BenchData& data_for(const BenchCase& c);

  RunConfig config_;
  std::unique_ptr<BenchData> data_;  // only the current case's: the rotation sets are large
  std::string data_key_;
  std::map<std::string, double> ref_seconds_;  // case key -> reference seconds per iteration
  std::map<std::string, std::map<std::string, double>> seconds_;  // variant -> case key -> seconds
  // variant -> case key -> (iterations, seconds per iteration) of every call
  std::map<std::string, std::map<std::string, std::vector<std::pair<int64_t, double>>>> calls_;
};

std::string row_name(const RunConfig& config, const Variant& v, const BenchCase& c);

}  // namespace qb::bench

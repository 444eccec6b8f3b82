// Memory read bandwidth of this machine at a given thread count: the roofline each GEMV row is
// compared with (bw_fraction). Method: sum a 1 GiB buffer that the same
// threads first-touched, several passes, best pass.
//
// A shared VM's bandwidth drifts by tens of percent within one run (another tenant, the second
// core's load), so one probe at start-up is not the roof a row minutes later ran under. The probe
// keeps its buffer and is measured again around every row (BenchContext::run_row): each row's
// fraction divides by the bandwidth measured just before and just after it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "benches/memory.h"

namespace qb::bench {

// Timed 1 GiB passes: the start-up probe (the run context's figure), and the probe before and
// after every row (best of each: enough for a best-of at ~0.1 s a row).
inline constexpr int kStartupProbePasses = 8;
inline constexpr int kRowProbePasses = 2;

class BandwidthProbe {
 public:
  using SumFn = uint64_t (*)(const uint64_t* p, std::size_t n);

  // Allocates and first-touches the buffer with `threads` OpenMP threads.
  explicit BandwidthProbe(int threads);
  // GB/s (1e9 bytes/s) of the best of `passes` timed passes (after one untimed warm-up pass when
  // `warm_up`); also appended to the run's history (samples()).
  double measure(int passes, bool warm_up = false);

  std::size_t bytes() const { return buf_.size(); }
  const std::string& kernel() const { return kernel_; }  // "avx512", "avx2", "scalar"
  // Every measure() result so far, in order: its spread is the run's bandwidth noise.
  const std::vector<double>& samples() const { return samples_; }

 private:
  int threads_;
  Buffer buf_;
  std::string kernel_;
  SumFn sum_;
  std::vector<double> samples_;
};

}  // namespace qb::bench

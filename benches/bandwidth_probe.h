// Memory read bandwidth of this machine at a given thread count: the roofline each GEMV row is
// compared with (bw_fraction). Method of specs/ggml.md 8.2: sum a 1 GiB buffer that the same
// threads first-touched, several passes, best pass.
#pragma once
#include <string>

namespace qb::bench {

struct ProbeResult {
  double best_GBps = 0;  // 1e9 bytes/s, best pass
  int passes = 0;
  std::size_t bytes = 0;
  std::string kernel;  // "avx512", "avx2", "scalar"
};

ProbeResult probe_read_bandwidth(int threads);

}  // namespace qb::bench

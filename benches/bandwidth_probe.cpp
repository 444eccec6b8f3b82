#include "benches/bandwidth_probe.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "benches/memory.h"
#include "harness/cpu_features.h"

namespace qb::bench {
namespace {

constexpr std::size_t kProbeBytes = std::size_t{1} << 30;
constexpr int kTimedPasses = 8;
// Elements summed per loop step: 8 independent accumulators of one 64-byte vector each, so the
// loop is bound by loads, not by the add latency chain.
constexpr std::size_t kStep = 64;

using SumFn = uint64_t (*)(const uint64_t* p, std::size_t n);

__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint64_t* p, std::size_t n) {
  __m512i a[8];
  for (auto& v : a) v = _mm512_setzero_si512();
  for (std::size_t i = 0; i < n; i += kStep)
    for (int k = 0; k < 8; ++k) a[k] = _mm512_add_epi64(a[k], _mm512_load_si512(p + i + 8 * k));
  for (int k = 1; k < 8; ++k) a[0] = _mm512_add_epi64(a[0], a[k]);
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, a[0]);
  uint64_t s = 0;
  for (uint64_t v : lanes) s += v;
  return s;
}

__attribute__((target("avx2"))) uint64_t sum_avx2(const uint64_t* p, std::size_t n) {
  __m256i a[8];
  for (auto& v : a) v = _mm256_setzero_si256();
  for (std::size_t i = 0; i < n; i += kStep)
    for (int k = 0; k < 8; ++k) {
      const auto* q = reinterpret_cast<const __m256i*>(p + i + 8 * k);
      a[k] = _mm256_add_epi64(a[k], _mm256_add_epi64(_mm256_load_si256(q), _mm256_load_si256(q + 1)));
    }
  for (int k = 1; k < 8; ++k) a[0] = _mm256_add_epi64(a[0], a[k]);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_baseline(const uint64_t* p, std::size_t n) {
  uint64_t a[8] = {};
  for (std::size_t i = 0; i < n; i += 8)
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];
  uint64_t s = 0;
  for (uint64_t v : a) s += v;
  return s;
}

}  // namespace

ProbeResult probe_read_bandwidth(int threads) {
  const uint64_t have = cpu_info().features;
  ProbeResult r;
  SumFn sum = sum_baseline;
  r.kernel = "scalar";
  if ((have & (kAVX512F | kAVX2)) == (kAVX512F | kAVX2)) {
    sum = sum_avx512;
    r.kernel = "avx512";
  } else if (have & kAVX2) {
    sum = sum_avx2;
    r.kernel = "avx2";
  }
  r.bytes = kProbeBytes;
  r.passes = kTimedPasses;

  Buffer buf(kProbeBytes);
  auto* data = reinterpret_cast<uint64_t*>(buf.data());
  const std::size_t steps = kProbeBytes / sizeof(uint64_t) / kStep;
  // Same contiguous split as qb::run_gemv, so each thread reads the pages it touched first.
  const auto chunk = [&](int t, int n) {
    return std::pair<std::size_t, std::size_t>{steps * t / n * kStep, steps * (t + 1) / n * kStep};
  };
#pragma omp parallel num_threads(threads)
  {
    const auto [b, e] = chunk(omp_get_thread_num(), omp_get_num_threads());
    for (std::size_t i = b; i < e; ++i) data[i] = i;
  }

  std::vector<uint64_t> sums(static_cast<std::size_t>(threads));
  double best_s = 1e30;
  for (int pass = 0; pass <= kTimedPasses; ++pass) {  // pass 0 warms up
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const auto [b, e] = chunk(t, omp_get_num_threads());
      sums[t] += sum(data + b, e - b);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass > 0) best_s = std::min(best_s, s);
  }
  // The sums feed a side effect so the compiler cannot drop the reads.
  volatile uint64_t sink = 0;
  for (uint64_t v : sums) sink = sink + v;
  r.best_GBps = static_cast<double>(kProbeBytes) / best_s / 1e9;
  return r;
}

}  // namespace qb::bench

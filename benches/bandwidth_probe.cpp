#include "benches/bandwidth_probe.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "benches/memory.h"
#include "harness/cpu_features.h"

namespace qb::bench {
namespace {

constexpr std::size_t kProbeBytes = std::size_t{1} << 30;
// Elements summed per loop step: 8 independent accumulators of one 64-byte vector each, so the
// loop is bound by loads, not by the add latency chain.
constexpr std::size_t kStep = 64;

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

BandwidthProbe::SumFn pick_sum(std::string& kernel) {
  const uint64_t have = cpu_info().features;
  if ((have & (kAVX512F | kAVX2)) == (kAVX512F | kAVX2)) {
    kernel = "avx512";
    return sum_avx512;
  }
  if (have & kAVX2) {
    kernel = "avx2";
    return sum_avx2;
  }
  kernel = "scalar";
  return sum_baseline;
}

// Same contiguous split as qb::run_gemv, so each thread reads the pages it touched first.
std::pair<std::size_t, std::size_t> chunk(std::size_t steps, int t, int n) {
  return {steps * t / n * kStep, steps * (t + 1) / n * kStep};
}

}  // namespace

BandwidthProbe::BandwidthProbe(int threads) : threads_(threads), buf_(kProbeBytes), sum_(pick_sum(kernel_)) {
  auto* data = reinterpret_cast<uint64_t*>(buf_.data());
  const std::size_t steps = kProbeBytes / sizeof(uint64_t) / kStep;
#pragma omp parallel num_threads(threads_)
  {
    const auto [b, e] = chunk(steps, omp_get_thread_num(), omp_get_num_threads());
    for (std::size_t i = b; i < e; ++i) data[i] = i;
  }
}

double BandwidthProbe::measure(int passes, bool warm_up) {
  const auto* data = reinterpret_cast<const uint64_t*>(buf_.data());
  const std::size_t steps = kProbeBytes / sizeof(uint64_t) / kStep;
  std::vector<uint64_t> sums(static_cast<std::size_t>(threads_));
  double best_s = 1e30;
  for (int pass = warm_up ? -1 : 0; pass < passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads_)
    {
      const int t = omp_get_thread_num();
      const auto [b, e] = chunk(steps, t, omp_get_num_threads());
      sums[t] += sum_(data + b, e - b);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass >= 0) best_s = std::min(best_s, s);
  }
  // The sums feed a side effect so the compiler cannot drop the reads.
  volatile uint64_t sink = 0;
  for (uint64_t v : sums) sink = sink + v;
  samples_.push_back(static_cast<double>(kProbeBytes) / best_s / 1e9);
  return samples_.back();
}

}  // namespace qb::bench

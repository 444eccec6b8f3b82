#include "benches/bench_context.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <vector>

#include "harness/run.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace qb::bench {
namespace {

uint64_t tsc() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return 0;
#endif
}

}  // namespace

std::string row_name(const RunConfig& config, const Variant& v, const BenchCase& c) {
  return config.format->id + "/" + std::string(op_name(config.op)) + "/" + v.name + "/" + c.key() +
         (config.data.batch > 1 ? "/m:" + std::to_string(config.data.batch) : "") +
         "/threads:" + std::to_string(config.threads);
}

void BenchContext::register_rows(const std::vector<BenchCase>& cases, std::vector<const Variant*> variants) {
  std::stable_partition(variants.begin(), variants.end(), [](const Variant* v) { return v->reference; });
  for (const BenchCase& c : cases)
    for (const Variant* v : variants)
      benchmark::RegisterBenchmark(row_name(config_, *v, c).c_str(),
                                   [this, v, c](benchmark::State& st) { run_row(st, *v, c); })
          // Kernels run on OpenMP threads: the main thread's CPU time would not be the op's time.
          ->UseManualTime();
}

BenchData& BenchContext::data_for(const BenchCase& c) {
  if (!data_ || data_key_ != c.key()) {
    data_.reset();  // free the previous rotation set before building the next
    data_ = std::make_unique<BenchData>(make_data(*config_.format, config_.op, c.shape, c.params, config_.data));
    data_key_ = c.key();
  }
  return *data_;
}

void BenchContext::run_row(benchmark::State& state, const Variant& v, const BenchCase& c) {
  const Shape& shape = c.shape;
  BenchData* d = nullptr;
  try {
    d = &data_for(c);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  // Each copy in the variant's backend, before the clock starts (Backend::prepare).
  std::vector<std::unique_ptr<BackendWeight>> copies;
  try {
    for (const auto& p : d->prepared) copies.push_back(backend_of(v).prepare(v, *p));
  } catch (const std::exception& e) {  // a plugin's prepare hook refused the weight
    state.SkipWithError(e.what());
    return;
  }
  const int64_t m = config_.op == Op::gemv ? config_.data.batch : 0;
  // The roof this row ran under: probe passes just before and just after it, the better one.
  double roof = config_.probe ? config_.probe->measure(kRowProbePasses) : 0;
  // The probe evicted the caches: a --warm row fills them again before the clock starts.
  if (!config_.data.rotate) run_prepared(v, *copies[0], d->act.data(), m, d->out(0), config_.threads);
  double seconds = 0;
  uint64_t ticks = 0;
  for (auto _ : state) {
    const std::size_t i = d->next++;
    void* out = d->out(i);
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t c0 = tsc();
    run_prepared(v, *copies[i % copies.size()], d->act.data(), m, out, config_.threads);
    ticks += tsc() - c0;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s);
    seconds += s;
  }
  const double per_iter = seconds / static_cast<double>(state.iterations());
  const double weights = static_cast<double>(shape.rows) * static_cast<double>(shape.cols);
  const double gbps = static_cast<double>(d->plan.weight_bytes) / per_iter / 1e9;
  state.counters["weight_GBps"] = gbps;
  if (config_.probe) {
    roof = std::max(roof, config_.probe->measure(kRowProbePasses));
    state.counters["probe_GBps"] = roof;
    state.counters["bw_fraction"] = gbps / roof;
  }
  state.counters["ns_per_weight"] = per_iter * 1e9 / weights;
  // Time-stamp-counter ticks (a fixed reference clock, not core cycles under boost), per weight
  // per thread: comparable with the TSC figures upstream projects publish (the specs quote them).
  if (ticks)
    state.counters["tsc_cycles_per_weight"] = static_cast<double>(ticks) * config_.threads /
                                              static_cast<double>(state.iterations()) / weights;
  if (config_.op != Op::gemv)
    state.counters["out_GBps"] = static_cast<double>(d->plan.out_bytes) / per_iter / 1e9;
  // The runner calls a row several times while it sizes the iteration count; the last call is
  // the reported one and overwrites the earlier times.
  if (v.reference) ref_seconds_[c.key()] = per_iter;
  seconds_[v.name][c.key()] = per_iter;
  calls_[v.name][c.key()].emplace_back(static_cast<int64_t>(state.iterations()), per_iter);
  // Absent when a filter left the reference out: no speedup is better than a wrong one.
  if (const auto ref = ref_seconds_.find(c.key()); ref != ref_seconds_.end())
    state.counters["speedup_vs_ref"] = ref->second / per_iter;
  if (c.model_layers) {
    state.counters["multiplicity"] = static_cast<double>(c.multiplicity);
    state.counters["ms_per_token"] = per_iter * 1e3 * static_cast<double>(c.multiplicity);
  }
  state.SetLabel(target_label(v));
}

std::map<std::string, std::map<std::string, double>> BenchContext::median_seconds() const {
  std::map<std::string, std::map<std::string, double>> out;
  for (const auto& [variant, cases] : calls_)
    for (const auto& [key, calls] : cases) {
      int64_t most = 0;
      for (const auto& [iters, sec] : calls) most = std::max(most, iters);
      std::vector<double> final;
      for (const auto& [iters, sec] : calls)
        if (iters == most) final.push_back(sec);
      std::sort(final.begin(), final.end());
      const std::size_t n = final.size();
      out[variant][key] = n % 2 ? final[n / 2] : (final[n / 2 - 1] + final[n / 2]) / 2;
    }
  return out;
}

}  // namespace qb::bench

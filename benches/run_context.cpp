#include "benches/run_context.h"

#include <fstream>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "benches/bench_data.h"
#include "benches/memory.h"
#include "benches/report.h"
#include "harness/cpu_features.h"

#ifndef QB_VERSION
#define QB_VERSION "unversioned"
#endif
#ifndef QB_BUILD_TYPE
#define QB_BUILD_TYPE "unknown"
#endif

namespace qb::bench {

void add_run_context(const RunConfig& config, const std::string& isa_ceiling, const Selection& selection,
                     const BandwidthProbe* probe, double startup_GBps,
                     const std::vector<BenchCase>& cases) {
  const auto& cpu = cpu_info();
  benchmark::AddCustomContext("hardware_id", hardware_id());
  benchmark::AddCustomContext("quantbench_version", QB_VERSION);
  benchmark::AddCustomContext("build_type", QB_BUILD_TYPE);
  benchmark::AddCustomContext("git_commit", QB_GIT_COMMIT);
  benchmark::AddCustomContext("compiler", QB_COMPILER);
  benchmark::AddCustomContext("cxx_flags", QB_CXX_FLAGS);
  benchmark::AddCustomContext("cpu_model", cpu.brand);
  benchmark::AddCustomContext("cpu_flags", feature_names(cpu.features));
  benchmark::AddCustomContext("isa_ceiling", isa_ceiling);
  benchmark::AddCustomContext("threads", std::to_string(config.threads));
  // Other work on the machine skews multi-thread rows most: readers need to see it.
  if (std::ifstream load("/proc/loadavg"); load) {
    std::string one, five, fifteen;
    load >> one >> five >> fifteen;
    benchmark::AddCustomContext("loadavg_1_5_15min", one + " " + five + " " + fifteen);
  }
  // Keyed by thread count so files from runs at different counts merge without ambiguity.
  if (probe) {
    benchmark::AddCustomContext("probe_read_GBps_threads_" + std::to_string(config.threads),
                                std::to_string(startup_GBps));
    benchmark::AddCustomContext("probe_method", "sum of " + std::to_string(probe->bytes() >> 20) +
                                                    " MiB first-touched by the same threads (" + probe->kernel() +
                                                    "): best of " + std::to_string(kStartupProbePasses) +
                                                    " passes at start-up (probe_read_GBps_threads_N); "
                                                    "each row's probe_GBps and bw_fraction: best of " +
                                                    std::to_string(kRowProbePasses) + " passes before and " +
                                                    std::to_string(kRowProbePasses) + " after it");
  }
  // Context values are strings; these two are JSON objects serialized into them.
  auto isa = nlohmann::json::object();
  for (const Variant* v : selection.run) isa[v->name] = target_label(*v);
  benchmark::AddCustomContext("variant_isa", isa.dump());
  auto skipped = nlohmann::json::object();
  for (const auto& [v, why] : selection.skipped) skipped[v->name] = why;
  benchmark::AddCustomContext("skipped_variants", skipped.dump());
  std::string rotation = config.data.rotate ? "rotation target " + std::to_string(rotation_target_bytes() >> 20) +
                                             " MiB (the probe's 1 GiB, or 4x the LLC of " +
                                             std::to_string(last_level_cache_bytes() >> 20) + " MiB if larger)"
                                       : std::string("no rotation (--warm): one copy, cache-resident where it fits");
  for (const BenchCase& c : cases) {
    const Format& f = c.format.empty() ? *config.format : *find_format(c.format);  // a model's layers name theirs
    rotation += "; " + plan_data(f, config.op, c.shape, c.params, config.data).describe();
  }
  benchmark::AddCustomContext("rotation", rotation);
}

}  // namespace qb::bench

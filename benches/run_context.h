// What a run records next to its rows (Google Benchmark custom context, in the console header
// and the JSON `context`): build, CPU, probe, which variants ran on which ISA, memory plan.
#pragma once
#include <string>
#include <vector>

#include "benches/bandwidth_probe.h"
#include "benches/bench_context.h"
#include "harness/shape.h"
#include "harness/registry.h"

namespace qb::bench {

void add_run_context(const RunConfig& config, const std::string& isa_ceiling, const Selection& selection,
                     const BandwidthProbe* probe, double startup_GBps,
                     const std::vector<BenchCase>& cases);

}  // namespace qb::bench

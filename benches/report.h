// `bench --report DIR`: every run becomes a file that can be compared, plotted and gated
// (reports/compare.py, reports/dashboard.py): DIR/<hardware id>/<version>-<commit>.json, Google
// Benchmark JSON (its own tools/compare.py reads it) with quantbench's context. Runs of one commit
// on one machine class merge into one file.
#pragma once
#include <string>

namespace qb::bench {

// Readable and stable for one machine class: vendor, product line, microarchitecture, logical
// cores, widest ISA level, e.g. "amd-epyc-zen5-2c-avx512". Unknown parts say what CPUID gave
// ("intel-f6m8f-..."), never a guess.
std::string hardware_id();

// DIR/<hardware id>/<version>-<commit>.json (commit as the build recorded it, "-dirty" included).
std::string report_path(const std::string& dir);

// Merges a finished run's Google Benchmark JSON (`run_json`, written by this process) into the
// report at `path` (created with its folder if absent): rows with the run's names replace the
// report's, other rows stay; context keys are updated, the per-variant ISA maps united; each
// run's command line, date, threads and load are appended to "quantbench_runs".
// Throws std::runtime_error naming the file on unreadable or malformed input.
void merge_into_report(const std::string& run_json, const std::string& path, const std::string& command_line);

}  // namespace qb::bench

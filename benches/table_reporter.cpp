#include "benches/table_reporter.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace qb::bench {
namespace {

std::string counter(const benchmark::BenchmarkReporter::Run& run, const char* name, const char* fmt) {
  const auto it = run.counters.find(name);
  if (it == run.counters.end()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, it->second.value);
  return buf;
}

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

}  // namespace

void TableReporter::show_progress(std::size_t rows) {
  total_ = rows;
  tty_ = isatty(STDERR_FILENO) != 0;
  start_ = std::chrono::steady_clock::now();
}

void TableReporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  if (!total_ || runs.empty()) return;
  // Repetitions and aggregates report the same row again: count each name once.
  done_.insert(runs.front().run_name.str());
  const std::size_t k = done_.size();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string eta = k < total_ ? clock_text(elapsed / static_cast<double>(k) * static_cast<double>(total_ - k)) : "0:00";
  if (tty_)
    std::fprintf(stderr, "\r\033[K[%zu/%zu rows] %s elapsed, ETA %s", k, total_, clock_text(elapsed).c_str(), eta.c_str());
  else
    std::fprintf(stderr, "progress: %zu/%zu rows, %s elapsed, ETA %s\n", k, total_, clock_text(elapsed).c_str(), eta.c_str());
  std::fflush(stderr);
}

void TableReporter::Finalize() {
  if (total_ && tty_) std::fprintf(stderr, "\n");
  ConsoleReporter::Finalize();
}

void TableReporter::PrintHeader(const Run& run) {
  (void)run;
  const int w = static_cast<int>(name_field_width_);
  std::printf("%-*s %12s %7s %10s %8s %8s %8s %9s %9s %8s  %s\n", w, "Benchmark", "ms/iter", "iters", "weight_GBps",
              "probe", "bw_frac", "speedup", "ns/weight", "tsc_c/w", "out_GBps", "isa");
  std::printf("%s\n", std::string(static_cast<std::size_t>(w) + 101, '-').c_str());
}

void TableReporter::PrintRunData(const Run& run) {
  if (total_ && tty_) std::fprintf(stderr, "\r\033[K");  // the progress line gives way to the row
  const int w = static_cast<int>(name_field_width_);
  if (run.error_occurred) {
    std::printf("%-*s ERROR: %s\n", w, run.benchmark_name().c_str(), run.error_message.c_str());
  } else {
    const double ms = run.GetAdjustedRealTime() * benchmark::GetTimeUnitMultiplier(benchmark::kMillisecond) /
                      benchmark::GetTimeUnitMultiplier(run.time_unit);
    std::printf("%-*s %12.3f %7lld %11s %8s %8s %8s %9s %9s %8s  %s\n", w, run.benchmark_name().c_str(), ms,
                static_cast<long long>(run.iterations), counter(run, "weight_GBps", "%.2f").c_str(),
                counter(run, "probe_GBps", "%.2f").c_str(),
                counter(run, "bw_fraction", "%.3f").c_str(), counter(run, "speedup_vs_ref", "%.2f").c_str(),
                counter(run, "ns_per_weight", "%.4f").c_str(), counter(run, "tsc_cycles_per_weight", "%.4f").c_str(),
                counter(run, "out_GBps", "%.2f").c_str(),
                run.report_label.c_str());
  }
  std::fflush(stdout);
}

}  // namespace qb::bench

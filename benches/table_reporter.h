// Console output with fixed columns for our counters: Google Benchmark's console reporter prints
// counters with SI prefixes (a bw_fraction of 0.36 reads "360m").
#pragma once
#include <chrono>
#include <set>
#include <string>

#include <benchmark/benchmark.h>

namespace qb::bench {

class TableReporter : public benchmark::ConsoleReporter {
 public:
  TableReporter() : benchmark::ConsoleReporter(OO_None) {}

  // Long runs (a model's layers) report progress on stderr after each row: one line rewritten in
  // place on a terminal, plain lines otherwise (logs). `rows`: how many rows the run will report.
  void show_progress(std::size_t rows);

  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 protected:
  void PrintHeader(const Run& run) override;
  void PrintRunData(const Run& run) override;

 private:
  std::size_t total_ = 0;
  std::set<std::string> done_;
  bool tty_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace qb::bench

// Console output with fixed columns for our counters: Google Benchmark's console reporter prints
// counters with SI prefixes (a bw_fraction of 0.36 reads "360m").
#pragma once
#include <benchmark/benchmark.h>

namespace qb::bench {

class TableReporter : public benchmark::ConsoleReporter {
 public:
  TableReporter() : benchmark::ConsoleReporter(OO_None) {}

 protected:
  void PrintHeader(const Run& run) override;
  void PrintRunData(const Run& run) override;
};

}  // namespace qb::bench

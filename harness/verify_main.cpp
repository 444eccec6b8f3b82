// build/bin/verify PATH...: runs every registered variant this CPU supports on each fixture.
#include <iostream>

#include <CLI/CLI.hpp>

#include "harness/cpu_features.h"
#include "harness/verify.h"

int main(int argc, char** argv) {
  CLI::App app{"quantbench verify: check kernels against fixtures (files or folders)"};
  std::vector<std::string> paths;
  std::string isa = "native";
  qb::VerifyOptions opt;
  app.add_option("paths", paths, "fixture files, folders, or EXL3 model directories (a folder with config.json)")->required();
  app.add_option("--isa", isa, "highest ISA level to run: scalar, avx2, avx512, avx512vnni, avx512vbmi, native");
  app.add_option("--threads", opt.threads, "threads per kernel run")->check(CLI::PositiveNumber);
  app.add_option("--variant", opt.only_variant, "run only this variant (e.g. q4_0_gemv_avx2)");
  CLI11_PARSE(app, argc, argv);

  const auto cap = qb::isa_level_features(isa);
  if (!cap) {
    std::cerr << "verify: --isa '" << isa << "' is not a level; use one of: native";
    for (const auto& l : qb::isa_levels()) std::cerr << ' ' << l.name;
    std::cerr << "\n";
    return 2;
  }
  opt.isa_cap = *cap;
  if (!opt.only_variant.empty()) {
    bool known = false;
    for (const auto& v : qb::variants()) known |= v.name == opt.only_variant;
    if (!known) {
      std::cerr << "verify: --variant '" << opt.only_variant << "' is not registered\n";
      return 2;
    }
  }
  const auto& cpu = qb::cpu_info();
  std::cout << "cpu: " << cpu.brand << " [" << qb::feature_names(cpu.features) << "]\n"
            << "isa ceiling: " << isa << ", threads: " << opt.threads << "\n";
  const qb::Tally t = qb::verify_paths(paths, qb::variants(), opt, std::cout);
  std::cout << t.passed << " passed, " << t.failed << " failed, " << t.skipped << " skipped\n";
  return t.failed == 0 ? 0 : 1;
}

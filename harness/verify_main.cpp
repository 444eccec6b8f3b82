// build/bin/verify PATH...: runs every registered variant this CPU supports on each fixture, plus
// the kernels of any --plugin libraries (harness/qb_plugin.h), checked exactly like ours.
#include <algorithm>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "harness/cpu_features.h"
#include "harness/plugin.h"
#include "harness/safetensors.h"
#include "harness/verify.h"

int main(int argc, char** argv) {
  CLI::App app{"quantbench verify: check kernels against fixtures (files or folders)"};
  std::vector<std::string> paths, plugins;
  std::string isa = "native";
  qb::VerifyOptions opt;
  app.add_option("paths", paths, "fixture files, folders, model directories (a folder with config.json) or GGUF files")->required();
  app.add_option("--isa", isa, "highest ISA level to run: scalar, avx2, avx512, avx512vnni, avx512vbmi, native");
  int threads = 0;
  app.add_option("--threads", threads, "run each kernel at this thread count only (default: 1, 2 and 3)")
      ->check(CLI::PositiveNumber);
  bool fixture_only = false;
  app.add_flag("--fixture-only", fixture_only,
               "check each fixture's own expectations only: no batch sweep on random x, no derived cases "
               "(shifted, trimmed, special scales, exact inputs)");
  app.add_option("--variant", opt.only_variant, "run only this variant (a registered name or a plugin kernel's)");
  app.add_option("--plugin", plugins,
                 "shared library exporting qb_plugin_init (harness/qb_plugin.h): its kernels join the checks; repeatable")
      ->allow_extra_args(false);
  CLI11_PARSE(app, argc, argv);

  const auto cap = qb::isa_level_features(isa);
  if (!cap) {
    std::cerr << "verify: --isa '" << isa << "' is not a level; use one of: native";
    std::cerr << ' ' << qb::isa_level_names(" ") << "\n";
    return 2;
  }
  opt.isa_cap = *cap;
  if (threads > 0) opt.threads = {threads};
  opt.derived = !fixture_only;

  // The pool: the registry's variants, then each plugin's. A plugin kernel's repro line names
  // its library, so it reproduces as printed.
  std::vector<qb::Variant> pool = qb::variants();
  std::string loaded_lines;
  for (const std::string& lib : plugins) {
    try {
      std::vector<qb::Variant> loaded = qb::load_plugin(lib, pool);
      loaded_lines += "plugin: " + lib + " (" + std::to_string(loaded.size()) + (loaded.size() == 1 ? " kernel:" : " kernels:");
      for (const auto& v : loaded) loaded_lines += " " + v.name;
      loaded_lines += ")\n";
      pool.insert(pool.end(), std::make_move_iterator(loaded.begin()), std::make_move_iterator(loaded.end()));
    } catch (const qb::FileError& e) {
      std::cerr << "verify: --plugin: " << e.what() << "\n";
      return 2;
    }
  }

  if (!opt.only_variant.empty()) {
    bool known = false;
    for (const auto& v : pool) known |= v.name == opt.only_variant;
    if (!known) {
      std::cerr << "verify: --variant '" << opt.only_variant << "' is not registered"
                << (plugins.empty() ? "" : " nor in the --plugin libraries") << "\n";
      return 2;
    }
  }
  const auto& cpu = qb::cpu_info();
  std::cout << "cpu: " << cpu.brand << " [" << qb::feature_names(cpu.features) << "]\n"
            << "isa ceiling: " << isa << ", threads:";
  for (int t : opt.threads) std::cout << " " << t;
  std::cout << (opt.derived ? ", derived cases on" : ", fixtures only") << "\n";
  std::cout << loaded_lines;
  const qb::Tally t = qb::verify_paths(paths, pool, opt, std::cout);
  std::cout << t.passed << " passed, " << t.failed << " failed, " << t.skipped << " skipped\n";
  // With --variant every check is that variant's: none passing or failing means it never ran
  // (inputs of another format, or skipped above), which must not read as success.
  if (!opt.only_variant.empty() && t.passed + t.failed == 0) {
    std::cerr << "verify: --variant " << opt.only_variant << " ran on none of the inputs (its format is "
              << std::find_if(pool.begin(), pool.end(), [&](const qb::Variant& v) { return v.name == opt.only_variant; })->format
              << "; see the SKIP lines)\n";
    return 1;
  }
  return t.failed == 0 ? 0 : 1;
}

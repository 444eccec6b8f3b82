// bench: throughput of every variant of one format and op on LLaMA-sized weights, against the
// scalar reference and against this machine's memory read bandwidth (see reports/README.md).
#include <omp.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <benchmark/benchmark.h>

#include "benches/bandwidth_probe.h"
#include "benches/bench_context.h"
#include "benches/bench_data.h"
#include "benches/exl3_config.h"
#include "benches/run_context.h"
#include "benches/shapes.h"
#include "benches/table_reporter.h"
#include "harness/cpu_features.h"
#include "harness/registry.h"

namespace {

using namespace qb;
using namespace qb::bench;

// Long enough for ~10 iterations of the slowest default row (the scalar reference on
// 32000x4096, ~50 ms), short enough that the default run takes about two minutes.
constexpr const char* kDefaultMinTime = "--benchmark_min_time=0.5";

std::string join_ids(bool implemented) {
  std::string s;
  for (const auto& f : formats())
    if (f.implemented() == implemented) s += (s.empty() ? "" : " ") + f.id;
  return s;
}

const Format& check_format(const std::string& id) {
  const Format* f = find_format(id);
  if (!f) throw CLI::ValidationError("--format", "unknown format '" + id + "'; valid: " + join_ids(true));
  if (!f->implemented())
    throw CLI::ValidationError("--format", "'" + id + "' is not implemented yet; implemented: " + join_ids(true));
  return *f;
}

uint64_t check_isa(const std::string& name) {
  if (const auto features = isa_level_features(name)) return *features;
  std::string valid = "native";
  for (const auto& l : isa_levels()) valid += " " + std::string(l.name);
  throw CLI::ValidationError("--isa", "unknown level '" + name + "'; valid: " + valid);
}

// EXL3 decode dominates at m=1, so its defaults are the seed model's shapes (000_12bb0b0cfee13881:
// up/gate 6144x2048, down 2048x6144) plus a square 4096x4096.
const std::vector<Shape>& exl3_default_shapes() {
  static const std::vector<Shape> shapes = {{4096, 4096}, {6144, 2048}, {2048, 6144}};
  return shapes;
}

std::vector<BenchCase> check_cases(const std::vector<std::string>& args, const Format& format, Op op,
                                   const nlohmann::json& params) {
  std::vector<BenchCase> cases;
  for (const auto& a : args) {
    const auto s = parse_shape(a);
    if (!s) throw CLI::ValidationError("--shape", "'" + a + "' is not ROWSxCOLS with positive integers");
    cases.push_back({*s, params, "", 1, false});
  }
  const bool exl3 = format.family == "exl3";
  if (cases.empty())
    for (const Shape& s : exl3 ? exl3_default_shapes() : default_shapes()) cases.push_back({s, params, "", 1, false});
  if (exl3)
    for (BenchCase& c : cases) c.tag = "K" + params["bits"].dump() + "-" + params["codebook"].get<std::string>();
  for (const BenchCase& c : cases) {
    try {
      plan_data(format, op, c.shape, c.params);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--shape", "'" + c.shape.str() + "' for " + format.id + ": " + e.what());
    }
  }
  return cases;
}

bool has_arg(const std::vector<std::string>& args, std::string_view a, std::string_view b) {
  for (const auto& s : args)
    if (s == a || s == b) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quantbench kernel throughput. Options not listed here (--benchmark_filter, "
               "--benchmark_min_time, --benchmark_repetitions, ...) go to Google Benchmark."};
  app.allow_extras();
  std::string format_id = "q4_0", op_str = "gemv", isa_str = "native", json_path;
  std::vector<std::string> shape_args;
  std::string exl3_config, codebook = "mcg";
  std::vector<int> bits = {4};
  int threads = omp_get_num_procs();
  app.add_option("--format", format_id, "weight format id")->capture_default_str();
  app.add_option("--op", op_str, "kernel: dequant or gemv")
      ->check(CLI::IsMember({"dequant", "gemv"}))
      ->capture_default_str();
  app.add_option("--isa", isa_str, "ISA ceiling: native, scalar, avx2, avx512, avx512vnni, avx512vbmi")
      ->capture_default_str();
  app.add_option("--shape", shape_args,
                 "weight ROWSxCOLS (out x in features), repeatable; default: LLaMA-7B 4096x4096 11008x4096 "
                 "4096x11008 32000x4096 (exl3: 4096x4096 6144x2048 2048x6144)");
  app.add_option("--threads", threads, "OpenMP threads (capped at the available cores)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--json", json_path, "write Google Benchmark JSON with the run's context here");
  bool warm = false;
  int batch = 1;
  app.add_option("--batch", batch, "GEMV vectors per call (m); batching kernels decode once for all")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--warm", warm,
               "no buffer rotation: weights (and dequant outputs) stay cache-resident where they fit, "
               "measuring the kernel's ceiling rather than DRAM streaming");
  auto* config_opt = app.add_option("--exl3-config", exl3_config,
                                    "EXL3 quantization_config JSON, config.json or model directory: GEMV (m=1) of every "
                                    "linear layer at its shape, bits and codebook, and the projected time per token");
  auto* bits_opt = app.add_option("--bits", bits, "EXL3 bits per weight (--format exl3), e.g. 4 or 2,3,4,8")
                      ->delimiter(',')
                      ->check(CLI::Range(1, 8))
                      ->capture_default_str();
  auto* codebook_opt = app.add_option("--codebook", codebook, "EXL3 codebook (--format exl3)")
                           ->check(CLI::IsMember({"3inst", "mcg", "mul1"}))
                           ->capture_default_str();
  config_opt->excludes("--shape")->excludes(bits_opt)->excludes(codebook_opt);

  RunConfig config;
  std::vector<BenchCase> cases;
  ModelCases model;
  uint64_t isa_cap = 0;
  try {
    app.parse(argc, argv);
    if (!exl3_config.empty()) {
      if (app.count("--format") && format_id != "exl3")
        throw CLI::ValidationError("--exl3-config", "benches format exl3, not '" + format_id + "'");
      if (op_str != "gemv") throw CLI::ValidationError("--exl3-config", "projects GEMV time; --op must be gemv");
      format_id = "exl3";
    }
    config.format = &check_format(format_id);
    config.op = op_str == "gemv" ? Op::gemv : Op::dequant;
    if (batch > 1 && config.op != Op::gemv) throw CLI::ValidationError("--batch", "applies to --op gemv only");
    isa_cap = check_isa(isa_str);
    const bool exl3 = config.format->family == "exl3";
    if (!exl3 && (app.count("--bits") || app.count("--codebook")))
      throw CLI::ValidationError("--bits/--codebook", "apply to --format exl3 only");
    if (!exl3_config.empty()) {
      try {
        model = exl3_model_cases(exl3_config);
      } catch (const std::exception& e) {
        throw CLI::ValidationError("--exl3-config", e.what());
      }
      if (model.cases.empty()) throw CLI::ValidationError("--exl3-config", exl3_config + " lists no EXL3 layers");
      cases = model.cases;
      for (const BenchCase& c : cases) {
        try {
          plan_data(*config.format, config.op, c.shape, c.params);
        } catch (const std::invalid_argument& e) {
          throw CLI::ValidationError("--exl3-config", c.key() + ": " + e.what());
        }
      }
    } else {
      if (!exl3) bits = {0};  // one pass without format parameters
      for (int b : bits) {
        const nlohmann::json params =
            exl3 ? nlohmann::json{{"bits", b}, {"codebook", codebook}} : nlohmann::json::object();
        for (BenchCase& c : check_cases(shape_args, *config.format, config.op, params)) cases.push_back(std::move(c));
      }
    }
    if (!json_path.empty() && !std::ofstream(json_path))
      throw CLI::ValidationError("--json", "cannot write '" + json_path + "'");
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // Notes go to stderr: stdout may carry --benchmark_format=json.
  const int cores = omp_get_num_procs();
  if (threads > cores) {
    std::fprintf(stderr, "note: --threads %d capped to the %d available cores\n", threads, cores);
    threads = cores;
  }
  config.threads = threads;
  config.data.rotate = !warm;
  config.data.batch = batch;

  // Our defaults first, the user's flags after them (the last occurrence wins), --json last.
  std::vector<std::string> bm_args = {argv[0], kDefaultMinTime};
  for (const auto& a : app.remaining()) bm_args.push_back(a);
  if (!json_path.empty()) {
    bm_args.push_back("--benchmark_out=" + json_path);
    bm_args.push_back("--benchmark_out_format=json");
  }
  std::vector<char*> bm_argv;
  for (auto& a : bm_args) bm_argv.push_back(a.data());
  int bm_argc = static_cast<int>(bm_argv.size());
  benchmark::Initialize(&bm_argc, bm_argv.data());
  if (benchmark::ReportUnrecognizedArguments(bm_argc, bm_argv.data())) return 1;

  const Selection sel = select_variants(variants(), config.format->id, config.op, isa_cap);
  for (const auto& [v, why] : sel.skipped) std::fprintf(stderr, "skipped %s: %s\n", v->name.c_str(), why.c_str());
  if (sel.run.empty()) {
    std::fprintf(stderr, "bench: no %s %s variant runs on this CPU under --isa %s\n", config.format->id.c_str(),
                 std::string(op_name(config.op)).c_str(), isa_str.c_str());
    return 1;
  }

  // Listing runs nothing, so it needs no roofline.
  ProbeResult probe;
  if (!has_arg(bm_args, "--benchmark_list_tests", "--benchmark_list_tests=true")) {
    probe = probe_read_bandwidth(threads);
    std::fprintf(stderr, "probe: %.2f GB/s read bandwidth with %d threads (best of %d passes over %zu MiB, %s)\n",
                 probe.best_GBps, threads, probe.passes, probe.bytes >> 20, probe.kernel.c_str());
  }
  config.probe_GBps = probe.best_GBps;

  add_run_context(config, isa_str, sel, probe, cases);
  if (!exl3_config.empty()) benchmark::AddCustomContext("exl3_config", exl3_config);

  BenchContext context(config);
  context.register_rows(cases, sel.run);

  // A --benchmark_format other than console asks for the library's own console output.
  const bool own_format = has_arg(bm_args, "--benchmark_format=json", "--benchmark_format=csv");
  TableReporter table;
  const std::size_t ran = own_format ? benchmark::RunSpecifiedBenchmarks() : benchmark::RunSpecifiedBenchmarks(&table);
  benchmark::Shutdown();
  if (!exl3_config.empty() && ran > 0) {
    const auto projection = project(model, context.seconds());
    print_projection(model, projection, threads);
    if (!json_path.empty()) add_projection_to_json(json_path, model, projection);
  }
  return ran > 0 ? 0 : 1;  // a --benchmark_filter that matches nothing is a mistake, not a result
}

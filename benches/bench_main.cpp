// bench: throughput of every variant of one format and op (or of each format of a --model) on
// LLaMA-sized weights, against the scalar reference and against this machine's memory read
// bandwidth (see reports/README.md).
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <benchmark/benchmark.h>

#include "benches/bandwidth_probe.h"
#include "benches/bench_context.h"
#include "benches/bench_data.h"
#include "benches/model_cases.h"
#include "benches/report.h"
#include "benches/run_context.h"
#include "benches/table_reporter.h"
#include "harness/cpu_features.h"
#include "harness/family.h"
#include "harness/plugin.h"
#include "harness/registry.h"
#include "harness/shape.h"

namespace {

using namespace qb;
using namespace qb::bench;

// Long enough for ~10 iterations of the slowest default row (a scalar reference on a 32000x4096
// weight, ~50 ms), short enough that the default run takes about two minutes.
constexpr const char* kDefaultMinTime = "--benchmark_min_time=0.5";
// A model-choice file runs hundreds of rows of large weights (a converter's measurement of a 70B model:
// 24 options x 4 shapes x 3 variants), where each row's set-up (its weights, the probe around it)
// costs more than its timing. 0.05 s is still 10+ calls of the largest layers and 100+ of the
// smallest; on 2 cores, runs at 0.05 and 0.1 s spread alike (other load on the machine dominates).
constexpr const char* kChoicesMinTime = "--benchmark_min_time=0.05";

const Format& check_format(const std::string& id) {
  const Format* f = find_format(id);
  if (!f) throw CLI::ValidationError("--format", "unknown format '" + id + "'; valid: " + implemented_format_ids(" "));
  if (!f->implemented())
    throw CLI::ValidationError("--format", "'" + id + "' is not implemented yet; implemented: " + implemented_format_ids(" "));
  return *f;
}

uint64_t check_isa(const std::string& name) {
  if (const auto features = isa_level_features(name)) return *features;
  throw CLI::ValidationError("--isa", "unknown level '" + name + "'; valid: native " + isa_level_names(" "));
}

// The run's weights: the shapes given, or the family's default suite, for every combination of
// the family's parameter values.
std::vector<BenchCase> check_cases(const std::vector<std::string>& args, const Format& format, Op op,
                                   const std::vector<nlohmann::json>& param_sets) {
  const Family& fam = family_of(format);
  std::vector<Shape> shapes;
  for (const auto& a : args) {
    const auto s = parse_shape(a);
    if (!s) throw CLI::ValidationError("--shape", "'" + a + "' is not ROWSxCOLS with positive integers");
    shapes.push_back(*s);
  }
  if (shapes.empty()) shapes = fam.default_shapes;
  if (shapes.empty()) throw CLI::ValidationError("--shape", "family " + fam.id + " has no default shapes; give --shape");
  std::vector<BenchCase> cases;
  for (const nlohmann::json& params : param_sets)
    for (const Shape& s : shapes) {
      BenchCase c;
      c.shape = s;
      c.params = params;
      if (fam.case_tag) c.tag = fam.case_tag(params);
      try {
        plan_data(format, op, c.shape, c.params);
      } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--shape", "'" + c.shape.str() + "' for " + format.id + ": " + e.what());
      }
      cases.push_back(std::move(c));
    }
  return cases;
}

// Every family's bench parameters become options; values are lists (--bits 2,3,4).
struct ParamOptions {
  std::map<std::string, std::vector<std::string>> values;  // option name -> given values
  std::map<std::string, std::string> owner;                // option name -> family id

  void add(CLI::App& app) {
    for (const Family& fam : families())
      for (const BenchParam& p : fam.bench_params) {
        if (owner.count(p.name)) continue;  // two families sharing a parameter name share the option
        owner[p.name] = fam.id;
        auto* opt = app.add_option("--" + p.name, values[p.name], p.help + " (" + fam.id + ")")->delimiter(',');
        if (!p.choices.empty()) opt->check(CLI::IsMember(p.choices));
        else if (!p.text) opt->check(CLI::Range(p.min, p.max));
      }
  }

  // The cartesian product of the format's parameter values (defaults where not given).
  std::vector<nlohmann::json> param_sets(const CLI::App& app, const Format& format) const {
    const Family& fam = family_of(format);
    const auto takes = [&](const BenchParam& p) {
      return p.formats.empty() || std::find(p.formats.begin(), p.formats.end(), format.id) != p.formats.end();
    };
    for (const auto& [name, family] : owner) {
      bool ours = false;
      for (const BenchParam& p : fam.bench_params) ours |= p.name == name && takes(p);
      if (!ours && app.count("--" + name))
        throw CLI::ValidationError("--" + name, "applies to family " + family + (family == fam.id ? "'s other formats" : "") +
                                                    ", not to " + format.id);
    }
    std::vector<nlohmann::json> sets{nlohmann::json::object()};
    for (const BenchParam& p : fam.bench_params) {
      if (!takes(p)) continue;
      const std::vector<std::string>& given = values.at(p.name);
      std::vector<nlohmann::json> next;
      for (const nlohmann::json& base : sets)
        for (const std::string& v : given.empty() ? p.defaults : given) {
          nlohmann::json j = base;
          j[p.name] = p.choices.empty() && !p.text ? nlohmann::json(std::stoll(v)) : nlohmann::json(v);
          next.push_back(std::move(j));
        }
      sets = std::move(next);
    }
    return sets;
  }
};

// Every family's model-choice files become options (harness/family.h ModelChoices): at most one
// is given, benched as one model per choice.
struct ChoiceOptions {
  std::map<std::string, std::string> files;          // option name -> file given
  std::map<std::string, const ModelChoices*> hooks;  // option name -> the family's hook
  std::vector<CLI::Option*> options;

  void add(CLI::App& app) {
    for (const Family& fam : families())
      for (const ModelChoices& mc : fam.model_choices) {
        if (hooks.count(mc.option)) continue;
        hooks[mc.option] = &mc;
        options.push_back(app.add_option("--" + mc.option, files[mc.option],
                                         mc.help + " (" + fam.id + "; rows run at " + std::string(kChoicesMinTime) +
                                             " unless given)"));
      }
    for (std::size_t i = 0; i < options.size(); ++i)
      for (std::size_t j = i + 1; j < options.size(); ++j) options[i]->excludes(options[j]);
  }
  void exclude(CLI::Option* other) {
    for (CLI::Option* o : options) o->excludes(other);
  }
  // The option given, or null.
  const ModelChoices* given(const CLI::App& app) const {
    for (const auto& [name, mc] : hooks)
      if (app.count("--" + name)) return mc;
    return nullptr;
  }
};

// "'a', 'b'": choice names hold spaces.
std::string quoted_list(const std::vector<ModelChoice>& choices) {
  std::string s;
  for (const ModelChoice& c : choices) s += (s.empty() ? "'" : ", '") + c.name + "'";
  return s;
}

bool has_arg(const std::vector<std::string>& args, std::string_view a, std::string_view b) {
  for (const auto& s : args)
    if (s == a || s == b) return true;
  return false;
}

// How many of `rows` the run will report: Google Benchmark's --benchmark_filter (the last one
// given; a leading '-' negates it) applied as it applies it, a regular expression searched in the name.
std::size_t rows_to_run(const std::vector<std::string>& rows, const std::vector<std::string>& args) {
  std::string filter;
  for (const std::string& a : args)
    if (a.rfind("--benchmark_filter=", 0) == 0) filter = a.substr(19);
  if (filter.empty() || filter == "all" || filter == ".") return rows.size();
  const bool negate = filter[0] == '-';
  try {
    const std::regex re(negate ? filter.substr(1) : filter);
    return static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [&](const std::string& r) {
      return std::regex_search(r, re) != negate;
    }));
  } catch (const std::regex_error&) {
    return rows.size();  // the library reports a bad filter itself
  }
}

// Each external (plugin) variant's time against our fastest kernel on the same case, from this
// run's rows: the side-by-side a peer comparison is for. Ratio > 1: ours is faster.
void print_peer_ratios(const std::vector<std::unique_ptr<BenchContext>>& contexts, const std::vector<const Variant*>& run) {
  std::map<std::string, const Variant*> by_name;
  for (const Variant* v : run) by_name[v->name] = v;
  for (const auto& ctx : contexts) {
    // Medians over repetitions: single repetitions on a shared machine differ by tens of percent.
    const auto seconds = ctx->median_seconds();
    std::map<std::string, std::pair<std::string, double>> ours;  // case -> fastest own variant
    for (const auto& [name, cases] : seconds) {
      const Variant* v = by_name.at(name);
      if (v->reference || v->origin != kOwnOrigin) continue;
      for (const auto& [key, sec] : cases)
        if (!ours.count(key) || sec < ours[key].second) ours[key] = {name, sec};
    }
    for (const auto& [name, cases] : seconds) {
      const Variant* v = by_name.at(name);
      if (v->origin == kOwnOrigin) continue;
      for (const auto& [key, sec] : cases) {
        const auto it = ours.find(key);
        if (it == ours.end()) continue;
        std::printf("peer %s %s: %.1f us, ours %s %.1f us (medians): ours %.2fx as fast\n", key.c_str(), name.c_str(),
                    sec * 1e6, it->second.first.c_str(), it->second.second * 1e6, sec / it->second.second);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quantbench kernel throughput. Options not listed here (--benchmark_filter, "
               "--benchmark_min_time, --benchmark_repetitions, ...) go to Google Benchmark."};
  app.allow_extras();
  // Default: the registry's first implemented format (the families' order in reference/families.cpp).
  std::string format_id, op_str = "gemv", isa_str = "native", json_path, model_path;
  for (const auto& f : formats())
    if (format_id.empty() && f.implemented()) format_id = f.id;
  std::vector<std::string> shape_args, plugin_paths;
  int threads = omp_get_num_procs();
  app.add_option("--format", format_id, "weight format id")->capture_default_str();
  app.add_option("--op", op_str, "kernel: dequant, dequant_f16, dequant_bf16 or gemv")
      ->check(CLI::IsMember({"dequant", "dequant_f16", "dequant_bf16", "gemv"}))
      ->capture_default_str();
  app.add_option("--isa", isa_str, "ISA ceiling: native, scalar, avx2, avx512, avx512vnni, avx512vbmi")
      ->capture_default_str();
  auto* shape_opt = app.add_option("--shape", shape_args,
                                   "weight ROWSxCOLS (out x in features), repeatable; default: the format "
                                   "family's suite");
  app.add_option("--threads", threads, "OpenMP threads (capped at the available cores)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--json", json_path, "write Google Benchmark JSON with the run's context here");
  std::string report_dir;
  app.add_flag_callback(
      "--hardware-id",
      [] {
        std::printf("%s\n", hardware_id().c_str());
        throw CLI::Success();
      },
      "print this machine's hardware id (the folder --report writes into) and exit");
  app.add_option("--report", report_dir,
                 "merge this run into DIR/<hardware id>/<version>-<commit>.json (Google Benchmark JSON with the "
                 "run's context; runs of one commit on one machine class share the file), for reports/compare.py "
                 "and reports/dashboard.py");
  app.add_option("--plugin", plugin_paths, "shared library of external kernels (qb_plugin.h), repeatable: "
                                           "its variants are timed beside ours");
  bool warm = false;
  int batch = 1;
  app.add_option("--batch", batch, "GEMV vectors per call (m); batching kernels decode once for all")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--warm", warm,
               "no buffer rotation: weights (and dequant outputs) stay cache-resident where they fit, "
               "measuring the kernel's ceiling rather than DRAM streaming");
  auto* model_opt = app.add_option("--model", model_path,
                                   "model directory or its quantization config (any family that recognizes its "
                                   "quant_method), or a GGUF file: GEMV (m=1) of every linear layer at its real "
                                   "shape and params (each implemented format of the model, or --format's), and "
                                   "the projected time per token");
  model_opt->excludes(shape_opt);
  std::string suite_name;
  auto* suite_opt = app.add_option("--suite", suite_name,
                                   "a family's named model shapes (" + known_suites() + "), benched like --model: "
                                   "per layer and projected per token");
  suite_opt->excludes(shape_opt)->excludes(model_opt);
  ParamOptions params;
  params.add(app);
  ChoiceOptions choice_opts;
  choice_opts.add(app);
  choice_opts.exclude(shape_opt);
  choice_opts.exclude(model_opt);
  choice_opts.exclude(suite_opt);

  RunConfig config;
  std::vector<BenchCase> cases;
  ModelCases model;
  std::vector<std::string> model_formats;  // --model: the formats run, in first-seen order
  std::string model_flag = "--model";  // the option that named the model, for messages
  const ModelChoices* choice_hook = nullptr;  // a model-choice file given: one model per choice
  std::vector<ChoiceModel> choice_models;
  uint64_t isa_cap = 0;
  std::vector<Variant> pool = variants();
  std::string run_json_tmp;  // --report without --json: the run's own JSON, removed after the merge
  try {
    app.parse(argc, argv);
    if (!suite_name.empty()) {
      try {
        model = suite_cases(suite_name);
      } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--suite", e.what());
      }
      model_path = model.source;  // from here on a suite is benched as a model
      model_flag = "--suite";
    } else if (!model_path.empty()) {
      try {
        model = model_cases(model_path);
      } catch (const std::exception& e) {  // the input, not the command line, is at fault
        std::fprintf(stderr, "bench: --model: %s\n", e.what());
        return 2;
      }
    } else if ((choice_hook = choice_opts.given(app))) {
      const std::string opt = "--" + choice_hook->option;
      const std::string& file = choice_opts.files.at(choice_hook->option);
      std::vector<ModelChoice> offered;
      try {
        offered = choice_hook->read(file);
        if (offered.empty()) throw FileError(file, "", "offers no choice");
      } catch (const std::exception& e) {  // the input, not the command line, is at fault
        std::fprintf(stderr, "bench: %s: %s\n", opt.c_str(), e.what());
        return 2;
      }
      // --<filter_param> picks choices by name (in the file's order); none given: all of them.
      const std::vector<std::string>& wanted = params.values.at(choice_hook->filter_param);
      for (const std::string& w : wanted)
        if (std::none_of(offered.begin(), offered.end(), [&](const ModelChoice& c) { return c.name == w; }))
          throw CLI::ValidationError("--" + choice_hook->filter_param, "'" + w + "' is not one of the " +
                                                                           std::to_string(offered.size()) + " " +
                                                                           choice_hook->filter_param + "s " + file +
                                                                           " lists: " + quoted_list(offered));
      model.source = file;
      for (const ModelChoice& c : offered) {
        if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), c.name) == wanted.end()) continue;
        ChoiceModel cm;
        cm.name = c.name;
        cm.bpw = c.bpw;
        try {
          cm.model = cases_of_layers(file + " (" + choice_hook->filter_param + " " + c.name + ")", c.layers);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "bench: %s: %s\n", opt.c_str(), e.what());
          return 2;
        }
        // All choices' rows run together: their keys differ by the family's parameter tag.
        model.layers += cm.model.layers;
        model.cases.insert(model.cases.end(), cm.model.cases.begin(), cm.model.cases.end());
        choice_models.push_back(std::move(cm));
      }
      model_path = file;  // from here on benched as a model
      model_flag = opt;
    }
    if (!model_path.empty()) {
      if (model.cases.empty()) throw CLI::ValidationError(model_flag, model_path + " declares no layers");
      // A model of several formats (a GGUF file mixing types) benches each implemented one, or
      // only --format's; the projection says how many layers went unmeasured.
      std::string listed;
      for (const BenchCase& c : model.cases)
        if (std::find(model_formats.begin(), model_formats.end(), c.format) == model_formats.end()) {
          model_formats.push_back(c.format);
          listed += (listed.empty() ? "" : ", ") + c.format;
        }
      if (app.count("--format")) {
        if (std::find(model_formats.begin(), model_formats.end(), format_id) == model_formats.end())
          throw CLI::ValidationError(model_flag, "has no " + format_id + " layers; its formats: " + listed);
        model_formats = {format_id};
      }
      std::vector<std::string> runnable;
      for (const std::string& id : model_formats) {
        if (find_format(id)->implemented()) {
          runnable.push_back(id);
          continue;
        }
        int64_t layers = 0;
        for (const BenchCase& c : model.cases)
          if (c.format == id) layers += c.multiplicity;
        std::fprintf(stderr, "note: %s: %lld %s layers not measured: format %s is not implemented yet\n",
                     model_flag.c_str(), static_cast<long long>(layers), id.c_str(), id.c_str());
      }
      if (runnable.empty()) throw CLI::ValidationError(model_flag, "no layer is of an implemented format (" + listed + ")");
      model_formats = runnable;
      if (op_str != "gemv") throw CLI::ValidationError(model_flag, "projects GEMV time; --op must be gemv");
      format_id = model_formats.front();
    }
    config.format = &check_format(format_id);
    parse_op(op_str, config.op);  // the option's check admitted only op names
    if (batch > 1 && config.op != Op::gemv) throw CLI::ValidationError("--batch", "applies to --op gemv only");
    isa_cap = check_isa(isa_str);
    if (!model_path.empty()) {
      for (const auto& [name, family] : params.owner)
        if (app.count("--" + name) && !(choice_hook && name == choice_hook->filter_param))
          throw CLI::ValidationError("--" + name, "the model fixes every layer's params");
      for (const BenchCase& c : model.cases)
        if (std::find(model_formats.begin(), model_formats.end(), c.format) != model_formats.end()) cases.push_back(c);
      for (const BenchCase& c : cases) {
        try {
          plan_data(*find_format(c.format), config.op, c.shape, c.params);
        } catch (const std::invalid_argument& e) {
          throw CLI::ValidationError(model_flag, c.key() + ": " + e.what());
        }
      }
    } else {
      cases = check_cases(shape_args, *config.format, config.op, params.param_sets(app, *config.format));
    }
    for (const std::string& lib : plugin_paths) {
      try {
        for (Variant& v : load_plugin(lib, pool)) pool.push_back(std::move(v));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench: --plugin: %s\n", e.what());
        return 2;
      }
    }
    if (!json_path.empty() && !std::ofstream(json_path))
      throw CLI::ValidationError("--json", "cannot write '" + json_path + "'");
    if (!report_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(report_path(report_dir)).parent_path(), ec);
      if (ec) throw CLI::ValidationError("--report", "cannot create a folder in '" + report_dir + "': " + ec.message());
      if (json_path.empty()) {  // the run's JSON, merged into the report when the run ends
        run_json_tmp = report_path(report_dir) + ".run-" + std::to_string(getpid());
        json_path = run_json_tmp;
      }
    }
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
  std::vector<std::string> bm_args = {argv[0], choice_hook ? kChoicesMinTime : kDefaultMinTime};
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

  // One run config per format (a model's layers may hold several), each with its variants.
  if (model_formats.empty()) model_formats = {config.format->id};
  std::vector<RunConfig> configs;
  std::vector<Selection> selections;
  Selection sel;  // all of them, for the run's context
  for (const std::string& id : model_formats) {
    RunConfig c = config;
    c.format = find_format(id);
    Selection s = select_variants(pool, id, config.op, isa_cap);
    for (const auto& [v, why] : s.skipped) std::fprintf(stderr, "skipped %s: %s\n", v->name.c_str(), why.c_str());
    if (s.run.empty()) {
      std::fprintf(stderr, "bench: no %s %s variant runs on this CPU under --isa %s\n", id.c_str(),
                   std::string(op_name(config.op)).c_str(), isa_str.c_str());
      return 1;
    }
    sel.run.insert(sel.run.end(), s.run.begin(), s.run.end());
    sel.skipped.insert(sel.skipped.end(), s.skipped.begin(), s.skipped.end());
    configs.push_back(c);
    selections.push_back(std::move(s));
  }

  // Listing runs nothing, so it needs no roofline.
  std::unique_ptr<BandwidthProbe> probe;
  double startup_GBps = 0;
  if (!has_arg(bm_args, "--benchmark_list_tests", "--benchmark_list_tests=true")) {
    probe = std::make_unique<BandwidthProbe>(threads);
    startup_GBps = probe->measure(kStartupProbePasses, /*warm_up=*/true);
    std::fprintf(stderr,
                 "probe: %.2f GB/s read bandwidth with %d threads (best of %d passes over %zu MiB, %s); "
                 "measured again around every row\n",
                 startup_GBps, threads, kStartupProbePasses, probe->bytes() >> 20, probe->kernel().c_str());
  }
  config.probe = probe.get();
  for (RunConfig& c : configs) c.probe = probe.get();

  add_run_context(config, isa_str, sel, probe.get(), startup_GBps, cases);
  if (!model_path.empty()) benchmark::AddCustomContext("model", model_path);
  for (const std::string& lib : plugin_paths) benchmark::AddCustomContext("plugin", lib);

  std::vector<std::unique_ptr<BenchContext>> contexts;  // rows point into them until the run ends
  std::vector<std::string> contexts_rows;                 // every registered row's name
  for (std::size_t i = 0; i < configs.size(); ++i) {
    std::vector<BenchCase> own;
    for (const BenchCase& c : cases)
      if (c.format.empty() || c.format == configs[i].format->id) own.push_back(c);
    contexts.push_back(std::make_unique<BenchContext>(configs[i]));
    contexts.back()->register_rows(own, selections[i].run);
    for (const BenchCase& c : own)
      for (const Variant* v : selections[i].run) contexts_rows.push_back(row_name(configs[i], *v, c));
  }

  // A --benchmark_format other than console asks for the library's own console output.
  const bool own_format = has_arg(bm_args, "--benchmark_format=json", "--benchmark_format=csv");
  TableReporter table;
  if (!model_path.empty()) table.show_progress(rows_to_run(contexts_rows, bm_args));
  const std::size_t ran = own_format ? benchmark::RunSpecifiedBenchmarks() : benchmark::RunSpecifiedBenchmarks(&table);
  benchmark::Shutdown();
  if (probe && probe->samples().size() > 1) {
    const auto [lo, hi] = std::minmax_element(probe->samples().begin(), probe->samples().end());
    std::fprintf(stderr, "probe over the run: %.2f to %.2f GB/s in %zu measurements (each row's bw_fraction uses its own)\n",
                 *lo, *hi, probe->samples().size());
  }
  if (!plugin_paths.empty() && ran > 0) print_peer_ratios(contexts, sel.run);
  if (!model_path.empty() && ran > 0) {
    std::map<std::string, std::map<std::string, double>> seconds;
    for (const auto& c : contexts) seconds.insert(c->seconds().begin(), c->seconds().end());
    std::map<std::string, std::string> variant_format;
    for (const Variant* v : sel.run) variant_format[v->name] = v->format;
    if (choice_hook) {
      // Each choice's own projection where the user picked choices; the table where there are several.
      const bool picked = !params.values.at(choice_hook->filter_param).empty();
      for (ChoiceModel& c : choice_models) {
        c.projection = project(c.model, seconds, variant_format);
        if (picked) print_projection(c.model, c.projection, threads);
      }
      if (choice_models.size() > 1 || !picked)
        print_choice_table(model_path, choice_hook->filter_param, choice_models, threads);
      if (!json_path.empty()) add_choices_to_json(json_path, choice_models);
    } else {
      const auto projection = project(model, seconds, variant_format);
      print_projection(model, projection, threads);
      if (!json_path.empty()) add_projection_to_json(json_path, model, projection);
    }
  }
  if (!report_dir.empty() && ran > 0) {
    std::string command;
    for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
    const std::string path = report_path(report_dir);
    try {
      merge_into_report(json_path, path, command);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench: --report: %s\n", e.what());
      return 2;
    }
    std::fprintf(stderr, "report: %s\n", path.c_str());
  }
  if (!run_json_tmp.empty()) std::remove(run_json_tmp.c_str());
  return ran > 0 ? 0 : 1;  // a --benchmark_filter that matches nothing is a mistake, not a result
}

// External kernels through the C ABI (harness/qb_plugin.h, harness/plugin.h): a plugin built from
// our own kernels passes verify like the registry's copies, a plugin that decodes one nibble wrong
// fails with the first-bad-block report and a repro that loads it again, and every load-time
// defect is refused with the library and the field named.
#include <dlfcn.h>
#include <omp.h>
#include <sys/wait.h>

#include <cstdio>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/run_command.h"

#include "harness/backend.h"
#include "harness/cpu_features.h"
#include "harness/plugin.h"
#include "harness/prepared.h"
#include "harness/run.h"
#include "harness/safetensors.h"
#include "harness/verify.h"
#include "reference/common/half.h"

namespace qb {
namespace {

const std::string kSource = QB_SOURCE_DIR;
const std::string kWrong = QB_WRONG_PLUGIN;
const std::string kWrongName = "wrong_q4_0_dequant_scalar";

std::string bad_plugin(const std::string& defect) {
  return std::string(QB_PLUGIN_DIR) + "/libqb_bad_" + defect + "_plugin.so";
}

bool cpu_has(const Variant& v) { return (cpu_info().features & v.target.features) == v.target.features; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Lines that start with `status` and mention `name` as a whole word.
int count_lines(const std::string& text, const std::string& status, const std::string& name) {
  int n = 0;
  for (const auto& l : lines_of(text))
    if (l.rfind(status + " ", 0) == 0 && l.find("  " + name + " ") != std::string::npos) ++n;
  return n;
}

using test::Command;
using test::run_command;

std::vector<Variant> with_registry(const std::vector<Variant>& plugin) {
  std::vector<Variant> pool = variants();
  pool.insert(pool.end(), plugin.begin(), plugin.end());
  return pool;
}

// Expects load_plugin(path) to throw FileError naming `path` and `field`, with `text` in the message.
void expect_refused(const std::string& path, const std::string& field, const std::string& text) {
  try {
    load_plugin(path);
    ADD_FAILURE() << path << " loaded; expected a FileError on field '" << field << "'";
  } catch (const FileError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

#ifdef QB_EXAMPLE_PLUGIN
const std::string kExample = QB_EXAMPLE_PLUGIN;

TEST(Plugin, ExampleLoadsAsVariantsOfItsBackend) {
  const std::vector<Variant> vs = load_plugin(kExample);
  ASSERT_EQ(vs.size(), 4u);
  const struct {
    const char *name, *format, *isa;
    Op op;
  } want[] = {{"example_q4_0_dequant_avx2", "q4_0", "avx2", Op::dequant},
              {"example_q4_0_dequant_avx512", "q4_0", "avx512", Op::dequant},
              {"example_q4_0_gemv_avx2", "q4_0", "avx2", Op::gemv},
              {"example_q8_0_gemv_avx512vnni", "q8_0", "avx512vnni", Op::gemv}};
  for (std::size_t i = 0; i < vs.size(); ++i) {
    const Variant& v = vs[i];
    EXPECT_EQ(v.name, want[i].name);
    EXPECT_EQ(v.format, want[i].format);
    EXPECT_EQ(v.op, want[i].op);
    EXPECT_EQ(v.target.name, want[i].isa);
    EXPECT_EQ(v.target.features, *isa_level_features(want[i].isa));
    ASSERT_NE(v.target.backend, nullptr);
    EXPECT_EQ(v.target.backend->name(), "plugin:libqb_example_plugin.so");
    EXPECT_EQ(v.origin, kExample);
    EXPECT_FALSE(v.batches);
    EXPECT_FALSE(v.reference);
    EXPECT_EQ(v.nan, NanPolicy::exact_bits);
    EXPECT_EQ(v.op == Op::gemv, v.gemv != nullptr);
    EXPECT_EQ(v.op != Op::gemv, v.dequant != nullptr);
  }
  // Loading again reuses the library's backend (one dlopen handle per library).
  EXPECT_EQ(load_plugin(kExample)[0].target.backend, vs[0].target.backend);
}

TEST(Plugin, ExamplePassesVerifyLikeOurKernels) {
  const std::vector<Variant> plugin = load_plugin(kExample);
  const std::vector<Variant> pool = with_registry(plugin);
  for (const int threads : {1, 3}) {
    VerifyOptions opt;
    opt.threads = {threads};
    std::ostringstream out;
    const Tally t = verify_paths({kSource + "/fixtures/ggml/q4_0", kSource + "/fixtures/ggml/q8_0"}, pool, opt, out);
    const std::string text = out.str();
    EXPECT_EQ(t.failed, 0) << text;
    EXPECT_GT(t.passed, 0);
    for (const Variant& v : plugin) {
      if (cpu_has(v)) {
        EXPECT_GE(count_lines(text, "PASS", v.name), 3) << v.name << " did not pass (threads " << threads << ")\n" << text;
        EXPECT_EQ(count_lines(text, "FAIL", v.name), 0) << v.name;
      } else {
        EXPECT_GE(count_lines(text, "SKIP", v.name), 1) << v.name << " on a CPU without " << v.target.name;
      }
    }
  }
}

TEST(Plugin, PluginVariantsGoThroughSelection) {
  const std::vector<Variant> pool = with_registry(load_plugin(kExample));
  const Selection s = select_variants(pool, "q4_0", Op::dequant, *isa_level_features("avx2"));
  bool avx2_ran = false, avx512_skipped = false;
  for (const Variant* v : s.run) avx2_ran |= v->name == "example_q4_0_dequant_avx2";
  for (const auto& [v, why] : s.skipped) avx512_skipped |= v->name == "example_q4_0_dequant_avx512";
  EXPECT_TRUE(avx512_skipped) << "an avx512 plugin kernel must be skipped under --isa avx2";
  if (cpu_info().features & kAVX2) {
    EXPECT_TRUE(avx2_ran);
  }
}

// The plugin backend splits rows over threads like the CPU backend: identical bits for 1..3.
TEST(Plugin, ThreadCountDoesNotChangeResults) {
  const std::vector<Variant> plugin = load_plugin(kExample);
  const Fixture fx = load_fixture(kSource + "/fixtures/ggml/q4_0/gaussian.ref.safetensors");
  const QWeight w = fx.weight();
  const PreparedWeight pw(w);
  int ran = 0;
  for (const Variant& v : plugin) {
    if (v.op != Op::dequant || v.format != fx.format_id || !cpu_has(v)) continue;
    ++ran;
    std::vector<float> one(static_cast<std::size_t>(fx.rows * fx.cols));
    run_dequant(v, pw, one.data(), 1);
    for (const int threads : {2, 3}) {
      std::vector<float> got(one.size());
      run_dequant(v, pw, got.data(), threads);
      for (std::size_t i = 0; i < one.size(); ++i)
        ASSERT_EQ(f32_to_bits(one[i]), f32_to_bits(got[i])) << v.name << " threads " << threads << " element " << i;
    }
  }
  if (ran == 0) GTEST_SKIP() << "CPU runs none of the example plugin's dequant kernels";
}

TEST(Plugin, NameClashWithThePoolIsRefused) {
  const std::vector<Variant> pool = with_registry(load_plugin(kExample));
  try {
    load_plugin(kExample, pool);
    ADD_FAILURE() << "the same kernels loaded twice into one pool";
  } catch (const FileError& e) {
    EXPECT_EQ(e.file(), kExample);
    EXPECT_EQ(e.field(), "kernels[0].name");
    EXPECT_NE(std::string(e.what()).find("example_q4_0_dequant_avx2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("clashes"), std::string::npos) << e.what();
  }
}

TEST(Plugin, VerifyToolPassesTheExamplePlugin) {
  const Command c = run_command(std::string(QB_VERIFY_BIN) + " --plugin " + kExample + " " + kSource + "/fixtures/ggml/q4_0");
  std::cout << c.output.substr(c.output.size() > 3000 ? c.output.size() - 3000 : 0);
  EXPECT_EQ(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("plugin: " + kExample), std::string::npos);
  EXPECT_NE(c.output.find(" 0 failed"), std::string::npos);
  // --variant takes a plugin kernel's name when its plugin is loaded, and only then.
  const Command one = run_command(std::string(QB_VERIFY_BIN) + " --plugin " + kExample +
                                  " --variant example_q4_0_gemv_avx2 " + kSource + "/fixtures/ggml/q4_0");
  EXPECT_EQ(one.status, 0) << one.output;
  EXPECT_EQ(count_lines(one.output, "FAIL", "example_q4_0_gemv_avx2"), 0);
  const Command unknown =
      run_command(std::string(QB_VERIFY_BIN) + " --variant example_q4_0_gemv_avx2 " + kSource + "/fixtures/ggml/q4_0");
  EXPECT_EQ(unknown.status, 2) << unknown.output;
}
#endif  // QB_EXAMPLE_PLUGIN

TEST(Plugin, WrongNibbleFailsWithFirstBadBlock) {
  const std::vector<Variant> plugin = load_plugin(kWrong);
  ASSERT_EQ(plugin.size(), 1u);
  EXPECT_EQ(plugin[0].name, kWrongName);
  EXPECT_EQ(plugin[0].target.name, "scalar");
  VerifyOptions opt;
  std::ostringstream out;
  const Tally t = verify_paths({kSource + "/fixtures/ggml/q4_0/gaussian.ref.safetensors"}, with_registry(plugin), opt, out);
  const std::string text = out.str();
  std::cout << text;
  // The wrong kernel, nothing else: on the fixture and on each case verify derives from it.
  EXPECT_GE(t.failed, 1) << text;
  ASSERT_EQ(count_lines(text, "FAIL", kWrongName), t.failed) << text;
  for (const auto& l : lines_of(text))
    if (l.rfind("FAIL ", 0) == 0 && l.find("dequant") != std::string::npos) {
      EXPECT_NE(l.find("first bad block"), std::string::npos) << l;
      std::smatch m;
      ASSERT_TRUE(std::regex_search(l, m, std::regex(R"(element \[(\d+)\]\[(\d+)\])"))) << l;
      EXPECT_EQ(std::stoll(m[2].str()) % 32, 17) << "the first bad element is element 17 of a block: " << l;
    }
}

TEST(Plugin, VerifyToolFailsTheWrongPluginWithARepro) {
  const std::string fixtures = kSource + "/fixtures/ggml/q4_0";
  const Command c = run_command(std::string(QB_VERIFY_BIN) + " --plugin " + kWrong + " " + fixtures);
  std::cout << c.output.substr(c.output.size() > 3000 ? c.output.size() - 3000 : 0);
  EXPECT_EQ(c.status, 1) << c.output;
  EXPECT_GE(count_lines(c.output, "FAIL", kWrongName), 1) << c.output;
  EXPECT_NE(c.output.find("first bad block"), std::string::npos);
  std::string repro;
  for (const auto& l : lines_of(c.output))
    if (l.find("repro:") != std::string::npos && l.find("--variant " + kWrongName) != std::string::npos) repro = l;
  ASSERT_FALSE(repro.empty()) << c.output;
  EXPECT_NE(repro.find("--plugin " + kWrong), std::string::npos) << repro;
  // The repro line as printed reproduces the failure (its tool path swapped for this build's).
  std::string cmd = repro.substr(repro.find("repro:") + 6);
  cmd = cmd.substr(cmd.find("--plugin"));
  const Command again = run_command(std::string(QB_VERIFY_BIN) + " " + cmd);
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_GE(count_lines(again.output, "FAIL", kWrongName), 1) << again.output;
}

TEST(Plugin, VerifyToolExitsTwoOnALoadError) {
  const std::string missing = kSource + "/no_such_plugin.so";
  const Command c = run_command(std::string(QB_VERIFY_BIN) + " --plugin " + missing + " " + kSource + "/fixtures/ggml/q4_0");
  EXPECT_EQ(c.status, 2) << c.output;
  EXPECT_NE(c.output.find(missing), std::string::npos) << c.output;
}

TEST(Plugin, LoadErrorsNameTheLibraryAndField) {
  expect_refused(kSource + "/no_such_plugin.so", "", "no such file");
  expect_refused(kSource + "/fixtures", "", "folder");
  // Not a shared library at all: dlopen's own error text.
  expect_refused(kSource + "/fixtures/ggml/q4_0/gaussian.ref.safetensors", "", "dlopen failed");
  expect_refused(bad_plugin("no_init"), "qb_plugin_init", "not exported");
  expect_refused(bad_plugin("null_return"), "qb_plugin_init", "returned null");
  expect_refused(bad_plugin("abi"), "abi_version", "is 99");
  expect_refused(bad_plugin("format"), "kernels[0].format", "kernel 'bad_kernel': 'q9_9' is not a registered format");
  expect_refused(bad_plugin("op"), "kernels[0].op", "'matmul'");
  expect_refused(bad_plugin("null_fn"), "kernels[0].dequant", "is null");
  expect_refused(bad_plugin("isa"), "kernels[0].isa", "'sse9'");
  expect_refused(bad_plugin("duplicate"), "kernels[1].name", "twice");
}

#if defined(QB_ABI3_PLUGIN) && defined(QB_ABI2_PLUGIN)
// ABI 3 (harness/qb_plugin.h): prepare/release around every weight the harness prepares for a
// kernel, QB_KERNEL_OWN_THREADS kernels called once with all rows and the run's thread count, a
// refusing prepare reported with the kernel; and libraries built for ABI 2 still load, read with
// ABI 2's qb_kernel layout (tests/plugin/abi_plugin.c).
struct AbiStats {
  long prepares = 0, releases = 0, own_calls = 0;
  int threads = 0;
  int64_t r0 = -1, r1 = -1;
};

// The test plugin's own counters, through a second dlopen of the same file (same handle).
class AbiPluginProbe {
 public:
  explicit AbiPluginProbe(const std::string& path) : handle_(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    if (!handle_) return;
    stats_ = reinterpret_cast<StatsFn>(dlsym(handle_, "abi_plugin_stats"));
    reset_ = reinterpret_cast<ResetFn>(dlsym(handle_, "abi_plugin_reset"));
  }
  ~AbiPluginProbe() {
    if (handle_) dlclose(handle_);
  }
  bool ok() const { return stats_ && reset_; }
  void reset(bool refuse = false) { reset_(refuse ? 1 : 0); }
  AbiStats stats() const {
    AbiStats s;
    stats_(&s.prepares, &s.releases, &s.own_calls, &s.threads, &s.r0, &s.r1);
    return s;
  }

 private:
  using StatsFn = void (*)(long*, long*, long*, int*, int64_t*, int64_t*);
  using ResetFn = void (*)(int);
  void* handle_;
  StatsFn stats_ = nullptr;
  ResetFn reset_ = nullptr;
};

const Variant& named(const std::vector<Variant>& vs, const std::string& name) {
  for (const Variant& v : vs)
    if (v.name == name) return v;
  throw std::runtime_error("no variant " + name);
}

std::vector<float> reference_decode(const PreparedWeight& pw) {
  const QWeight& w = pw.weight();
  std::vector<float> out(static_cast<std::size_t>(w.rows * w.cols));
  w.format->dequant_ref(pw.get(), 0, w.rows, out.data());
  return out;
}

TEST(PluginAbi3, HooksBracketEveryRunAndOwnThreadsGetsAllRows) {
  const std::vector<Variant> plugin = load_plugin(QB_ABI3_PLUGIN);
  AbiPluginProbe probe(QB_ABI3_PLUGIN);
  ASSERT_TRUE(probe.ok());
  const Fixture fx = load_fixture(kSource + "/fixtures/ggml/q4_0/gaussian.ref.safetensors");
  const QWeight w = fx.weight();
  const PreparedWeight pw(w);
  const std::vector<float> want = reference_decode(pw);
  const int omp_default = omp_get_max_threads();
  for (const char* name : {"abi3_q4_0_dequant_own", "abi3_q4_0_dequant_rows"}) {
    const Variant& v = named(plugin, name);
    for (const int threads : {1, 2, 3}) {
      probe.reset();
      std::vector<float> got(want.size());
      run_dequant(v, pw, got.data(), threads);
      const AbiStats s = probe.stats();
      EXPECT_EQ(s.prepares, 1) << name << " threads " << threads;
      EXPECT_EQ(s.releases, 1) << name << " threads " << threads;
      if (std::string(name) == "abi3_q4_0_dequant_own") {
        EXPECT_EQ(s.own_calls, 1) << "an own-threads kernel is called once per op";
        EXPECT_EQ(s.threads, threads) << "the run's thread count as the call's OpenMP default";
        EXPECT_EQ(s.r0, 0);
        EXPECT_EQ(s.r1, fx.rows);
      }
      for (std::size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(f32_to_bits(want[i]), f32_to_bits(got[i])) << name << " threads " << threads << " element " << i;
      EXPECT_EQ(omp_get_max_threads(), omp_default) << "the caller's OpenMP default is restored";
    }
  }
  // A whole verify run (derived cases, error location included): every prepare released.
  probe.reset();
  std::ostringstream out;
  const Tally t = verify_paths({kSource + "/fixtures/ggml/q4_0"}, with_registry(plugin), VerifyOptions{}, out);
  EXPECT_EQ(t.failed, 0) << out.str();
  const AbiStats s = probe.stats();
  EXPECT_GT(s.prepares, 0);
  EXPECT_EQ(s.prepares, s.releases);
  EXPECT_GE(count_lines(out.str(), "PASS", "abi3_q4_0_dequant_own"), 3) << out.str();
}

TEST(PluginAbi3, RefusingPrepareNamesTheKernelAndItsReason) {
  const std::vector<Variant> plugin = load_plugin(QB_ABI3_PLUGIN);
  AbiPluginProbe probe(QB_ABI3_PLUGIN);
  ASSERT_TRUE(probe.ok());
  const Fixture fx = load_fixture(kSource + "/fixtures/ggml/q4_0/gaussian.ref.safetensors");
  const QWeight w = fx.weight();
  const PreparedWeight pw(w);
  probe.reset(/*refuse=*/true);
  std::vector<float> got(static_cast<std::size_t>(fx.rows * fx.cols));
  try {
    run_dequant(named(plugin, "abi3_q4_0_dequant_own"), pw, got.data(), 1);
    ADD_FAILURE() << "a refusing prepare must stop the run";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("abi3_q4_0_dequant_own"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("refused on purpose"), std::string::npos) << e.what();
  }
  const AbiStats s = probe.stats();
  EXPECT_EQ(s.own_calls, 0) << "never called on a weight its prepare refused";
  EXPECT_EQ(s.releases, 0) << "no release for a refused prepare";
  probe.reset();
}

TEST(PluginAbi3, Abi2LibrariesLoadWithTheirLayout) {
  const std::vector<Variant> plugin = load_plugin(QB_ABI2_PLUGIN);
  ASSERT_EQ(plugin.size(), 2u);
  EXPECT_EQ(plugin[0].name, "abi2_q4_0_dequant_a");
  EXPECT_EQ(plugin[1].name, "abi2_q4_0_dequant_b");
  const Fixture fx = load_fixture(kSource + "/fixtures/ggml/q4_0/gaussian.ref.safetensors");
  const QWeight w = fx.weight();
  const PreparedWeight pw(w);
  const std::vector<float> want = reference_decode(pw);
  for (const Variant& v : plugin) {
    EXPECT_EQ(v.op, Op::dequant);
    std::vector<float> got(want.size());
    run_dequant(v, pw, got.data(), 2);
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(f32_to_bits(want[i]), f32_to_bits(got[i])) << v.name << " element " << i;
  }
}
#endif  // QB_ABI3_PLUGIN && QB_ABI2_PLUGIN

}  // namespace
}  // namespace qb

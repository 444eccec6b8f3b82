// Every registered optimized variant against its format's scalar reference on randomized
// inputs: shapes that are not multiples of vector widths or thread counts, 1-row and 1-block
// tensors, misaligned buffers, NaN/Inf/subnormal fp16 scales, and several thread counts
// (which must give the same bits). Seed: QB_SEED, or random and printed.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <iostream>
#include <random>

#include <gtest/gtest.h>

#include "harness/check.h"
#include "harness/fill.h"
#include "harness/plugin.h"
#include "harness/registry.h"
#include "tests/test_pool.h"
#include "harness/run.h"
#include "tests/cpuinfo.h"

namespace qb {
namespace {

uint64_t base_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("QB_SEED");
    const uint64_t s = env ? std::strtoull(env, nullptr, 0) : std::random_device{}();
    std::cout << "variants_test seed: QB_SEED=" << s << "\n";
    return s;
  }();
  return seed;
}

std::vector<std::string> optimized_names() {
  std::vector<std::string> names;
  for (const auto& v : test::test_pool())
    if (!v.reference) names.push_back(v.name);
  return names;
}

// One line that reruns this test with the same inputs.
std::string repro_line() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const char* plugin = std::getenv("QB_PLUGIN");
  return std::string("repro: QB_SEED=") + std::to_string(base_seed()) + (plugin ? std::string(" QB_PLUGIN=") + plugin : "") +
         " build/bin/quantbench_tests --gtest_filter='" + info->test_suite_name() + "." + info->name() + "'";
}

const Variant& reference_of(const Variant& v) { return test::pool_variant(v.format + "_" + std::string(op_name(v.op)) + "_ref"); }

class VariantTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VariantTest, MatchesReferenceOnRandomInputs) {
  const Variant& v = test::pool_variant(GetParam());
  const Selection sel = select_variants(test::test_pool(), v.format, v.op, ~0ull);
  if (std::find(sel.run.begin(), sel.run.end(), &v) == sel.run.end()) {
    // A silent fallback is a failure: the OS says the CPU can run it, so dispatch must.
    const uint64_t os = test::cpuinfo_features();
    ASSERT_TRUE(test::proc_cpuinfo_flags().empty() || missing_features(v.target.features, os) != 0)
        << v.name << " was not selected although /proc/cpuinfo lists " << feature_names(v.target.features);
    GTEST_SKIP() << v.name << " needs " << feature_names(missing_features(v.target.features, cpu_info().features));
  }
  const Format& f = *find_format(v.format);
  const Variant& ref = reference_of(v);
  // Block formats: rows of any count, cols in whole blocks; EXL3-like formats: 128-multiples.
  const int64_t cu = f.col_granule > 0 ? f.col_granule : f.block_elems > 0 ? f.block_elems : f.row_granule, ru = f.row_granule;
  const std::vector<std::array<int64_t, 2>> shapes =
      ru > 1 ? std::vector<std::array<int64_t, 2>>{{ru, cu}, {2 * ru, cu}, {ru, 3 * cu}, {3 * ru, 2 * cu}}
             : std::vector<std::array<int64_t, 2>>{{1, cu},      {1, 3 * cu},   {3, cu},       {5, 2 * cu},
                                                   {17, 3 * cu}, {33, 32 * cu}, {7, 129 * cu}, {64, 128 * cu}};
  int cases = 0;
  for (const auto& params : f.test_params)
  for (const auto& shape : shapes)
    for (std::size_t misalign : {0, 1, 3})
      for (bool specials : {false, true}) {
        if (specials && f.fp16_scale_offsets.empty() && f.fp16_scale_tensors.empty()) continue;
        const uint64_t seed = base_seed() + static_cast<uint64_t>(cases++) * 7919;
        const int64_t rows = shape[0], cols = shape[1];
        SCOPED_TRACE(repro_line() + "  (case: " + v.name + " " + params.dump() + " " + std::to_string(rows) + "x" +
                     std::to_string(cols) + " misalign " + std::to_string(misalign) + (specials ? " special scales" : "") +
                     " seed " + std::to_string(seed) + ")");
        OwnedWeight w = random_weight(f, rows, cols, seed, misalign, params);
        if (specials) {
          plant_special_scales(w, seed);
          plant_extreme_codes(w, seed);
        }
        const PreparedWeight pw(w.view());
        if (v.op != Op::gemv) {  // dequant and inner decode
          std::vector<float> want(static_cast<std::size_t>(rows * cols)), first;
          // Outputs at a 64-byte boundary when misalign is 0 (kernels may take streaming-store
          // paths there, for outputs above their size threshold), `misalign` floats off otherwise.
          std::vector<float> out_buf(want.size() + 32);
          const std::size_t lead = (64 - reinterpret_cast<uintptr_t>(out_buf.data()) % 64) % 64 / sizeof(float);
          float* got = out_buf.data() + lead + misalign;
          run_decode(ref, pw, want.data(), 1);
          // Full decodes without a unique bit pattern (EXL3's rotations) are held to the format's
          // bound, and then to identical bits across thread counts.
          const bool bounded = v.op == Op::dequant && f.dequant_bounds;
          const std::vector<double> bounds = bounded ? f.dequant_bounds(w.view()) : std::vector<double>{};
          for (int threads : {1, 2, 3}) {
            SCOPED_TRACE("threads " + std::to_string(threads));
            std::fill(got, got + want.size(), -1.0f);
            run_decode(v, pw, got, threads);
            if (bounded) {
              const BoundCheck c = compare_within(want.data(), got, bounds);
              ASSERT_TRUE(c.ok()) << c.failures << " values outside the bound, first at " << c.first_bad;
              if (threads == 1) first.assign(got, got + want.size());
              ASSERT_TRUE(compare_bits(first.data(), got, rows * cols, v.nan).ok())
                  << "bits depend on thread count " << threads;
              continue;
            }
            const BitsCheck c = compare_bits(want.data(), got, rows * cols, v.nan);
            ASSERT_TRUE(c.ok()) << c.mismatches << " values differ, first at " << c.first_bad << " (threads "
                                << threads << ")";
          }
        } else {
          // Batching kernels must keep vectors apart in every path they special-case (one pass of
          // up to 8, a pass boundary, several passes): m cycles over those with the case index.
          // Others run once per vector; three are enough.
          static constexpr int64_t kBatches[] = {3, 5, 9, 17, 1, 8};
          const int64_t m = v.batches ? kBatches[cases % 6] : 3;
          OwnedActivation act = quantize_activation(f, gaussian(static_cast<std::size_t>(m * cols), seed + 1), cols, misalign);
          if (specials) plant_special_activation_scales(*f.activation, act.buffer.data() + act.offset, cols, m, seed);
          std::vector<float> want(static_cast<std::size_t>(m * rows)), got(want.size()), first(want.size());
          run_gemv(ref, pw, act.data(), m, want.data(), 1);
          const std::vector<double> bounds = gemv_bounds(w.view(), act.data(), m);
          // x is this test's own Gaussian draw: the probabilistic model (harness/check.h) holds.
          const std::vector<double> sigmas = gemv_sigmas(w.view(), act.data(), m);
          for (int threads : {1, 2, 3}) {
            SCOPED_TRACE("threads " + std::to_string(threads) + ", m " + std::to_string(m));
            run_gemv(v, pw, act.data(), m, got.data(), threads);
            const BoundCheck c = compare_within(want.data(), got.data(), bounds);
            ASSERT_TRUE(c.ok()) << c.failures << " rows outside the bound, first row " << c.first_bad << ": want "
                                << want[c.first_bad] << " got " << got[c.first_bad] << " bound " << bounds[c.first_bad];
            const ModelCheck mc = compare_model(want.data(), got.data(), sigmas);
            ASSERT_TRUE(mc.ok()) << mc.failures << " outputs beyond " << kModelLambda << " sigma, worst " << mc.worst
                                 << " (z " << mc.max_z << "): want " << want[mc.worst] << " got " << got[mc.worst]
                                 << "; rho " << mc.rho << " (limit " << mc.rho_limit << ")";
            if (threads == 1) first = got;
            // Same bits for any thread count, except a NaN's payload: which NaN operand an FMA
            // or multiply returns depends on the instruction form the compiler picked for
            // that call site, so a row computed in a different row group may carry another.
            const BitsCheck same = compare_bits(first.data(), got.data(), m * rows, NanPolicy::any_nan);
            ASSERT_TRUE(same.ok()) << "bits depend on thread count " << threads << ", first at row " << same.first_bad;
          }
        }
      }
}

INSTANTIATE_TEST_SUITE_P(Registry, VariantTest, ::testing::ValuesIn(optimized_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace qb

// Run-time dispatch: detection agrees with the OS, every variant the CPU supports is selected,
// and an --isa ceiling removes exactly the variants above it.
#include <algorithm>
#include <iostream>

#include <gtest/gtest.h>

#include "harness/cpu_features.h"
#include "harness/registry.h"
#include "tests/cpuinfo.h"

namespace qb {
namespace {

TEST(Dispatch, DetectionAgreesWithProcCpuinfo) {
  if (test::proc_cpuinfo_flags().empty() || cpu_info().arch != "x86_64") GTEST_SKIP() << "no x86 /proc/cpuinfo";
  const uint64_t os = test::cpuinfo_features();
  for (const auto& [bit, name] : test::kCpuinfoNames)
    EXPECT_EQ((cpu_info().features & bit) != 0, (os & bit) != 0) << "feature " << name;
  std::cout << "cpu: " << cpu_info().brand << " [" << feature_names(cpu_info().features) << "]\n";
}

TEST(Dispatch, EveryVariantTheCpuSupportsIsSelected) {
  const uint64_t os = test::cpuinfo_features();
  int runnable = 0;
  for (const auto& v : variants()) {
    const Selection s = select_variants(variants(), v.format, v.op, ~0ull);
    const bool selected = std::find(s.run.begin(), s.run.end(), &v) != s.run.end();
    const bool supported = missing_features(v.target.features, os) == 0;
    if (!test::proc_cpuinfo_flags().empty()) {
      EXPECT_EQ(selected, supported) << v.name;
    }
    runnable += selected;
    std::cout << (selected ? "runs    " : "skipped ") << v.name << " [" << v.target.name << "]\n";
  }
  EXPECT_GT(runnable, 0);
}

TEST(Dispatch, EachImplementedGgmlFormatHasAvx2AndAvx512Kernels) {
  for (const char* fmt : {"q4_0", "q8_0"})
    for (Op op : {Op::dequant, Op::gemv}) {
      bool avx2 = false, avx512 = false;
      for (const auto& v : variants()) {
        if (v.format != fmt || v.op != op) continue;
        avx2 |= v.target.name == "avx2";
        avx512 |= v.target.name.rfind("avx512", 0) == 0;
      }
      EXPECT_TRUE(avx2 && avx512) << fmt << " " << op_name(op);
    }
}

TEST(Dispatch, IsaCeilingExcludesHigherVariants) {
  const auto cap = isa_level_features("avx2");
  ASSERT_TRUE(cap);
  for (const char* fmt : {"q4_0", "q8_0"}) {
    const Selection s = select_variants(variants(), fmt, Op::gemv, *cap);
    for (const Variant* v : s.run) EXPECT_EQ(missing_features(v->target.features, *cap), 0u) << v->name;
    bool saw_avx512_skip = false;
    for (const auto& [v, why] : s.skipped)
      if (v->target.name.rfind("avx512", 0) == 0) {
        saw_avx512_skip = true;
        EXPECT_NE(why.find("avx"), std::string::npos) << why;
      }
    EXPECT_TRUE(saw_avx512_skip) << fmt;
  }
  EXPECT_FALSE(isa_level_features("avx9000"));
}

}  // namespace
}  // namespace qb

// verify as a user runs it: answers that must not read as success when nothing was checked, and
// the ways a model directory can be named.
#include <string>

#include <gtest/gtest.h>

#include "tests/run_command.h"

namespace qb {
namespace {

using test::Command;
using test::run_command;

const std::string kSource = QB_SOURCE_DIR;
const std::string kVerify = QB_VERIFY_BIN;

// A kernel asked for by name that meets no input of its format ran nowhere: exit 1, not success.
TEST(VerifyCli, VariantThatRanOnNoInputFails) {
  const Command c = run_command(kVerify + " --variant q8_0_dequant_avx2 " + kSource + "/fixtures/ggml/q4_0");
  EXPECT_EQ(c.status, 1) << c.output;
  EXPECT_NE(c.output.find("0 passed, 0 failed"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("--variant q8_0_dequant_avx2 ran on none of the inputs (its format is q8_0"),
            std::string::npos)
      << c.output;
}

// Under an ISA ceiling the named kernel's skips are reported (with the reason), then the failure.
TEST(VerifyCli, VariantSkippedByTheIsaCeilingIsReportedAndFails) {
  const Command c =
      run_command(kVerify + " --isa scalar --variant q8_0_dequant_avx2 " + kSource + "/fixtures/ggml/q8_0");
  EXPECT_EQ(c.status, 1) << c.output;
  EXPECT_NE(c.output.find("SKIP  "), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("above --isa ceiling scalar"), std::string::npos) << c.output;
}

// A model's config.json stands for its directory.
TEST(VerifyCli, ModelConfigFileVerifiesItsDirectory) {
  const Command dir = run_command(kVerify + " --variant exl3_inner_ref " + kSource + "/fixtures/exl3_models/tiny");
  const Command cfg =
      run_command(kVerify + " --variant exl3_inner_ref " + kSource + "/fixtures/exl3_models/tiny/config.json");
  EXPECT_EQ(cfg.output.substr(cfg.output.find('\n')), dir.output.substr(dir.output.find('\n')));
}

// A model directory's expectations come from the format's reference: the reference itself is not
// "checked" against its own output (that could never fail); it is reported as skipped.
TEST(VerifyCli, ModelDirectoryDoesNotPassTheReferenceAgainstItself) {
  const Command c = run_command(kVerify + " " + kSource + "/fixtures/exl3_models/tiny");
  EXPECT_EQ(c.status, 0) << c.output;
  for (const char* ref : {"exl3_inner_ref", "exl3_dequant_ref", "exl3_gemv_ref"}) {
    EXPECT_EQ(c.output.find(std::string(ref) + " [scalar]  max"), std::string::npos) << ref;
    EXPECT_EQ(c.output.find(std::string(ref) + " [scalar]  bit-exact"), std::string::npos) << ref;
    EXPECT_NE(c.output.find(std::string(ref) + " [scalar]  the expectation is this reference's own output"),
              std::string::npos)
        << ref;
  }
  EXPECT_NE(c.output.find("exl3_gemv_avx2 [avx2]"), std::string::npos);
}

}  // namespace
}  // namespace qb

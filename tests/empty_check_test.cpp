// A check that checked nothing is not a pass: fixtures whose expectations cover no vector or
// nothing at all are refused when loaded, and verify exits non-zero for a file of which every
// check was skipped.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/temp_dir_test.h"

#include "harness/fixture.h"
#include "tests/run_command.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

const std::string kVerify = QB_VERIFY_BIN;

class EmptyCheck : public test::TempDirTest {
 protected:
  // A 2x64 fixture of `format` (block_bytes per 32 elements) holding zero blocks, with `tensors`.
  std::string write(const std::string& name, const std::string& format, int64_t block_bytes,
                    std::vector<OwnedTensor> tensors) {
    Fixture fx;
    fx.format_id = format;
    fx.rows = 2;
    fx.cols = 64;
    fx.origin = "test";
    fx.tensors.push_back({"blocks", DType::U8, {2, 2 * block_bytes}, std::vector<uint8_t>(4 * block_bytes)});
    for (auto& t : tensors) fx.tensors.push_back(std::move(t));
    const std::string path = (root_ / (name + ".safetensors")).string();
    save_fixture(path, fx);
    return path;
  }

  static OwnedTensor f32(const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return {name, DType::F32, shape, std::vector<uint8_t>(static_cast<std::size_t>(n) * 4)};
  }

  // Loading must throw a FileError naming this field, with `reason` in the message.
  static void expect_refused(const std::string& path, const std::string& field, const std::string& reason) {
    try {
      load_fixture(path);
      FAIL() << path << " loaded";
    } catch (const FileError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
};

TEST_F(EmptyCheck, BatchOfZeroVectorsIsRefused) {
  const std::string p = write("zero_batch", "q4_0", 18, {f32("expect.x", {0, 64}), f32("expect.y", {0, 2})});
  expect_refused(p, "tensors.expect.x.shape", "a batch of 0 vectors checks nothing");
}

TEST_F(EmptyCheck, StoredTensorsAloneAreRefused) {
  expect_refused(write("blocks_only", "q4_0", 18, {}), "tensors", "no expectation");
}

TEST_F(EmptyCheck, ActivationWithoutResultIsRefused) {
  expect_refused(write("x_only", "q8_0", 34, {f32("expect.x", {64})}), "tensors.expect.x", "present without expect.y");
}

TEST_F(EmptyCheck, EncodingWithoutSourceIsRefused) {
  OwnedTensor enc{"expect.encode", DType::U8, {72}, std::vector<uint8_t>(72)};
  expect_refused(write("encode_only", "q4_0", 18, {enc}), "tensors.expect.encode", "present without source");
}

TEST_F(EmptyCheck, EncodeMaskWithoutEncodingIsRefused) {
  OwnedTensor mask{"expect.encode_mask", DType::U8, {72}, std::vector<uint8_t>(72, 1)};
  expect_refused(write("mask_only", "q4_0", 18, {f32("source", {2, 64}), mask}), "tensors.expect.encode_mask",
                 "present without expect.encode");
}

TEST_F(EmptyCheck, EncodeMaskOtherThanZeroOrOneIsRefused) {
  OwnedTensor enc{"expect.encode", DType::U8, {72}, std::vector<uint8_t>(72)};
  OwnedTensor mask{"expect.encode_mask", DType::U8, {72}, std::vector<uint8_t>(72, 1)};
  mask.bytes[5] = 2;
  expect_refused(write("mask_two", "q4_0", 18, {f32("source", {2, 64}), enc, mask}), "tensors.expect.encode_mask",
                 "byte 5 is 2");
}

// Only the bytes expect.encode_mask marks defined are compared. An all-zero q4_0 source encodes
// (spec: d = max / -8 = -0, fp16 00 80; id = 0, q = (int)(0 * id + 8.5) = 8) as blocks 00 80 then
// 16 bytes 0x88; block 1's
// index bytes are stored as 0x00 here: masked out they pass, compared they fail.
TEST_F(EmptyCheck, EncodeMaskLeavesUndefinedBytesUncompared) {
  std::vector<uint8_t> want;
  for (int b = 0; b < 4; ++b) {
    want.insert(want.end(), {0x00, 0x80});
    want.insert(want.end(), 16, b == 1 ? 0x00 : 0x88);
  }
  std::vector<uint8_t> defined(72, 1);
  std::fill_n(defined.begin() + 20, 16, uint8_t{0});
  const std::string masked = write("masked", "q4_0", 18,
                                   {f32("source", {2, 64}), {"expect.encode", DType::U8, {72}, want},
                                    {"expect.encode_mask", DType::U8, {72}, defined}});
  const test::Command pass = test::run_command(kVerify + " --fixture-only " + masked);
  EXPECT_EQ(pass.status, 0) << pass.output;
  EXPECT_NE(pass.output.find("bytes identical to expect.encode (56 bytes, 16 undefined bytes not compared)"), std::string::npos)
      << pass.output;
  defined[35] = 1;  // the last index byte of block 1
  const std::string one_more = write("one_more", "q4_0", 18,
                                     {f32("source", {2, 64}), {"expect.encode", DType::U8, {72}, want},
                                      {"expect.encode_mask", DType::U8, {72}, defined}});
  const test::Command fail = test::run_command(kVerify + " --fixture-only " + one_more);
  EXPECT_EQ(fail.status, 1) << fail.output;
  EXPECT_NE(fail.output.find("first differing block 1 (byte 35)"), std::string::npos) << fail.output;
}

// expect.inner of a format without an inner decode is not compared with anything.
TEST_F(EmptyCheck, ExpectationNoVariantComparesFailsVerify) {
  const std::string p = write("inner_only", "q4_0", 18, {f32("expect.inner", {2, 64})});
  const test::Command c = test::run_command(kVerify + " --fixture-only " + p);
  EXPECT_EQ(c.status, 1) << c.output;
  EXPECT_NE(c.output.find("nothing checked"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("0 passed, 1 failed"), std::string::npos) << c.output;
}

}  // namespace
}  // namespace qb

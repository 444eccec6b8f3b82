// A test fixture that owns a fresh folder under the system temp dir, named for the test suite and
// this process (ctest runs each test in its own process, so parallel runs never share one), and
// removes it after each test.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace qb::test {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("qb_" + std::string(::testing::UnitTest::GetInstance()->current_test_suite()->name()) + "_" +
             std::to_string(::getpid()));
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::filesystem::path root_;
};

}  // namespace qb::test

// `verify`: every registered variant the CPU supports, on every fixture; one line per
// fixture x check, a repro command for every failure, and a final tally.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "harness/fixture.h"
#include "harness/registry.h"

namespace qb {

struct VerifyOptions {
  uint64_t isa_cap = ~0ull;   // --isa ceiling (feature mask)
  // Each kernel runs at every count (3 splits rows unevenly) and must give the same bits.
  std::vector<int> threads = {1, 2, 3};
  // Besides each fixture's own expectations: the reference on random x at every batch size, and
  // the derived cases (shifted, trimmed, special scales, exact inputs). Off: the fixture only.
  bool derived = true;
  std::string only_variant;   // --variant: restrict to one variant name
  std::string command = "build/bin/verify";  // how repro lines invoke the tool
};

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
  void add(const Tally& t) {
    passed += t.passed;
    failed += t.failed;
    skipped += t.skipped;
  }
};

using EncodeFn = decltype(Format::encode_ref);

// Checks on one loaded fixture (its expect.* tensors) against the variants of `pool` (the
// registry's list, a plugin's, or a test's own list of deliberately wrong variants).
Tally verify_fixture(const Fixture& fx, const std::vector<Variant>& pool, const VerifyOptions& opt, std::ostream& out);
// The encoder check on its own, for any encoder (the format's reference one by default).
Tally verify_encoder(const Fixture& fx, EncodeFn encode, const std::string& encoder_name, std::ostream& out);
// Every layer of a model directory or GGUF file (harness/model_dir.h; the family claiming its quant_method
// recognizes the layers) against its format's reference: inner and full decode, and GEMV for
// m = 1 and m = 4 on a seeded random x, through the same checks as a fixture. Throws FileError
// when the directory does not load.
Tally verify_model_dir(const std::string& dir, const std::vector<Variant>& pool, const VerifyOptions& opt,
                       std::ostream& out);
// Files and folders (searched recursively for *.safetensors and *.gguf, in sorted order; a folder
// holding config.json is one model directory, a GGUF file one model); a file that fails to load
// counts as failed with its error.
Tally verify_paths(const std::vector<std::string>& paths, const std::vector<Variant>& pool,
                   const VerifyOptions& opt, std::ostream& out);

}  // namespace qb

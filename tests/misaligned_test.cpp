// Stored tensors come at any address: safetensors allows a header of any length, so a file's data
// section (and every tensor in it) may start at an odd offset of its mapping. Every registered
// variant must give the same bits there as on aligned storage, and read it only through
// unaligned-safe loads (the sanitizer tier, ci/sanitize.sh, reports a misaligned typed load).
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures/import/exl3/exl3_model_writer.h"
#include "harness/check.h"
#include "harness/fill.h"
#include "harness/model_dir.h"
#include "harness/prepared.h"
#include "harness/registry.h"
#include "harness/run.h"
#include "harness/verify.h"
#include "reference/exl3/exl3.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

// Runs `v` on `w` (m activations for a GEMV) at one thread; the output as [rows][cols] or [m][rows].
std::vector<float> run(const Variant& v, const QWeight& w, const OwnedActivation& act, int64_t m) {
  const PreparedWeight pw(w);
  std::vector<float> out(static_cast<std::size_t>(v.op == Op::gemv ? m * w.rows : w.rows * w.cols));
  if (v.op == Op::gemv)
    run_gemv(v, pw, act.data(), m, out.data(), 1);
  else
    run_decode(v, pw, out.data(), 1);
  return out;
}

// Every variant this CPU runs, on the same stored bytes at a 64-byte boundary and at boundary + 1
// (activations likewise): identical bits, and the reference's bits where the format has one
// bit pattern (inner decodes; full decodes without a bound).
TEST(Misaligned, EveryVariantGivesTheSameBitsAtAnOddAddress) {
  constexpr int64_t m = 3;
  int ran = 0;
  for (const Format& f : formats()) {
    if (!f.implemented()) continue;
    const int64_t rows = f.row_granule > 1 ? 2 * f.row_granule : 40, cols = f.row_granule > 1 ? 256 : 512;
    for (const nlohmann::json& params : f.test_params) {
      const std::vector<std::vector<uint8_t>> tensors = random_tensors(f, rows, cols, params, 21);
      const OwnedWeight aligned(f, rows, cols, params, tensors, 0), odd(f, rows, cols, params, tensors, 1);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(odd.view().tensors[0].data) % 2, 1u);
      const std::vector<float> x = gaussian(static_cast<std::size_t>(m * cols), 22);
      const OwnedActivation act0 = quantize_activation(f, x, cols, 0), act1 = quantize_activation(f, x, cols, 1);
      for (Op op : {Op::inner, Op::dequant, Op::dequant_f16, Op::dequant_bf16, Op::gemv}) {
        const Variant* ref = nullptr;
        std::vector<float> want;
        for (const Variant* v : select_variants(variants(), f.id, op, ~0ull).run) {
          SCOPED_TRACE(v->name + " " + params.dump());
          const std::vector<float> got = run(*v, odd.view(), act1, m);
          const BitsCheck same = compare_bits(run(*v, aligned.view(), act0, m).data(), got.data(),
                                              static_cast<int64_t>(got.size()), NanPolicy::exact_bits);
          EXPECT_TRUE(same.ok()) << same.mismatches << " values change with the address, first at " << same.first_bad;
          if (v->reference) {
            ref = v;
            want = got;
          } else if (ref && op != Op::gemv && !(op == Op::dequant && f.dequant_bounds)) {
            const BitsCheck c = compare_bits(want.data(), got.data(), static_cast<int64_t>(got.size()), v->nan);
            EXPECT_TRUE(c.ok()) << c.mismatches << " values differ from " << ref->name << ", first at " << c.first_bad;
          }
          ++ran;
        }
      }
    }
  }
  EXPECT_GT(ran, 0);
}

// A file's data section at an odd offset: pads the JSON header of `path` with `spaces` blanks
// (valid JSON whitespace) and rewrites its length.
void pad_header(const fs::path& path, int spaces) {
  std::vector<char> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(8 + len), static_cast<std::size_t>(spaces), ' ');
  len += static_cast<uint64_t>(spaces);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(len >> (8 * i));
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(Misaligned, Exl3ModelWithOddHeaderLengthVerifies) {
  const fs::path dir = fs::temp_directory_path() / ("qb_misaligned_model_" + std::to_string(::getpid()));
  nlohmann::ordered_json config = {{"quant_method", "exl3"}, {"version", "0.0.32"}, {"bits", 3}, {"codebook", "mcg"}};
  config["tensor_storage"]["fc"] = exl3::mcg_linear_storage("fc", 256, 256, 3);
  exl3::write_model(config, dir.string(), exl3::ModelOptions{});
  pad_header(dir / "model.safetensors", 3);
  {
    const ModelDir model = open_model_dir(dir.string(), ModelData::mapped);
    ASSERT_EQ(model.layers.size(), 1u);
    for (const char* t : {"trellis", "suh", "svh"})
      ASSERT_EQ(reinterpret_cast<uintptr_t>(model.layers[0].weight.tensor(t).data) % 2, 1u) << t << " is not at an odd address";
  }
  std::ostringstream out;
  const Tally t = verify_model_dir(dir.string(), variants(), VerifyOptions{}, out);
  fs::remove_all(dir);
  EXPECT_EQ(t.failed, 0) << out.str();
  EXPECT_GT(t.passed, 0) << out.str();
}

}  // namespace
}  // namespace qb

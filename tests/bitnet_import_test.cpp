// import-vectors on the BitNet golden-vector layout (specs/bitnet.md section 9): the shipped cases
// of ../shared/vectors/bitnet, and cases this test writes itself in the same layout (manifest.json
// with files entries and right sha256): an HF case with out = 10 (two padding rows per packed
// column) and an I2_S case whose upstream GEMV wraps in int16 (all +1 weights, constant
// activations, K = 4096). Every stored and expected value of those is computed here from the spec
// (HF packing 2, I2_S bytes and epilogue 3 / 3.1, the quantizers' formulas on activations chosen so
// q is exact), never by reference/bitnet (the HF packing is also checked equal to bitnet::hf_pack).
// The imported fixtures must hold those values and pass verify; a manifest that contradicts its
// files is refused naming the manifest and the field.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "fixtures/import/import_vectors.h"
#include "fixtures/import/manifest_file.h"
#include "harness/fixture.h"
#include "harness/verify.h"
#include "reference/bitnet/layouts.h"

namespace qb::import {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

template <typename T>
std::vector<uint8_t> raw(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

template <typename T>
std::vector<T> values(const OwnedTensor& t) {
  std::vector<T> v(t.bytes.size() / sizeof(T));
  std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));
  return v;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

const fs::path kShipped = fs::path(QB_SOURCE_DIR) / ".." / "shared" / "vectors" / "bitnet";
constexpr const char* kCommit = "16da220ae2b510caff437d403288882687f44ae5";

// The synthetic HF case: out = 10, in = 64, so P = 3 packed rows hold rows r, r+3, r+6, r+9 and
// rows 10, 11 are padding fields (code 0).
constexpr int64_t kHfOut = 10, kHfIn = 64, kHfP = 3, kHfAct = 2;
constexpr const char* kHfName = "hf_packed_out10_padding";
// The synthetic I2_S case: M = 4, K = 4096, every weight +1, 4 constant activation vectors.
constexpr int64_t kWrapM = 4, kWrapK = 4096, kWrapAct = 4;
constexpr const char* kWrapName = "i2s_4x4096_int16_wrap";
constexpr float kWrapScale = 1.5546875f;
constexpr const char* kTl1Name = "tl1_64x128_BM64_BK64_bm32";

struct HfCase {
  std::vector<int8_t> t, q;
  std::vector<uint8_t> packed;
  std::vector<float> x, s, mul, div, y_div, y_mul;
  std::vector<int32_t> yint;
  float ws = 1.5f;  // bf16 0x3FC0
};

// Spec 2: byte (r % P, c) holds row r's code T + 1 in bits 2(r / P) + 1 .. 2(r / P).
HfCase build_hf() {
  HfCase h;
  std::mt19937_64 rng(0xb17e7);
  for (int64_t i = 0; i < kHfOut * kHfIn; ++i) h.t.push_back(static_cast<int8_t>(static_cast<int>(rng() % 3) - 1));
  h.packed.assign(static_cast<std::size_t>(kHfP * kHfIn), 0);
  for (int64_t r = 0; r < kHfOut; ++r)
    for (int64_t c = 0; c < kHfIn; ++c)
      h.packed[(r % kHfP) * kHfIn + c] |= static_cast<uint8_t>((h.t[r * kHfIn + c] + 1) << (2 * (r / kHfP)));
  for (int8_t v : h.t) {
    h.mul.push_back(static_cast<float>(v) * h.ws);
    h.div.push_back(static_cast<float>(v) / h.ws);
  }
  // Activations x = k / 2 with integers k in [-127, 127] and one |k| = 127 per vector: max|x| =
  // 63.5, s = 127 / 63.5 = 2 exactly, x * s = k exactly, so q = k (transformers activation_quant).
  for (int64_t v = 0; v < kHfAct; ++v) {
    h.s.push_back(2.0f);
    for (int64_t k = 0; k < kHfIn; ++k) {
      int q = static_cast<int>(rng() % 255) - 127;
      if (k == 5 + v) q = v % 2 ? -127 : 127;
      h.q.push_back(static_cast<int8_t>(q));
      h.x.push_back(static_cast<float>(q) / 2.0f);
    }
  }
  for (int64_t v = 0; v < kHfAct; ++v)
    for (int64_t r = 0; r < kHfOut; ++r) {
      int32_t d = 0;
      for (int64_t k = 0; k < kHfIn; ++k) d += h.t[r * kHfIn + k] * h.q[v * kHfIn + k];
      h.yint.push_back(d);
      h.y_div.push_back(static_cast<float>(d) / (h.s[v] * h.ws));  // BitLinear, fp32
      h.y_mul.push_back(static_cast<float>(d) / h.s[v] * h.ws);    // spec 2.1 multiply epilogue
    }
  return h;
}

struct WrapCase {
  std::vector<float> x, s, vecdot, y_up, y_exact;
  std::vector<int8_t> q;
  std::vector<int32_t> sum, yint;
  std::vector<uint8_t> data;
};

// Spec 3, 3.1: every code 2 (+1), so every byte is 0b10101010 whatever the element order; the f32
// scale at M*K/4 and 28 canary bytes. x = c_v everywhere: s = (float)(127 / (double)c_v), x * s
// rounds to 127 (c_v * s is within an ulp of 127), so q = 127 and act_sum = 127 K. The exact dot
// D = 127 K = 520192; upstream's vec_dot sums code*q = 2 * 127 per element in int16 lanes: 32
// steps of 8 products 254 = 65024 wraps to -512 per lane, 16 lanes = -8192 (the spec's value).
WrapCase build_wrap() {
  WrapCase w;
  w.data.assign(static_cast<std::size_t>(kWrapM * kWrapK / 4), 0xAA);
  const float scale = kWrapScale;
  w.data.resize(w.data.size() + 4);
  std::memcpy(&w.data[w.data.size() - 4], &scale, 4);
  w.data.resize(w.data.size() + 28, 0xEE);
  const float c[kWrapAct] = {0.75f, 1.0f, 3.25f, 0.1f};
  for (int64_t v = 0; v < kWrapAct; ++v) {
    const auto s = static_cast<float>(127.0 / static_cast<double>(c[v]));
    w.s.push_back(s);
    for (int64_t k = 0; k < kWrapK; ++k) {
      w.x.push_back(c[v]);
      w.q.push_back(127);
    }
    w.sum.push_back(127 * kWrapK);
    for (int64_t r = 0; r < kWrapM; ++r) {
      w.yint.push_back(127 * kWrapK);
      w.vecdot.push_back(-8192.0f);
      w.y_up.push_back((-8192.0f - static_cast<float>(127 * kWrapK)) / s * scale);
      w.y_exact.push_back((static_cast<float>(2 * 127 * kWrapK) - static_cast<float>(127 * kWrapK)) / s * scale);
    }
  }
  return w;
}

class BitnetImport : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    tmp_ = fs::temp_directory_path() / ("qb_bitnet_import_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(tmp_ / "src");
    std::ofstream(tmp_ / "src" / "index.json") << json{{"cases", json::array()}, {"bitnet_commit", kCommit}}.dump();
  }
  void TearDown() override { fs::remove_all(tmp_); }

  fs::path case_dir(const std::string& name) const { return tmp_ / "src" / name; }

  static json entry(const fs::path& dir, const std::string& key, const std::string& dtype, std::vector<int64_t> shape,
                    const std::vector<uint8_t>& bytes) {
    fs::create_directories(dir);
    std::ofstream(dir / (key + ".bin"), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return {{"file", key + ".bin"}, {"dtype", dtype}, {"shape", shape}, {"bytes", bytes.size()}, {"sha256", sha256_hex(bytes)}};
  }

  void write_manifest(const std::string& name, const json& m) { std::ofstream(case_dir(name) / "manifest.json") << m.dump(1); }

  json write_hf(const HfCase& h) {
    const fs::path d = case_dir(kHfName);
    json files;
    files["packed"] = entry(d, "packed", "uint8", {kHfP, kHfIn}, h.packed);
    files["weight_scale_bf16"] = entry(d, "weight_scale_bf16", "bf16_bits_u16", {1}, {0xC0, 0x3F});
    files["ternary"] = entry(d, "ternary", "int8", {kHfOut, kHfIn}, raw(h.t));
    files["decoded_mul"] = entry(d, "decoded_mul", "float32", {kHfOut, kHfIn}, raw(h.mul));
    files["decoded_div"] = entry(d, "decoded_div", "float32", {kHfOut, kHfIn}, raw(h.div));
    files["act_f32"] = entry(d, "act_f32", "float32", {kHfAct, kHfIn}, raw(h.x));
    files["act_q"] = entry(d, "act_q", "int8", {kHfAct, kHfIn}, raw(h.q));
    files["act_scale"] = entry(d, "act_scale", "float32", {kHfAct}, raw(h.s));
    files["yint"] = entry(d, "yint", "int32", {kHfAct, kHfOut}, raw(h.yint));
    files["y_bitlinear_f32"] = entry(d, "y_bitlinear_f32", "float32", {kHfAct, kHfOut}, raw(h.y_div));
    json m{{"case", kHfName},          {"format", "hf_bitnet_packed_u8"}, {"endianness", "little"},
           {"provenance", {{"pack", "this test (spec 2)"}}}, {"files", files}, {"out_features", kHfOut},
           {"in_features", kHfIn},     {"packed_rows", kHfP},             {"unpacked_rows", 4 * kHfP}};
    write_manifest(kHfName, m);
    return m;
  }

  json write_wrap(const WrapCase& w, bool with_vecdot = true) {
    const fs::path d = case_dir(kWrapName);
    json files;
    files["weights_f32"] = entry(d, "weights_f32", "float32", {kWrapM, kWrapK},
                                 raw(std::vector<float>(static_cast<std::size_t>(kWrapM * kWrapK), kWrapScale)));
    files["ternary"] = entry(d, "ternary", "int8", {kWrapM, kWrapK}, std::vector<uint8_t>(static_cast<std::size_t>(kWrapM * kWrapK), 1));
    files["i2s_x86"] = entry(d, "i2s_x86", "uint8", {static_cast<int64_t>(w.data.size())}, w.data);
    files["acts_f32"] = entry(d, "acts_f32", "float32", {kWrapAct, kWrapK}, raw(w.x));
    files["act_q"] = entry(d, "act_q", "int8", {kWrapAct, kWrapK}, raw(w.q));
    files["act_scale"] = entry(d, "act_scale", "float32", {kWrapAct}, raw(w.s));
    files["act_sum"] = entry(d, "act_sum", "int32", {kWrapAct}, raw(w.sum));
    if (with_vecdot) files["vecdot_raw"] = entry(d, "vecdot_raw", "float32", {kWrapAct, kWrapM}, raw(w.vecdot));
    files["y"] = entry(d, "y", "float32", {kWrapAct, kWrapM}, raw(w.y_up));
    files["yint_exact"] = entry(d, "yint_exact", "int32", {kWrapAct, kWrapM}, raw(w.yint));
    json m{{"case", kWrapName}, {"format", "gguf_i2_s"}, {"endianness", "little"}, {"files", files},
           {"M", kWrapM},       {"K", kWrapK},          {"scale_f32", kWrapScale},  {"nact", kWrapAct},
           {"checks", {{"vecdot_rows_differing_from_exact_int_dot(int16 wrap)", kWrapM * kWrapAct}}}};
    write_manifest(kWrapName, m);
    return m;
  }

  // A TL1 case for the refusal tests (kernel_config is read before any file): made with our packer.
  json write_tl1() {
    const int64_t m = 64, k = 128;
    std::vector<int8_t> t(static_cast<std::size_t>(m * k));
    std::mt19937_64 rng(7);
    for (int8_t& v : t) v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    std::vector<uint8_t> packed(static_cast<std::size_t>(m * k / 4), 0);
    bitnet::tl1_pack(t.data(), m, k, {64, 64, 32, 8}, packed.data());
    std::vector<float> w;
    for (int8_t v : t) w.push_back(static_cast<float>(v) * 1.25f);
    const fs::path d = case_dir(kTl1Name);
    json files;
    files["weights_f32"] = entry(d, "weights_f32", "float32", {m, k}, raw(w));
    files["ternary"] = entry(d, "ternary", "int8", {m, k}, raw(t));
    files["tl1_packed"] = entry(d, "tl1_packed", "uint8", {m * k / 4}, packed);
    files["tl1_scale"] = entry(d, "tl1_scale", "float32", {1}, raw(std::vector<float>{1.25f}));
    json mf{{"case", kTl1Name}, {"format", "gguf_tl1"}, {"files", files}, {"M", m}, {"K", k},
            {"kernel_config", {{"m", m}, {"k", k}, {"bm", 64}, {"bk", 64}, {"bmm", 32}, {"by", 8}}}, {"scale_f32", 1.25}};
    write_manifest(kTl1Name, mf);
    return mf;
  }

  ImportReport run_import() { return import_vectors((tmp_ / "src").string(), (tmp_ / "out").string()); }
  fs::path out(const std::string& file) const { return tmp_ / "out" / "bitnet" / file; }

  static Tally verify(const Fixture& fx, std::string* log) {
    std::ostringstream o;
    const Tally t = verify_fixture(fx, variants(), VerifyOptions{}, o);
    *log = o.str();
    return t;
  }

  // `name`'s manifest after `edit` (the files left as written, unless `files` changes them): the
  // import must fail with "<name>/manifest.json: <message>" and write nothing.
  void expect_refused(const std::string& name, json m, const std::function<void(json&)>& edit, const std::string& message,
                      const std::function<void()>& files = nullptr) {
    edit(m);
    write_manifest(name, m);
    if (files) files();
    const ImportReport r = run_import();
    std::string all;
    for (const std::string& f : r.failed) all += f + "\n";
    ASSERT_EQ(1u, r.failed.size()) << all;
    EXPECT_NE(std::string::npos, r.failed[0].find(name + "/manifest.json: " + message)) << r.failed[0];
    EXPECT_TRUE(r.written.empty()) << (r.written.empty() ? std::string() : r.written.front());
  }

  fs::path tmp_;
};

TEST_F(BitnetImport, HfPaddingCaseImportsAndVerifies) {
  const HfCase h = build_hf();
  // The spec's packing is our packer's.
  std::vector<uint8_t> ours(h.packed.size(), 0);
  bitnet::hf_pack(h.t.data(), kHfOut, kHfIn, ours.data());
  ASSERT_EQ(h.packed, ours);
  write_hf(h);
  const ImportReport r = run_import();
  ASSERT_TRUE(r.ok()) << r.failed.front();
  ASSERT_EQ(2u, r.written.size());
  for (const char* rule : {"multiply", "divide"}) {
    SCOPED_TRACE(rule);
    const bool mul = std::string(rule) == "multiply";
    const Fixture fx = load_fixture(out(std::string(kHfName) + "." + rule + ".safetensors").string());
    EXPECT_EQ("bitnet_hf", fx.format_id);
    EXPECT_EQ(kHfOut, fx.rows);
    EXPECT_EQ(kHfIn, fx.cols);
    EXPECT_EQ(json({{"scale_rule", rule}}), fx.params);
    EXPECT_EQ(h.packed, fx.find("weight")->bytes);
    EXPECT_EQ(std::vector<uint8_t>({0xC0, 0x3F}), fx.find("weight_scale")->bytes);
    EXPECT_EQ(raw(mul ? h.mul : h.div), fx.find("expect.dequant")->bytes);
    EXPECT_EQ(raw(mul ? h.mul : h.div), fx.find("source")->bytes);
    std::vector<float> inner;
    for (int8_t v : h.t) inner.push_back(static_cast<float>(v));
    EXPECT_EQ(raw(inner), fx.find("expect.inner")->bytes);
    std::vector<uint8_t> enc = h.packed;
    enc.push_back(0xC0);
    enc.push_back(0x3F);
    EXPECT_EQ(enc, fx.find("expect.encode")->bytes);
    // x_q: f32 s = 2, int32 sum of q, then q; y as computed above.
    const std::vector<uint8_t> xq = fx.find("expect.x_q")->bytes;
    ASSERT_EQ(static_cast<std::size_t>(kHfAct * (8 + kHfIn)), xq.size());
    for (int64_t v = 0; v < kHfAct; ++v) {
      float s;
      int32_t sum, want = 0;
      std::memcpy(&s, &xq[v * (8 + kHfIn)], 4);
      std::memcpy(&sum, &xq[v * (8 + kHfIn) + 4], 4);
      for (int64_t k = 0; k < kHfIn; ++k) {
        want += h.q[v * kHfIn + k];
        EXPECT_EQ(h.q[v * kHfIn + k], static_cast<int8_t>(xq[v * (8 + kHfIn) + 8 + k]));
      }
      EXPECT_EQ(2.0f, s);
      EXPECT_EQ(want, sum);
    }
    EXPECT_EQ(raw(h.x), fx.find("expect.x")->bytes);
    EXPECT_EQ(raw(mul ? h.y_mul : h.y_div), fx.find("expect.y")->bytes);
    if (mul) {
      EXPECT_NE(std::string::npos, fx.description.find("DERIVED from upstream's exact int dot")) << fx.description;
    }
    std::string log;
    const Tally t = verify(fx, &log);
    EXPECT_EQ(0, t.failed) << log;
    EXPECT_GT(t.passed, 0) << log;
    EXPECT_NE(std::string::npos, log.find("bytes identical to expect.x_q")) << log;
    EXPECT_NE(std::string::npos, log.find("bytes identical to expect.encode")) << log;
  }
}

TEST_F(BitnetImport, I2sInt16WrapCaseExpectsTheExactResult) {
  const WrapCase w = build_wrap();
  write_wrap(w);
  const ImportReport r = run_import();
  ASSERT_TRUE(r.ok()) << r.failed.front();
  ASSERT_EQ(1u, r.written.size());
  const Fixture fx = load_fixture(out(std::string(kWrapName) + ".x86.safetensors").string());
  EXPECT_EQ("bitnet_i2_s", fx.format_id);
  EXPECT_EQ(w.data, fx.find("weight")->bytes);
  const std::vector<float> y = values<float>(*fx.find("expect.y"));
  ASSERT_EQ(w.y_exact.size(), y.size());
  for (std::size_t i = 0; i < y.size(); ++i) {
    EXPECT_EQ(bits(w.y_exact[i]), bits(y[i])) << i;
    EXPECT_NE(bits(w.y_up[i]), bits(y[i])) << i;  // upstream's wrapped value is no expectation
  }
  EXPECT_NE(std::string::npos, fx.description.find("EXACT result")) << fx.description;
  EXPECT_NE(std::string::npos, fx.description.find("16 of 16 outputs")) << fx.description;
  // The canary bytes are masked, the rest compared.
  const std::vector<uint8_t> mask = fx.find("expect.encode_mask")->bytes;
  EXPECT_EQ(28, std::count(mask.begin(), mask.end(), 0));
  EXPECT_EQ(0, std::count(mask.begin(), mask.end() - 28, 0));
  std::string log;
  const Tally t = verify(fx, &log);
  EXPECT_EQ(0, t.failed) << log;
  EXPECT_GT(t.passed, 0) << log;
  EXPECT_NE(std::string::npos, log.find("bytes identical to expect.x_q")) << log;
}

TEST_F(BitnetImport, WrappedYWithoutVecdotEvidenceIsRefused) {
  expect_refused(kWrapName, write_wrap(build_wrap(), false), [](json&) {},
                 "files.y: output [0, 0] is ", nullptr);
}

TEST_F(BitnetImport, WrongWrapCountIsRefused) {
  expect_refused(kWrapName, write_wrap(build_wrap()),
                 [](json& m) { m["checks"]["vecdot_rows_differing_from_exact_int_dot(int16 wrap)"] = 3; },
                 "checks.vecdot_rows_differing_from_exact_int_dot(int16 wrap): is 3, vecdot_raw.bin differs from "
                 "yint_exact + act_sum at 16 outputs");
}

TEST_F(BitnetImport, Sha256MismatchIsRefused) {
  expect_refused(kHfName, write_hf(build_hf()), [](json& m) { m["files"]["packed"]["sha256"] = std::string(64, '0'); },
                 "files.packed.sha256: mismatch for packed.bin");
}

TEST_F(BitnetImport, StatedSizeOtherThanTheGeometryIsRefused) {
  expect_refused(kHfName, write_hf(build_hf()), [](json& m) { m["files"]["packed"]["bytes"] = 100; },
                 "files.packed.bytes: 100 for packed.bin, the geometry needs 192");
}

TEST_F(BitnetImport, FileOfAnotherSizeIsRefused) {
  expect_refused(kHfName, write_hf(build_hf()), [](json&) {}, "files.packed.bytes: packed.bin holds 193 bytes, manifest says 192",
                 [&] { std::ofstream(case_dir(kHfName) / "packed.bin", std::ios::app | std::ios::binary) << 'x'; });
}

TEST_F(BitnetImport, ShapeAgainstTheGeometryIsRefused) {
  expect_refused(kHfName, write_hf(build_hf()), [](json& m) { m["files"]["packed"]["shape"] = {2, 64}; },
                 "files.packed.shape: is [2, 64], the HF layout U8 [ceil(out/4), in] needs [3, 64]");
}

TEST_F(BitnetImport, MissingFileIsRefused) {
  expect_refused(kHfName, write_hf(build_hf()), [](json&) {}, "files.ternary.file: ternary.bin not found in",
                 [&] { fs::remove(case_dir(kHfName) / "ternary.bin"); });
}

TEST_F(BitnetImport, MissingFileEntryIsRefused) {
  expect_refused(kHfName, write_hf(build_hf()), [](json& m) { m["files"].erase("weight_scale_bf16"); },
                 "files.weight_scale_bf16: missing");
}

TEST_F(BitnetImport, YintThatIsNotTheExactDotIsRefused) {
  HfCase h = build_hf();
  h.yint[3] += 1;
  expect_refused(kHfName, write_hf(h), [](json&) {}, "files.yint: output [0, 3] is ");
}

TEST_F(BitnetImport, UnknownFormatIsRefused) {
  expect_refused(kHfName, write_hf(build_hf()), [](json& m) { m["format"] = "gguf_i3_s"; },
                 "format: 'gguf_i3_s' is none of BitNet's raw layouts (hf_bitnet_packed_u8, gguf_i2_s, gguf_tl1, gguf_tl2, "
                 "bitnet_gpu_int2)");
}

TEST_F(BitnetImport, BadKernelConfigIsRefused) {
  const json m = write_tl1();
  expect_refused(kTl1Name, m, [](json& j) { j["kernel_config"]["bmm"] = 48; },
                 "kernel_config.bmm: is 48, TL1 allows bm = 32 or 64");
  expect_refused(kTl1Name, m, [](json& j) { j["kernel_config"]["bm"] = 48; },
                 "kernel_config.bm: bitnet: TL1 params.BM = 48 is not a positive multiple of bm = 32");
  expect_refused(kTl1Name, m, [](json& j) { j["kernel_config"]["bk"] = 96; },
                 "kernel_config.bk: bitnet: TL1 cols = 128 is not a multiple of params.BK = 96");
  expect_refused(kTl1Name, m, [](json& j) { j["kernel_config"]["k"] = 256; }, "kernel_config.k: is 256, K gives 128");
  expect_refused(kTl1Name, m, [](json& j) { j["kernel_config"]["by"] = 4; }, "kernel_config.by: is 4, 256/bmm gives 8");
  expect_refused(kTl1Name, m, [](json& j) { j["kernel_config"].erase("bk"); }, "kernel_config.bk: missing");
}

TEST_F(BitnetImport, UnshippedCasesAreNamed) {
  write_hf(build_hf());
  std::ofstream(tmp_ / "src" / "index.json") << json{{"cases", {kHfName, "tl2_64x320_BM32_BK96_bm32_twoK32"}}, {"bitnet_commit", kCommit}}.dump();
  const ImportReport r = run_import();
  ASSERT_TRUE(r.ok()) << r.failed.front();
  EXPECT_EQ(2u, r.written.size());
  EXPECT_TRUE(std::any_of(r.skipped.begin(), r.skipped.end(), [](const std::string& m) {
    return m.find("tl2_64x320_BM32_BK96_bm32_twoK32: listed in index.json, not shipped") != std::string::npos;
  }));
}

// The shipped upstream cases: every fixture imports, holds upstream's bytes and passes verify.
TEST(BitnetShippedVectors, ImportAndVerify) {
  if (!fs::exists(kShipped / "index.json")) GTEST_SKIP() << kShipped << " absent";
  const fs::path tmp = fs::temp_directory_path() / ("qb_bitnet_shipped_" + std::to_string(getpid()));
  fs::remove_all(tmp);
  const ImportReport r = import_vectors(kShipped.string(), tmp.string());
  ASSERT_TRUE(r.ok()) << r.failed.front();
  // hf x2 (multiply, divide), i2s x3 (x86, arm, python), tl1 x2, tl2 x1, gpu x1.
  EXPECT_EQ(9u, r.written.size());
  int unshipped = 0;
  for (const std::string& s : r.skipped) unshipped += s.find("listed in index.json, not shipped") != std::string::npos;
  EXPECT_EQ(3, unshipped);
  for (const std::string& path : r.written) {
    SCOPED_TRACE(path);
    const Fixture fx = load_fixture(path);
    std::ostringstream o;
    const Tally t = verify_fixture(fx, variants(), VerifyOptions{}, o);
    EXPECT_EQ(0, t.failed) << o.str();
    EXPECT_GT(t.passed, 0) << o.str();
    if (fx.find("expect.x_q")) {
      EXPECT_NE(std::string::npos, o.str().find("bytes identical to expect.x_q")) << o.str();
    }
    if (fx.find("expect.encode")) {
      EXPECT_NE(std::string::npos, o.str().find("bytes identical to expect.encode")) << o.str();
    }
  }
  // Upstream's bytes, as stored: the x86 I2_S file with its canary, the GPU words.
  const auto file = [&](const char* rel) {
    std::ifstream in(kShipped / rel, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const Fixture x86 = load_fixture((tmp / "bitnet" / "i2s_8x4224.x86.safetensors").string());
  EXPECT_EQ(file("i2s_8x4224/i2s_x86.bin"), x86.find("weight")->bytes);
  EXPECT_NE(std::string::npos, x86.description.find("except at 2 element(s)")) << x86.description;
  const Fixture gpu = load_fixture((tmp / "bitnet" / "gpu_int2_32x256.safetensors").string());
  EXPECT_EQ(file("gpu_int2_32x256/gpu_packed.bin"), gpu.find("weight")->bytes);
  EXPECT_EQ(std::vector<uint8_t>({0x80, 0x3F}), gpu.find("weight_scale")->bytes);
  const Fixture mul = load_fixture((tmp / "bitnet" / "hf_packed_256x320.multiply.safetensors").string());
  EXPECT_EQ(file("hf_packed_256x320/decoded_mul.bin"), mul.find("expect.dequant")->bytes);
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace qb::import

// import-vectors on the MLC golden-vector layout, with cases this test writes itself: a padded-K
// NK q3f16_1 case and a padded-K KN q4bf16_0 case (files holding the transposed tensors, bf16 as
// raw bits), each with te_* and oracle_* encodings and a manifest whose sha256 are right. Every
// stored and expected value is computed here from specs/mlc.md (packing 2.2, decode 2.3 in
// double with an IEEE round-to-nearest-even written below, quantizer 2.4 on inputs chosen so its
// result is known exactly), never by reference/mlc. The imported fixtures must hold those bytes
// and pass verify (our encoder reproduces te_*, every decoder the decodes); a manifest that
// contradicts its files is refused naming the manifest and the field.
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

namespace qb::import {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A binary floating-point format: significand bits (with the implicit one), exponent range.
struct Binary {
  int p, emin, emax;
};
constexpr Binary kF16{11, -14, 15}, kBF16{8, -126, 127};

// v rounded once to `b`, nearest even, subnormals kept, overflow to infinity (IEEE 754 4.3.1,
// 7.4): the rounding spec 2.3 applies to the exact double product.
double round_to(double v, const Binary& b) {
  if (v == 0 || std::isnan(v)) return v;
  const double a = std::fabs(v);
  // Halfway between the largest finite value and 2^(emax+1) rounds up, the largest being odd.
  if (a >= std::ldexp(2.0 - std::ldexp(1.0, -b.p), b.emax)) return std::copysign(INFINITY, v);
  const int e = std::max(std::ilogb(a), b.emin);
  const double quantum = std::ldexp(1.0, e - b.p + 1);
  return std::copysign(std::nearbyint(a / quantum) * quantum, v);  // default mode: ties to even
}

// The 16-bit pattern of a value `b` represents exactly (sign, biased exponent, fraction).
uint16_t bits16(double v, const Binary& b) {
  const int frac_bits = b.p - 1;
  const uint32_t sign = std::signbit(v) ? 0x8000u : 0u;
  const double a = std::fabs(v);
  if (std::isinf(a)) return static_cast<uint16_t>(sign | (((1u << (15 - frac_bits)) - 1u) << frac_bits));
  if (a < std::ldexp(1.0, b.emin))
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(a / std::ldexp(1.0, b.emin - frac_bits)));
  const int e = std::ilogb(a);
  const auto frac = static_cast<uint32_t>(a / std::ldexp(1.0, e - frac_bits)) - (1u << frac_bits);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(e + b.emax) << frac_bits) | frac);
}

// One synthetic case: the preset's numbers as spec 1's table gives them.
struct Spec {
  const char* preset;
  int bits, gs, epw, max_int;
  bool kn;
  Binary model;
  const char* model_dtype;  // the preset's, as upstream names it
  const char* file_dtype;   // how the vector files name it
  int64_t n, k;
  const char* name;  // the case folder
};
const Spec kQ3{"q3f16_1", 3, 40, 10, 3, false, kF16, "float16", "float16", 4, 53, "q3f16_1_4x53_padK"};
const Spec kQ4bf16KN{"q4bf16_0", 4, 32, 8, 7, true, kBF16, "bfloat16", "bf16_bits_u16", 5, 45, "q4bf16_0_5x45_padK"};

// Codes [n][k] and scales [n][ng] of one encoding, and what they stand for.
struct Encoding {
  std::vector<std::vector<uint32_t>> codes;
  std::vector<std::vector<double>> scales;
  std::vector<uint32_t> extra_bits;  // OR-ed into each NK word [n * nw]: padding codes, int3 bits 30-31
};

struct Built {
  std::vector<uint8_t> weight, q_weight[2], q_scale[2], decoded[2];  // [0] te, [1] oracle
  std::vector<float> source;
  std::vector<double> decoded_values[2];  // [n * k]
  int64_t codes_differing = 0;
};

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(&out[at], &v, sizeof(T));
}

class MlcImport : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    tmp_ = fs::temp_directory_path() / ("qb_mlc_import_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }

  static int64_t groups(const Spec& s) { return (s.k + s.gs - 1) / s.gs; }
  static int64_t words(const Spec& s) { return groups(s) * (s.gs / s.epw); }

  // te: what the TE quantizer writes for W = (code - max_int) * s, every group holding a code
  // 0 or 2*max_int, s with few enough significant bits that max|w| / max_int = s, w / s and
  // w / s + max_int are exact in the model dtype (spec 2.4 steps 1-3): its codes are these codes.
  // Row 1's first group is all zeros: scale 0, 0/0 = NaN clamped to code 0 (step 5), which
  // decodes to -0. oracle: any stored bits (codes 2^bits - 1, non-zero padding, int3 bits 30-31,
  // full-precision, subnormal and overflowing scales), which a decoder must read per 2.2/2.3.
  static Built build(const Spec& s) {
    std::mt19937_64 rng(0x3c0de + s.k);
    const int64_t ng = groups(s), nw = words(s), top = 2 * s.max_int;
    const auto pick = [&](int64_t lo, int64_t hi) {
      return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
    };
    Encoding enc[2];
    for (Encoding& e : enc) {
      e.codes.assign(static_cast<std::size_t>(s.n), std::vector<uint32_t>(static_cast<std::size_t>(s.k)));
      e.scales.assign(static_cast<std::size_t>(s.n), std::vector<double>(static_cast<std::size_t>(ng)));
      e.extra_bits.assign(static_cast<std::size_t>(s.n * nw), 0);
    }
    std::vector<double> w(static_cast<std::size_t>(s.n * s.k));
    for (int64_t r = 0; r < s.n; ++r)
      for (int64_t g = 0; g < ng; ++g) {
        const int64_t k0 = g * s.gs, k1 = std::min(s.k, k0 + s.gs);
        const bool zero = r == 1 && g == 0;
        const double scale =
            zero ? 0.0 : std::ldexp(static_cast<double>(2 * pick(0, 15) + 1), static_cast<int>(pick(-14, -6)));
        enc[0].scales[r][g] = scale;
        const int64_t extreme = pick(k0, k1 - 1);
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t c = zero ? 0 : k == extreme ? (pick(0, 1) ? top : 0) : pick(0, top);
          enc[0].codes[r][k] = static_cast<uint32_t>(c);
          w[r * s.k + k] = zero ? 0.0 : static_cast<double>(c - s.max_int) * scale;
        }
        // oracle: a scale with every significand bit drawn, either sign, and three specials.
        double os = std::ldexp(1.0 + static_cast<double>(pick(0, (1 << (s.model.p - 1)) - 1)) / (1 << (s.model.p - 1)),
                               static_cast<int>(pick(-8, 2)));
        if (pick(0, 1)) os = -os;
        if (r == 0 && g == 0) os = std::ldexp(1.5, s.model.emax);        // (code - max_int) >= 2: overflows
        if (r == 2 && g == ng - 1) os = std::ldexp(5.0, s.model.emin - s.model.p + 1);  // subnormal
        if (r == 3 && g == 0) os = 0.0;
        enc[1].scales[r][g] = os;
        for (int64_t k = k0; k < k1; ++k) enc[1].codes[r][k] = static_cast<uint32_t>(pick(0, (1 << s.bits) - 1));
      }
    // Oracle words carry bits a decoder ignores: codes in the padding, int3's bits 30-31.
    for (int64_t r = 0; r < s.n; ++r)
      for (int64_t wd = 0; wd < nw; ++wd) {
        uint32_t extra = 0;
        for (int64_t j = 0; j < s.epw; ++j)
          if (wd * s.epw + j >= s.k) extra |= static_cast<uint32_t>(pick(0, (1 << s.bits) - 1)) << (j * s.bits);
        if (s.bits == 3) extra |= static_cast<uint32_t>(pick(0, 3)) << 30;
        enc[1].extra_bits[r * nw + wd] = extra;
      }

    Built b;
    for (double v : w) {
      put(b.weight, bits16(v, s.model));
      b.source.push_back(static_cast<float>(v));
    }
    for (int e = 0; e < 2; ++e) {
      std::vector<uint32_t> nk(static_cast<std::size_t>(s.n * nw));
      for (int64_t r = 0; r < s.n; ++r) {
        for (int64_t wd = 0; wd < nw; ++wd) nk[r * nw + wd] = enc[e].extra_bits[r * nw + wd];
        for (int64_t k = 0; k < s.k; ++k) nk[r * nw + k / s.epw] |= enc[e].codes[r][k] << ((k % s.epw) * s.bits);
      }
      // KN files hold the transposes (spec 2.1).
      for (int64_t i = 0; i < nw * s.n; ++i) put(b.q_weight[e], s.kn ? nk[(i % s.n) * nw + i / s.n] : nk[i]);
      for (int64_t i = 0; i < ng * s.n; ++i) {
        const double sc = s.kn ? enc[e].scales[i % s.n][i / s.n] : enc[e].scales[i / ng][i % ng];
        put(b.q_scale[e], bits16(sc, s.model));
      }
      for (int64_t r = 0; r < s.n; ++r)
        for (int64_t k = 0; k < s.k; ++k) {
          const double v = round_to(static_cast<double>(static_cast<int64_t>(enc[e].codes[r][k]) - s.max_int) *
                                        enc[e].scales[r][k / s.gs], s.model);
          b.decoded_values[e].push_back(v);
          put(b.decoded[e], bits16(v, s.model));
        }
    }
    for (int64_t r = 0; r < s.n; ++r)
      for (int64_t k = 0; k < s.k; ++k) b.codes_differing += enc[0].codes[r][k] != enc[1].codes[r][k];
    return b;
  }

  static json file_entry(const fs::path& dir, const std::string& name, const std::string& dtype,
                         std::vector<int64_t> shape, const std::vector<uint8_t>& bytes) {
    std::ofstream(dir / (name + ".bin"), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                                  static_cast<std::streamsize>(bytes.size()));
    return {{"file", name + ".bin"}, {"dtype", dtype}, {"shape", shape}, {"bytes", bytes.size()},
            {"sha256", sha256_hex(bytes)}};
  }

  // The case folder under tmp_/src, as the generator lays it out; returns its manifest.
  json write_case(const Spec& s, const Built& b) {
    const fs::path dir = tmp_ / "src" / s.name;
    fs::create_directories(dir);
    const int64_t ng = groups(s), nw = words(s);
    const std::vector<int64_t> wshape{s.n, s.k};
    const std::vector<int64_t> qshape = s.kn ? std::vector<int64_t>{nw, s.n} : std::vector<int64_t>{s.n, nw};
    const std::vector<int64_t> sshape = s.kn ? std::vector<int64_t>{ng, s.n} : std::vector<int64_t>{s.n, ng};
    json files;
    files["weight"] = file_entry(dir, "weight", s.file_dtype, wshape, b.weight);
    const char* enc[2] = {"te", "oracle"};
    for (int e = 0; e < 2; ++e) {
      const std::string p = std::string(enc[e]) + "_";
      files[p + "q_weight"] = file_entry(dir, p + "q_weight", "uint32", qshape, b.q_weight[e]);
      files[p + "q_scale"] = file_entry(dir, p + "q_scale", s.file_dtype, sshape, b.q_scale[e]);
      files[p + "decoded"] = file_entry(dir, p + "decoded", s.file_dtype, wshape, b.decoded[e]);
    }
    json m{{"case", s.name},
           {"format", std::string("mlc_group_quant/") + s.preset},
           {"endianness", "little"},
           {"files", files},
           {"preset",
            {{"name", s.preset},
             {"group_size", s.gs},
             {"quantize_dtype", "int" + std::to_string(s.bits)},
             {"storage_dtype", "uint32"},
             {"model_dtype", s.model_dtype},
             {"linear_weight_layout", s.kn ? "KN" : "NK"},
             {"num_elem_per_storage", s.epw},
             {"num_storage_per_group", s.gs / s.epw},
             {"max_int_value", s.max_int}}},
           {"N", s.n},
           {"K", s.k},
           {"codes_differing_oracle_vs_te", b.codes_differing},
           {"codes_total", s.n * s.k}};
    write_manifest(s, m);
    return m;
  }
  void write_manifest(const Spec& s, const json& m) { std::ofstream(tmp_ / "src" / s.name / "manifest.json") << m.dump(1); }

  ImportReport run_import() { return import_vectors((tmp_ / "src").string(), (tmp_ / "out").string()); }
  fs::path fixture_path(const Spec& s, const std::string& enc) const {
    return tmp_ / "out" / "mlc" / (std::string(s.name) + "_" + enc + ".safetensors");
  }

  // Imports `s`, checks the fixtures hold the files' bytes and that verify passes them.
  void import_and_verify(const Spec& s) {
    const Built b = build(s);
    write_case(s, b);
    const ImportReport r = run_import();
    ASSERT_TRUE(r.ok()) << r.failed.front();
    ASSERT_EQ(2u, r.written.size());
    const char* enc[2] = {"te", "oracle"};
    for (int e = 0; e < 2; ++e) {
      SCOPED_TRACE(enc[e]);
      const Fixture fx = load_fixture(fixture_path(s, enc[e]).string());
      EXPECT_EQ(std::string("mlc_") + s.preset, fx.format_id);
      EXPECT_EQ(s.n, fx.rows);
      EXPECT_EQ(s.k, fx.cols);
      EXPECT_EQ(b.q_weight[e], fx.find("q_weight")->bytes);
      EXPECT_EQ(b.q_scale[e], fx.find("q_scale")->bytes);
      ASSERT_NE(nullptr, fx.find("source"));
      EXPECT_EQ(0, std::memcmp(b.source.data(), fx.find("source")->bytes.data(), b.source.size() * 4));
      const OwnedTensor* deq = fx.find("expect.dequant");
      ASSERT_NE(nullptr, deq);
      for (std::size_t i = 0; i < b.decoded_values[e].size(); ++i) {
        const double want = b.decoded_values[e][i];
        if (deq->dtype == DType::F16) {
          uint16_t h;
          std::memcpy(&h, &deq->bytes[2 * i], 2);
          ASSERT_EQ(bits16(want, s.model), h) << i;
        } else {
          float f;
          std::memcpy(&f, &deq->bytes[4 * i], 4);
          ASSERT_EQ(std::signbit(want), std::signbit(f)) << i;
          ASSERT_EQ(static_cast<float>(want), f) << i;
        }
      }
      const OwnedTensor* encode = fx.find("expect.encode");
      if (e == 0) {
        ASSERT_NE(nullptr, encode);
        std::vector<uint8_t> flat = b.q_weight[0];
        flat.insert(flat.end(), b.q_scale[0].begin(), b.q_scale[0].end());
        EXPECT_EQ(flat, encode->bytes);
      } else {
        EXPECT_EQ(nullptr, encode) << "quantize_np is no encoder oracle";
        EXPECT_NE(std::string::npos, fx.description.find("no expect.encode")) << fx.description;
      }
      std::ostringstream out;
      const Tally t = verify_fixture(fx, variants(), VerifyOptions{}, out);
      EXPECT_EQ(0, t.failed) << out.str();
      EXPECT_GT(t.passed, 0) << out.str();
      if (e == 0) {
        EXPECT_NE(std::string::npos, out.str().find("bytes identical to expect.encode")) << out.str();
      }
    }
  }

  // The q3f16_1 case with one manifest edit; the import must fail with `message` and write nothing.
  void expect_refused(const std::function<void(json&)>& edit, const std::string& message) {
    json m = write_case(kQ3, build(kQ3));
    edit(m);
    write_manifest(kQ3, m);
    const ImportReport r = run_import();
    ASSERT_EQ(1u, r.failed.size());
    EXPECT_NE(std::string::npos, r.failed[0].find(std::string(kQ3.name) + "/manifest.json: " + message)) << r.failed[0];
    EXPECT_TRUE(r.written.empty());
    EXPECT_FALSE(fs::exists(fixture_path(kQ3, "te")));
  }

  fs::path tmp_;
};

TEST_F(MlcImport, PaddedKNkQ3CaseImportsAndVerifies) { import_and_verify(kQ3); }

TEST_F(MlcImport, PaddedKKnBf16CaseImportsAndVerifies) { import_and_verify(kQ4bf16KN); }

TEST_F(MlcImport, ContainerCaseIsSkippedAndUnshippedCasesAreNamed) {
  write_case(kQ3, build(kQ3));
  const fs::path cache = tmp_ / "src" / "ndarray_cache_tiny";
  fs::create_directories(cache);
  std::ofstream(cache / "manifest.json") << json{{"format", "tvmjs ndarray-cache"}, {"cache_files", json::object()}}.dump();
  std::ofstream(tmp_ / "src" / "index.json") << json{{"cases", {kQ3.name, "ndarray_cache_tiny", "q4f32_1_2x64"}}}.dump();
  const ImportReport r = run_import();
  ASSERT_TRUE(r.ok()) << r.failed.front();
  EXPECT_EQ(2u, r.written.size());
  const auto has = [&](const std::string& needle) {
    return std::any_of(r.skipped.begin(), r.skipped.end(),
                       [&](const std::string& m) { return m.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has("ndarray_cache_tiny: skipped: container case: read by the tensor cache reader"));
  EXPECT_TRUE(has("q4f32_1_2x64: listed in index.json, not shipped"));
}

TEST_F(MlcImport, ScaleShapeAgainstTheLayoutIsRefused) {
  expect_refused([](json& m) { m["files"]["te_q_scale"]["shape"] = {4, 3}; },
                 "files.te_q_scale.shape: is [4, 3], the NK layout of q3f16_1 at N=4, K=53 needs [4, 2]");
}

TEST_F(MlcImport, KnFilesHoldingTheNkShapeAreRefused) {
  const Built b = build(kQ4bf16KN);
  json m = write_case(kQ4bf16KN, b);
  m["files"]["oracle_q_weight"]["shape"] = {5, 8};
  write_manifest(kQ4bf16KN, m);
  const ImportReport r = run_import();
  ASSERT_EQ(1u, r.failed.size());
  EXPECT_NE(std::string::npos,
            r.failed[0].find(std::string(kQ4bf16KN.name) +
                             "/manifest.json: files.oracle_q_weight.shape: is [5, 8], the KN layout of q4bf16_0 at N=5, "
                             "K=45 needs [8, 5]"))
      << r.failed[0];
  EXPECT_TRUE(r.written.empty());
}

TEST_F(MlcImport, Sha256MismatchIsRefused) {
  expect_refused([](json& m) { m["files"]["oracle_decoded"]["sha256"] = std::string(64, '0'); },
                 "files.oracle_decoded.sha256: mismatch for oracle_decoded.bin");
}

TEST_F(MlcImport, StatedKThatTheFilesContradictIsRefused) {
  expect_refused([](json& m) { m["K"] = 80; }, "files.weight.shape: is [4, 53], W [N, K] in float16 needs [4, 80]");
}

TEST_F(MlcImport, FileDtypeOtherThanTheModelDtypeIsRefused) {
  expect_refused([](json& m) { m["files"]["te_q_scale"]["dtype"] = "float32"; },
                 "files.te_q_scale.dtype: is float32, the NK layout of q3f16_1 at N=4, K=53 needs float16");
}

TEST_F(MlcImport, UnknownPresetIsRefused) {
  expect_refused([](json& m) { m["format"] = "mlc_group_quant/q5f16_1"; },
                 "format: preset 'q5f16_1' is none of MLC's group presets (q3f16_0, q3f16_1,");
}

TEST_F(MlcImport, PresetFieldsThatDisagreeWithThePresetAreRefused) {
  expect_refused([](json& m) { m["preset"]["group_size"] = 32; }, "preset.group_size: is 32, q3f16_1 has 40");
}

TEST_F(MlcImport, WrongCountOfDifferingCodesIsRefused) {
  expect_refused([](json& m) { m["codes_differing_oracle_vs_te"] = m["codes_differing_oracle_vs_te"].get<int64_t>() + 1; },
                 "codes_differing_oracle_vs_te: is ");
}

}  // namespace
}  // namespace qb::import

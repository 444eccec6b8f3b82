// The iq references against upstream's golden vectors (../shared/vectors/ggml/<type>, skipped
// when absent), and the decoders and GEMVs on hand-worked blocks: every expected value there is
// derived in the comments from the layouts of specs/ggml.md 3.20-3.29 (grid entries read from the
// tables, whose bytes tests/ggml_iq_tables_test.cpp checks against upstream), never from the code
// under test.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/prepared.h"
#include "harness/registry.h"
#include "reference/common/half.h"
#include "reference/ggml/iq1_m.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::ggml {
namespace {

QWeight weight(const char* fmt, std::vector<uint8_t>& blk) {
  QWeight w;
  w.format = find_format(fmt);
  w.rows = 1;
  w.cols = w.format->block_elems;
  w.tensors.push_back({"blocks", DType::U8, {1, static_cast<int64_t>(blk.size())}, blk.data(), blk.size()});
  return w;
}

std::vector<float> decode(const char* fmt, std::vector<uint8_t> blk) {
  const QWeight w = weight(fmt, blk);
  EXPECT_EQ(static_cast<int64_t>(blk.size()), w.format->block_bytes);
  std::vector<float> y(static_cast<std::size_t>(w.cols));
  w.format->dequant_ref(PreparedWeight(w).get(), 0, 1, y.data());
  return y;
}

float gemv(const char* fmt, std::vector<uint8_t> blk, const std::vector<uint8_t>& act) {
  const QWeight w = weight(fmt, blk);
  float y = 0;
  w.format->gemv_ref(PreparedWeight(w).get(), act.data(), 1, 0, 1, &y);
  return y;
}

// One q8_K block: d, every code `q`, bsums 16q.
std::vector<uint8_t> q8_K_block(float d, int8_t q) {
  BlockQ8_K b;
  b.d = d;
  std::memset(b.qs, static_cast<uint8_t>(q), sizeof b.qs);
  for (auto& s : b.bsums) s = static_cast<int16_t>(16 * q);
  std::vector<uint8_t> out(sizeof b);
  std::memcpy(out.data(), &b, sizeof b);
  return out;
}

namespace fs = std::filesystem;

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint32_t> as_words(const std::vector<uint8_t>& b) {
  std::vector<uint32_t> w(b.size() / 4);
  std::memcpy(w.data(), b.data(), w.size() * 4);
  return w;
}

std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> w;
  for (const float f : v) w.push_back(f32_to_bits(f));
  return w;
}

// Every stored encoding of every case decodes to upstream's to_float bits; the reference
// quantizer's bytes (encoding "ref", where upstream's are defined) are reproduced; the GEMV gives
// upstream's strict scalar vec_dot bits on the x86-quantized activation.
class GgmlIqUpstream : public ::testing::TestWithParam<const char*> {};

TEST_P(GgmlIqUpstream, EveryCaseMatches) {
  const fs::path dir = fs::path(QB_SOURCE_DIR "/../shared/vectors/ggml") / GetParam();
  if (!fs::exists(dir / "manifest.json")) GTEST_SKIP() << "GGML golden vectors not found at " << dir;
  const Format& f = *find_format(GetParam());
  const auto m = nlohmann::json::parse(std::ifstream(dir / "manifest.json"));
  const int64_t rows = m.at("rows"), cols = m.at("row_length");
  const auto act = read_bytes(dir / m.at("activation").at("quant_native").at("data").at("file").get<std::string>());
  int decoded = 0, encoded = 0, dotted = 0;
  for (const auto& c : m.at("cases")) {
    for (const auto& e : c.at("encodings")) {
      if (!e.contains("quant")) continue;  // identical_to an earlier one, or not stored
      const std::string id = e.at("id");
      SCOPED_TRACE(c.at("name").get<std::string>() + "." + id);
      auto blocks = read_bytes(dir / e.at("quant").at("file").get<std::string>());
      QWeight w;
      w.format = &f;
      w.rows = rows;
      w.cols = cols;
      w.tensors.push_back({"blocks", DType::U8, {rows, static_cast<int64_t>(blocks.size()) / rows}, blocks.data(), blocks.size()});
      std::vector<float> y(static_cast<std::size_t>(rows * cols));
      f.dequant_ref(PreparedWeight(w).get(), 0, rows, y.data());
      EXPECT_EQ(bits_of(y), as_words(read_bytes(dir / e.at("to_float").at("data").at("file").get<std::string>())));
      ++decoded;
      // Types that require an importance matrix have no plain reference quantizer: theirs is
      // ggml_quantize_chunk with an all-ones matrix, "imatrix1"; iq1_m has neither: "chunk".
      const std::string type = GetParam();
      const std::string oracle = m.at("requires_imatrix").get<bool>() ? "imatrix1" : type == "iq1_m" ? "chunk" : "ref";
      if (id == oracle && f.encode_ref && !e.contains("uninitialized_memory_dependent")) {
        const auto in = read_bytes(dir / c.at("input").at("file").get<std::string>());
        std::vector<float> x(in.size() / 4);
        std::memcpy(x.data(), in.data(), in.size());
        std::vector<std::vector<uint8_t>> t;
        f.encode_ref(x.data(), rows, cols, {}, t);
        EXPECT_EQ(t.at(0), blocks);
        ++encoded;
      }
      if (c.contains("vec_dot") && c.at("vec_dot").at("weights") == id) {
        for (const auto& r : c.at("vec_dot").at("results")) {
          if (r.at("kernel") != "strict" || r.at("activation") != "quant_native") continue;
          std::vector<float> dot(static_cast<std::size_t>(rows));
          f.gemv_ref(PreparedWeight(w).get(), act.data(), 1, 0, rows, dot.data());
          EXPECT_EQ(bits_of(dot), as_words(read_bytes(dir / r.at("data").at("file").get<std::string>())));
          ++dotted;
        }
      }
    }
  }
  EXPECT_GE(decoded, 8);
  EXPECT_GE(dotted, 8);
  EXPECT_NE(f.encode_ref, nullptr);
  EXPECT_GE(encoded, 6);
}

INSTANTIATE_TEST_SUITE_P(Types, GgmlIqUpstream,
                         ::testing::Values("iq4_nl", "iq4_xs", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s",
                                           "iq1_s", "iq1_m"),
                         [](const auto& info) { return std::string(info.param); });

void put_u16(std::vector<uint8_t>& b, int off, uint16_t v) { std::memcpy(&b[off], &v, 2); }
void put_u32(std::vector<uint8_t>& b, int off, uint32_t v) { std::memcpy(&b[off], &v, 4); }

TEST(GgmlIq4_NL, NibblesIndexTheNonLinearLevels) {
  // d = 0.5 (fp16 0x3800); byte 0 = 0xF0: element 0 = kv[0]*0.5 = -127*0.5 = -63.5, element 16 =
  // kv[15]*0.5 = 113*0.5 = 56.5; byte 1 = 0x98: element 1 = kv[8]*0.5 = 0.5, element 17 = 13*0.5.
  std::vector<uint8_t> b(18, 0x00);
  put_u16(b, 0, 0x3800);
  b[2] = 0xF0, b[3] = 0x98;
  const auto y = decode("iq4_nl", b);
  EXPECT_EQ(y[0], -63.5f);
  EXPECT_EQ(y[16], 56.5f);
  EXPECT_EQ(y[1], 0.5f);
  EXPECT_EQ(y[17], 6.5f);
  EXPECT_EQ(y[2], -63.5f);  // nibble 0 -> kv[0]
}

TEST(GgmlIq4_NL, EncoderPicksNearestLevelsTiesToTheHigher) {
  // x0 = -127 is the signed extreme: d0 = -127/-127 = 1 and id = 1, so element j's index is that
  // of the level nearest x_j. x1 = -116: 11 from -127, 12 from -104: index 0. x2 = -115.5: 11.5
  // from both, a tie: the higher index 1. x3 = 7: 6 from 1 and from 13, a tie: index 9 (13).
  // Zero elements: nearest level 1, index 8. Weights w = x^2, so only elements 0..3 count in the
  // LS scale sum(w q x)/sum(w q^2) = (127^4 + 116^3*127 + 115.5^3*104 + 7^3*13) /
  // (127^4 + 116^2*127^2 + 115.5^2*104^2 + 7^2*13^2) = 0.995419 (fp64), between fp16 0x3BF6
  // (0.995117) and 0x3BF7 (0.995605), above their midpoint 0.995361 by far more than fp32's
  // rounding of the sums: d = 0x3BF7.
  std::vector<float> x(32, 0.0f);
  x[0] = -127, x[1] = -116, x[2] = -115.5f, x[3] = 7;
  std::vector<std::vector<uint8_t>> t;
  find_format("iq4_nl")->encode_ref(x.data(), 1, 32, {}, t);
  ASSERT_EQ(t[0].size(), 18u);
  EXPECT_EQ(t[0][0], 0xF7);
  EXPECT_EQ(t[0][1], 0x3B);
  EXPECT_EQ(t[0][2], 0 | 8 << 4);
  EXPECT_EQ(t[0][3], 0 | 8 << 4);
  EXPECT_EQ(t[0][4], 1 | 8 << 4);
  EXPECT_EQ(t[0][5], 9 | 8 << 4);
  for (int j = 6; j < 18; ++j) EXPECT_EQ(t[0][j], 0x88) << j;
}

TEST(GgmlIq4_XS, SixBitScalesJoinLowNibblesAndHighPairs) {
  // d = 1. Sub-block 3: low nibble = high nibble of scales_l[1] = 5, high bits = scales_h bits
  // 6-7 = 2: ls = 5 | 2 << 4 = 37, dl = 37 - 32 = 5. qs[48] = 0x98: element 96 = 5*kv[8] = 5,
  // element 112 = 5*kv[9] = 65. Sub-block 7: scales_l[3] high nibble 15, scales_h bits 14-15 = 3:
  // ls = 63, dl = 31; its qs are 0 -> 31*kv[0] = -3937. Sub-block 0: all zero, ls = 0, dl = -32:
  // -32*kv[0] = 4064.
  std::vector<uint8_t> b(136, 0x00);
  put_u16(b, 0, 0x3C00);
  put_u16(b, 2, 2 << 6 | 3 << 14);
  b[4 + 1] = 0x50, b[4 + 3] = 0xF0;
  b[8 + 48] = 0x98;
  const auto y = decode("iq4_xs", b);
  EXPECT_EQ(y[96], 5.0f);
  EXPECT_EQ(y[112], 65.0f);
  EXPECT_EQ(y[97], 5.0f * -127);
  EXPECT_EQ(y[224], -3937.0f);
  EXPECT_EQ(y[0], 4064.0f);
}

TEST(GgmlIq2_XXS, SignIndexCarriesEvenParityAndScaleIsTopNibble) {
  // d = 1, 32-group 0: grid indices [1, 0, 0, 0], a = s << 28 | sign index 1 (group 0).
  // db = (1*(0.5 + 3))*0.25 = 0.875. ksigns_iq2xs[1]: bit 0 stored, one bit set is odd, so the
  // implied 8th sign is set: elements 0 and 7 negative. iq2xxs_grid[1] = 0x080808080808082b:
  // element 0 = 43, the others 8. y0 = -0.875*43 = -37.625, y1..y6 = 7, y7 = -7; group 1 (index
  // 0, sign index 0) all +7.
  std::vector<uint8_t> b(66, 0x00);
  put_u16(b, 0, 0x3C00);
  b[2] = 1;
  put_u32(b, 6, 3u << 28 | 1u);
  const auto y = decode("iq2_xxs", b);
  EXPECT_EQ(y[0], -37.625f);
  for (int j = 1; j < 7; ++j) EXPECT_EQ(y[j], 7.0f) << j;
  EXPECT_EQ(y[7], -7.0f);
  for (int j = 8; j < 16; ++j) EXPECT_EQ(y[j], 7.0f) << j;
  // Other 32-groups: s = 0, db = 0.125, grid 8: 1.0.
  EXPECT_EQ(y[32], 1.0f);
}

TEST(GgmlIq2_XXS, GemvAppliesTheFinalEighth) {
  // All-zero block but d = 1: every element (0.125*8) = 1. Activation d = 0.5, codes 2: each
  // product 1*1 = 1, sum 256. Upstream order: bsum = 8 groups * (2*0+1) * 32*(8*2) = 4096,
  // (1*0.5)*4096 = 2048, 0.125*2048 = 256.
  std::vector<uint8_t> b(66, 0x00);
  put_u16(b, 0, 0x3C00);
  EXPECT_EQ(gemv("iq2_xxs", b, q8_K_block(0.5f, 2)), 256.0f);
}

TEST(GgmlIq2_XS, NineBitIndexAndSevenBitSignIndex) {
  // Group 0: q = 1 | 127 << 9: grid index 1, ksigns_iq2xs[127] = 0xFF (7 bits set, odd: the
  // 8th is set too): all negative. scales[0] = 0x21: groups 0,1 s = 1, db = (1*1.5)*0.25 =
  // 0.375; groups 2,3 s = 2, db = 0.625. y0 = -0.375*43 = -16.125, y1 = -3. Group 1: q = 256
  // (bit 8 of the index, sign index 0): 0.375 * iq2xs_grid[256]'s bytes. Group 2: index 0: 5.
  std::vector<uint8_t> b(74, 0x00);
  put_u16(b, 0, 0x3C00);
  put_u16(b, 2, 1 | 127 << 9);
  put_u16(b, 4, 256);
  b[66] = 0x21;
  const auto y = decode("iq2_xs", b);
  EXPECT_EQ(y[0], -16.125f);
  EXPECT_EQ(y[1], -3.0f);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[8 + j], 0.375f * static_cast<float>(grid_u8(iq2xs_grid[256], j))) << j;
  EXPECT_EQ(y[16], 5.0f);
}

TEST(GgmlIq2_S, TenBitIndexAndFullSignByte) {
  // Group 0: qs[0] = 1, qh[0] bits 0-1 = 2: index 1 | 2 << 8 = 513. Sign byte qs[32] = 0x01:
  // element 0 alone negative (no parity bit). scale nibble 0: db = (1*0.5)*0.25 = 0.125.
  std::vector<uint8_t> b(82, 0x00);
  put_u16(b, 0, 0x3C00);
  b[2] = 1, b[66] = 2, b[34] = 0x01;
  const auto y = decode("iq2_s", b);
  EXPECT_EQ(y[0], -0.125f * static_cast<float>(grid_u8(iq2s_grid[513], 0)));
  for (int j = 1; j < 8; ++j) EXPECT_EQ(y[j], 0.125f * static_cast<float>(grid_u8(iq2s_grid[513], j))) << j;
  EXPECT_EQ(y[8], 1.0f);  // index 0: 0.125*8
}

TEST(GgmlIq3_XXS, TwoGridIndicesPerEightAndHalfScale) {
  // d = 1, 32-group 0 scale s = 1: db = (1*1.5)*0.5 = 0.75. qs[0] = 1 -> iq3xxs_grid[1] =
  // 0x04040414: elements 0-3 = 20, 4, 4, 4; qs[1] = 0 -> 4,4,4,4 for elements 4-7. Sign index 3:
  // bits 0, 1, even parity: elements 0, 1 negative. y = -15, -3, 3, 3, 3, 3, 3, 3.
  std::vector<uint8_t> b(98, 0x00);
  put_u16(b, 0, 0x3C00);
  b[2] = 1;
  put_u32(b, 2 + 64, 1u << 28 | 3u);
  const auto y = decode("iq3_xxs", b);
  const float want[8] = {-15, -3, 3, 3, 3, 3, 3, 3};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[j], want[j]) << j;
}

TEST(GgmlIq3_S, NinthIndexBitFromQhAndOddScale) {
  // d = 1, scales[0] low nibble 2: db = 1*(1 + 2*2) = 5. Group 0: qs[0] = 1 with qh[0] bit 0 ->
  // index 257 (elements 0-3), qs[1] = 0 with qh bit 1 clear -> index 0 = 0x01010101 (elements
  // 4-7). Sign byte 0x80: element 7 negative.
  std::vector<uint8_t> b(110, 0x00);
  put_u16(b, 0, 0x3C00);
  b[2] = 1, b[66] = 1, b[74] = 0x80, b[106] = 2;
  const auto y = decode("iq3_s", b);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(y[j], 5.0f * static_cast<float>(grid_u8(iq3s_grid[257], j))) << j;
  EXPECT_EQ(y[4], 5.0f);
  EXPECT_EQ(y[7], -5.0f);
}

TEST(GgmlIq1_S, ElevenBitIndexScaleAndShift) {
  // d = 1, qh[0] = 0x8000 | 3 << 12 | 1 << 3: ls = 2*3+1 = 7, shift -0.125; group 0: qs[0] = 1,
  // bits 0-2 = 0 -> index 1 = 0xffffffffffffff01: element 0 = +1, the others -1:
  // y0 = 7*(1 - 0.125) = 6.125, y1 = 7*(-1.125) = -7.875. Group 1: qs[1] = 0, bits 3-5 = 1 ->
  // index 256.
  std::vector<uint8_t> b(50, 0x00);
  put_u16(b, 0, 0x3C00);
  b[2] = 1;
  put_u16(b, 34, 0x8000 | 3 << 12 | 1 << 3);
  const auto y = decode("iq1_s", b);
  EXPECT_EQ(y[0], 6.125f);
  EXPECT_EQ(y[1], -7.875f);
  for (int j = 0; j < 8; ++j)
    EXPECT_EQ(y[8 + j], 7.0f * (static_cast<float>(grid_i8(iq1s_grid[256], j)) - 0.125f)) << j;
  // 32-group 1: qh = 0: ls = 1, shift +0.125, index 0 (all -1): -0.875.
  EXPECT_EQ(y[32], -0.875f);
}

TEST(GgmlIq1_S, GemvTakesTheShiftFromBsums) {
  // Zero block with d = 1: every element 1*(-1 + 0.125) = -0.875 (index 0, ls 1, shift +).
  // Activation d = 1, codes 1: sum = 256 * -0.875 = -224. Upstream: sumi = 8 * 1 * 32*(-1) =
  // -256, sumi1 = 8 * 1 * (+1) * (16 + 16) = 256, (1*1)*(-256 + 0.125*256) = -224.
  std::vector<uint8_t> b(50, 0x00);
  put_u16(b, 0, 0x3C00);
  EXPECT_EQ(gemv("iq1_s", b, q8_K_block(1.0f, 1)), -224.0f);
  // bsums are what the delta term reads: with them zeroed the shift contributes nothing (-256).
  auto act = q8_K_block(1.0f, 1);
  std::memset(act.data() + 260, 0, 32);
  EXPECT_EQ(gemv("iq1_s", b, act), -256.0f);
}

TEST(GgmlIq1_M, ScaleIsAssembledFromTheTopNibbles) {
  // fp16 1.0 = 0x3C00: nibbles (low to high) 0, 0, C, 3 are the top nibbles of words 0..3.
  // Word 0 low bits: 32-group 0's 3-bit scales t = 2 (bits 0-2), 5 (bits 3-5): ls 5 and 11.
  // qh[0] = 0x08: group 0 index bits 8-10 = 0, shift sign set (-0.125); group 1 (high nibble 0)
  // shift +0.125. qs[0] = 1: index 1, element 0 = +1, others -1.
  // y0 = 5*(1 - 0.125) = 4.375, y1 = 5*(-1.125) = -5.625; group 1 (index 0): 5*(-0.875) = -4.375;
  // group 2 (qh[1] = 0, index 0, second half scale 11): 11*(-0.875) = -9.625.
  std::vector<uint8_t> b(56, 0x00);
  b[0] = 1, b[32] = 0x08;
  put_u16(b, 48, 2 | 5 << 3);
  put_u16(b, 52, 0xC000);
  put_u16(b, 54, 0x3000);
  EXPECT_EQ(iq1_m_scale_bits(b.data()), 0x3C00);
  const auto y = decode("iq1_m", b);
  EXPECT_EQ(y[0], 4.375f);
  EXPECT_EQ(y[1], -5.625f);
  EXPECT_EQ(y[8], -4.375f);
  EXPECT_EQ(y[16], -9.625f);
  // 32-group 1 uses bits 6-11 of word 0 (zero): ls 1, 1; qh[2] = 0: -0.875.
  EXPECT_EQ(y[32], -0.875f);
}

}  // namespace
}  // namespace qb::ggml

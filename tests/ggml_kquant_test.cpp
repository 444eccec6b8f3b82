// The k-quant and ternary references (q2_K..q6_K, tq1_0, tq2_0) on hand-worked blocks: each
// decoder's bit unpacking and each encoder's all-zero block, values derived in the comments from
// specs/ggml.md 3.11-3.19, not from the code under test. The upstream vectors (verify) cover the
// rest: every case's decode, encode and strict-order GEMV bits.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/prepared.h"
#include "harness/registry.h"
#include "reference/common/half.h"
#include "reference/ggml/tq1_0.h"

namespace qb {
namespace {

// One block of `fmt` decoded by its reference.
std::vector<float> decode(const char* fmt, const std::vector<uint8_t>& blk) {
  QWeight w;
  w.format = find_format(fmt);
  EXPECT_NE(w.format, nullptr) << fmt;
  EXPECT_EQ(static_cast<int64_t>(blk.size()), w.format->block_bytes);
  w.rows = 1;
  w.cols = 256;
  w.tensors.push_back({"blocks", DType::U8, {1, static_cast<int64_t>(blk.size())}, blk.data(), blk.size()});
  std::vector<float> y(256);
  w.format->dequant_ref(PreparedWeight(w).get(), 0, 1, y.data());
  return y;
}

std::vector<uint8_t> encode(const char* fmt, const std::vector<float>& x) {
  std::vector<std::vector<uint8_t>> t;
  find_format(fmt)->encode_ref(x.data(), 1, static_cast<int64_t>(x.size()), {}, t);
  return t[0];
}

void put_f16(std::vector<uint8_t>& b, int off, uint16_t h) { std::memcpy(&b[off], &h, 2); }

constexpr uint16_t kOne = 0x3C00, kHalf = 0x3800;  // fp16 1.0, 0.5

TEST(ReferenceQ2_K, DecodeScalesMinsAndShifts) {
  // d = 1 @80, dmin = 0.5 @82. Element e = 128h + 32k + l is bits 2k..2k+1 of qs[32h + l]
  // (qs @16), sub-block 8h + 2k + (l >= 16), scale low nibble, min high nibble.
  std::vector<uint8_t> b(84, 0);
  put_f16(b, 80, kOne);
  put_f16(b, 82, kHalf);
  b[0] = 0x21;              // sub-block 0: scale 1, min 2
  b[16 + 0] = 0x03;         // e = 0: q = 3 -> 1*1*3 - 0.5*2 = 2
  b[5] = 0x13;              // sub-block 5 (h 0, k 2, l >= 16): scale 3, min 1
  b[16 + 16] = 2 << 4;      // e = 64 + 16 = 80: q = 2 -> 3*2 - 0.5 = 5.5
  b[10] = 0x07;             // sub-block 10 (h 1, k 1, l < 16): scale 7, min 0
  b[16 + 32 + 5] = 1 << 2;  // e = 128 + 32 + 5 = 165: q = 1 -> 7
  b[15] = 0xF0;             // sub-block 15: scale 0, min 15 -> every element -7.5
  const auto y = decode("q2_K", b);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[1], -1.0f);  // q = 0 -> 0 - 1
  EXPECT_EQ(y[80], 5.5f);
  EXPECT_EQ(y[79], 0.0f);  // e = 79 (k 2, l 15) is sub-block 4: scale 0, min 0
  EXPECT_EQ(y[165], 7.0f);
  EXPECT_EQ(y[255], -7.5f);
}

TEST(ReferenceQ3_K, DecodeSignedScalesAndHmask) {
  // d = 1 @108; scales @96. Scale i: low4 = i < 8 ? s[i] & 15 : s[i-8] >> 4, high2 = bits
  // 2(i/4).. of s[8 + i%4], value (low4 | high2 << 4) - 32: all-zero bytes give -32.
  // Level of e = 128h + 32k + l: bits 2k.. of qs[32h + l] (qs @32), minus 4 unless bit 4h + k
  // of hmask[l] (hmask @0) is set.
  std::vector<uint8_t> b(110, 0);
  put_f16(b, 108, kOne);
  b[96 + 0] = 0x01;             // scale 0: 33 = low4 1, high2 2 -> +1
  b[96 + 8] = 0x02;             //   high2 of scale 0 in bits 0-1 of s[8]
  b[96 + 5] = 0xE0;             // scale 13: 62 = low4 14 (high nibble of s[5]), high2 3 -> +30
  b[96 + 9] = 0xC0;             //   high2 of scale 13 (13 % 4 = 1, 13 / 4 = 3) in bits 6-7 of s[9]
  b[32 + 3] = 0x01;             // e = 3: low bits 1,
  b[3] = 0x01;                  //   hmask[3] bit 0 set: q = 1 -> 1*1 = 1
  b[32 + 32 + 16] = 3 << 4;     // e = 128 + 64 + 16 = 208 (scale 13): low bits 3,
  b[16] = 1 << 6;               //   hmask[16] bit 4*1 + 2 set: q = 3 -> 30*3 = 90
  b[32 + 32 + 17] = 2 << 4;     // e = 209: low bits 2, hmask clear: q = -2 -> -60
  const auto y = decode("q3_K", b);
  EXPECT_EQ(y[3], 1.0f);
  EXPECT_EQ(y[4], -4.0f);  // q = 0 - 4 under scale +1
  EXPECT_EQ(y[208], 90.0f);
  EXPECT_EQ(y[209], -60.0f);
  EXPECT_EQ(y[100], 128.0f);  // scale 6: all bits clear, (1*-32)*-4
}

// q4_K and q5_K share the scale packing (spec 3.11): sub-block 1 has scale q[1] & 63 = 5 and
// min q[5] & 63 = 3; sub-block 6 has scale (q[10] & 15) | (q[2] >> 6) << 4 = 5 | 2 << 4 = 37 and
// min (q[10] >> 4) | (q[6] >> 6) << 4 = 4 | 1 << 4 = 20. q[2] = 0x80 and q[6] = 0x40 leave
// sub-block 2's own scale and min (their low six bits) at 0.
std::vector<uint8_t> k4_block(int bytes, uint16_t d, uint16_t dmin) {
  std::vector<uint8_t> b(bytes, 0);
  put_f16(b, 0, d);
  put_f16(b, 2, dmin);
  uint8_t* q = &b[4];
  q[1] = 5, q[5] = 3, q[10] = 0x45, q[2] = 0x80, q[6] = 0x40;
  return b;
}

TEST(ReferenceQ4_K, DecodeScaleMinK4AndNibbles) {
  // d = 0.5, dmin = 1; qs @16: e = 64c + l is the low nibble of qs[32c + l], e = 64c + 32 + l
  // the high nibble; sub-block e / 32. y = (d*sc)*q - dmin*m.
  auto b = k4_block(144, kHalf, kOne);
  b[16 + 1] = 0x90;       // e = 33 (sub-block 1): q = 9 -> 2.5*9 - 3 = 19.5
  b[16 + 96 + 7] = 0x02;  // e = 199 (sub-block 6): q = 2 -> 18.5*2 - 20 = 17
  const auto y = decode("q4_K", b);
  EXPECT_EQ(y[33], 19.5f);
  EXPECT_EQ(y[1], 0.0f);  // sub-block 0: scale 0, min 0
  EXPECT_EQ(y[199], 17.0f);
  EXPECT_EQ(y[200], -20.0f);  // q = 0 in sub-block 6
  EXPECT_EQ(y[64], 0.0f);     // sub-block 2: the top bits of q[2], q[6] belong to sub-block 6
}

TEST(ReferenceQ5_K, DecodeHighBits) {
  // As q4_K with qh @16, qs @48: e = 64c + l adds 16 if bit 2c of qh[l], e = 64c + 32 + l if
  // bit 2c + 1. d = dmin = 1.
  auto b = k4_block(176, kOne, kOne);
  b[48 + 1] = 0x90;       // e = 33: low four bits 9
  b[16 + 1] = 0x02;       //   qh[1] bit 1 (c 0, high half): q = 25 -> 5*25 - 3 = 122
  b[48 + 96 + 7] = 0x02;  // e = 199: low four bits 2
  b[16 + 7] = 0x40;       //   qh[7] bit 6 (c 3, low half): q = 18 -> 37*18 - 20 = 646
  const auto y = decode("q5_K", b);
  EXPECT_EQ(y[33], 122.0f);
  EXPECT_EQ(y[1], 0.0f);  // sub-block 0: scale 0, min 0, whatever its level
  EXPECT_EQ(y[199], 646.0f);
}

TEST(ReferenceQ6_K, DecodeLowNibblesHighPairsAndScales) {
  // ql @0, qh @128, int8 scales @192, d @208 = 0.5. Half h, l < 32, L = ql + 64h, H = qh + 32h:
  // e = 128h + l: L[l] low | H[l] bits 0-1; +32: L[l+32] low | bits 2-3; +64: L[l] high | bits
  // 4-5; +96: L[l+32] high | bits 6-7; q = that - 32; y = (d*scale)*q.
  std::vector<uint8_t> b(210, 0);
  put_f16(b, 208, kHalf);
  b[192 + 0] = 1;                             // scale 0: +1
  b[192 + 14] = static_cast<uint8_t>(-3);     // scale 14: -3
  b[192 + 2] = 2;                             // scale 2
  b[64 + 2 + 32] = 0xA0;                      // e = 128 + 96 + 2 = 226: L[34] high nibble 10,
  b[128 + 32 + 2] = 0xC0;                     //   H[2] bits 6-7 = 3: q = 58 - 32 = 26 -> (0.5*-3)*26
  b[37] = 0x05;                               // e = 32 + 5 = 37: ql[37] low nibble 5,
  b[128 + 5] = 0x04;                          //   qh[5] bits 2-3 = 1: q = 21 - 32 = -11 -> (0.5*2)*-11
  const auto y = decode("q6_K", b);
  EXPECT_EQ(y[226], -39.0f);
  EXPECT_EQ(y[37], -11.0f);
  EXPECT_EQ(y[0], -16.0f);  // q = -32 under scale 1
}

TEST(ReferenceTQ1_0, TritsWrapModulo256) {
  // Trit n of byte b is ((uint8_t)(b*3^n) * 3) >> 8. For b = 184 = ceil(174*256/243),
  // 174 = 2*81 + 0*27 + 1*9 + 1*3 + 0: trits 2, 0, 1, 1, 0 (184*3 = 552 -> 2; 552 mod 256 = 40
  // -> 0; 184*9 mod 256 = 120 -> 1; 184*27 mod 256 = 104 -> 1; 184*81 mod 256 = 56 -> 0).
  // b = 250 = ceil(237*256/243), 237 = 2*81 + 2*27 + 2*9 + 1*3 + 0: 750 -> 2; 750 mod 256 = 238
  // -> 2; 2250 mod 256 = 202 -> 2; 6750 mod 256 = 94 -> 1; 20250 mod 256 = 26 -> 0. Without the
  // wrap trit 3 would read (6750*3) >> 8 = 79. b = 237 is no ceil(q*256/243) (q = 224 gives 236,
  // 225 gives 238) and still decodes: 237*3 = 711 -> 2; 199 -> 2; 85 -> 0; 255 -> 2; 253 -> 2.
  const int want184[5] = {2, 0, 1, 1, 0}, want250[5] = {2, 2, 2, 1, 0}, want237[5] = {2, 2, 0, 2, 2};
  for (int n = 0; n < 5; ++n) {
    EXPECT_EQ(ggml::tq1_0_trit(184, n), want184[n]) << n;
    EXPECT_EQ(ggml::tq1_0_trit(250, n), want250[n]) << n;
    EXPECT_EQ(ggml::tq1_0_trit(237, n), want237[n]) << n;
  }
}

TEST(ReferenceTQ1_0, EveryByteReadsTheBase3DigitsOfItsFraction) {
  // From first principles, for all 256 bytes (243..255 included: the quantizer's ceiling map
  // stores them, fixtures/edge/tq1_0 holds each in every position): the byte is the fraction
  // f = b/256, and ((uint8_t)(b*3^n) * 3) >> 8 = floor(3 * frac(3^n f)) is digit n of f in base 3,
  // so trits 0..4 are the five base-3 digits (most significant first) of floor(243 f) =
  // (243 b) >> 8, computed here by division, without the wrap.
  for (int b = 0; b < 256; ++b) {
    int q = (243 * b) >> 8;
    for (int n = 4; n >= 0; --n, q /= 3)
      EXPECT_EQ(ggml::tq1_0_trit(static_cast<uint8_t>(b), n), q % 3) << b << " " << n;
  }
}

TEST(ReferenceTQ1_0, DecodeMapping) {
  // qs @0, qh @48, d @52 = 0.5. qs[m] (m < 32) trit n -> e = 32n + m; qs[32 + m] (m < 16) ->
  // e = 160 + 16n + m; qh[j] trit n (n < 4) -> e = 240 + 4n + j. y = (t - 1)*d.
  // qh byte 146: trits 1, 2, 0, 1 (146*3 = 438 -> 1; 438 mod 256 = 182 -> 2; 1314 mod 256 = 34
  // -> 0; 3942 mod 256 = 102 -> 1). Byte 0 holds trits 0: y = -d.
  std::vector<uint8_t> b(54, 0);
  put_f16(b, 52, kHalf);
  b[3] = 250;       // e = 3, 35, 67, 99, 131: trits 2, 2, 2, 1, 0
  b[32 + 4] = 184;  // e = 164, 180, 196, 212, 228: trits 2, 0, 1, 1, 0
  b[48 + 1] = 146;  // e = 241, 245, 249, 253: trits 1, 2, 0, 1
  const auto y = decode("tq1_0", b);
  const float want3[5] = {0.5f, 0.5f, 0.5f, 0.0f, -0.5f}, want164[5] = {0.5f, -0.5f, 0.0f, 0.0f, -0.5f};
  for (int n = 0; n < 5; ++n) {
    EXPECT_EQ(y[32 * n + 3], want3[n]) << n;
    EXPECT_EQ(y[160 + 16 * n + 4], want164[n]) << n;
  }
  const float want241[4] = {0.0f, 0.5f, -0.5f, 0.0f};
  for (int n = 0; n < 4; ++n) EXPECT_EQ(y[240 + 4 * n + 1], want241[n]) << n;
  EXPECT_EQ(y[0], -0.5f);
}

TEST(ReferenceTQ2_0, DecodeMapping) {
  // qs @0, d @64 = 0.5: byte 32c + m holds e = 128c + 32n + m at bits 2n..2n+1; y = (q - 1)*d,
  // q = 3 gives +2d.
  std::vector<uint8_t> b(66, 0);
  put_f16(b, 64, kHalf);
  b[32 + 5] = 0x1B;  // 0b00'01'10'11: e = 133 -> q 3, 165 -> 2, 197 -> 1, 229 -> 0
  const auto y = decode("tq2_0", b);
  EXPECT_EQ(y[133], 1.0f);
  EXPECT_EQ(y[165], 0.5f);
  EXPECT_EQ(y[197], 0.0f);
  EXPECT_EQ(y[229], -0.5f);
  EXPECT_EQ(y[5], -0.5f);
}

// All-zero blocks. q2_K, q4_K, q5_K: make_qkx2_quants sees max == min == 0, so levels 0, scale
// 0, min -0; no positive max scale or min, so d = dmin = fp16(0) and every scale byte 0; the
// re-quantization skips sub-blocks whose d*scale is 0: every byte is 0. q3_K: make_q3_quants
// returns 0 with levels 0 (amax < 1e-15), max_scale 0 gives d = 0 and zero scale bytes; no level
// exceeds 3, so hmask and qs are 0. q6_K: max |scale| < 1e-15 zeroes the whole block.
TEST(ReferenceKQuants, AllZeroBlockEncodesToZeroBytes) {
  for (const char* fmt : {"q2_K", "q3_K", "q4_K", "q5_K", "q6_K"}) {
    const auto b = encode(fmt, std::vector<float>(256, 0.0f));
    EXPECT_EQ(b, std::vector<uint8_t>(b.size(), 0)) << fmt;
    EXPECT_EQ(static_cast<int64_t>(b.size()), find_format(fmt)->block_bytes) << fmt;
  }
}

TEST(ReferenceKQuants, AllZeroBytesDecodeToSignedZeros) {
  // q6_K: q = 0 - 32 and (0*0)*-32 = -0; q3_K: q = -4, scale -32: (0*-32)*-4 = (-0)*-4 = +0;
  // q2_K, q4_K, q5_K: (0*0)*0 - 0*0 = +0.
  for (const char* fmt : {"q2_K", "q3_K", "q4_K", "q5_K", "q6_K"}) {
    const auto y = decode(fmt, std::vector<uint8_t>(find_format(fmt)->block_bytes, 0));
    const bool negative = std::string(fmt) == "q6_K";
    for (int e = 0; e < 256; ++e) {
      ASSERT_EQ(y[e], 0.0f) << fmt << " " << e;
      ASSERT_EQ(std::signbit(y[e]), negative) << fmt << " " << e;
    }
  }
}

TEST(ReferenceTQ1_0, AllZeroBlockEncodesMiddleTrits) {
  // amax = 0: d = fp16(0), id = 0, every trit lroundf(0) + 1 = 1. Five ones: q = 121, byte
  // ceil(121*256/243) = ceil(127.47) = 128; qh's four ones shifted up: q = 40*3 = 120, byte
  // ceil(120*256/243) = ceil(126.42) = 127.
  const auto b = encode("tq1_0", std::vector<float>(256, 0.0f));
  ASSERT_EQ(b.size(), 54u);
  for (int j = 0; j < 48; ++j) EXPECT_EQ(b[j], 128) << j;
  for (int j = 48; j < 52; ++j) EXPECT_EQ(b[j], 127) << j;
  EXPECT_EQ(b[52], 0);
  EXPECT_EQ(b[53], 0);
}

TEST(ReferenceTQ1_0, EncodePacksTritsWithCeiling) {
  // amax = 1 (d = fp16 0x3C00, id = 1). Elements 0, 32, 64, 96, 128 = 1, -1, 0, 0, -1 give trits
  // 2, 0, 1, 1, 0: q = 174, qs[0] = ceil(174*256/243) = 184. Elements 241, 245, 249, 253 = 0, 1,
  // -1, 0: trits 1, 2, 0, 1, q = 46*3 = 138, qh[1] = ceil(138*256/243) = ceil(145.38) = 146.
  std::vector<float> x(256, 0.0f);
  x[0] = 1, x[32] = -1, x[128] = -1;
  x[245] = 1, x[249] = -1;
  const auto b = encode("tq1_0", x);
  EXPECT_EQ(b[0], 184);
  EXPECT_EQ(b[1], 128);
  EXPECT_EQ(b[48 + 1], 146);
  EXPECT_EQ(b[48 + 0], 127);
  EXPECT_EQ(b[52], 0x00);
  EXPECT_EQ(b[53], 0x3C);
}

TEST(ReferenceTQ2_0, AllZeroBlockEncodesMiddleCodes) {
  // amax = 0: d = fp16(0), every code lroundf(0) + 1 = 1: bytes 1 + 4 + 16 + 64 = 0x55.
  const auto b = encode("tq2_0", std::vector<float>(256, 0.0f));
  ASSERT_EQ(b.size(), 66u);
  for (int j = 0; j < 64; ++j) EXPECT_EQ(b[j], 0x55) << j;
  EXPECT_EQ(b[64], 0);
  EXPECT_EQ(b[65], 0);
}

}  // namespace
}  // namespace qb

// BitNet b1.58 x86 kernels for bitnet_i2_s and bitnet_hf (specs/bitnet.md 2, 3, 3.1): the pieces
// every kernel file shares. Each function carries its own target (AVX2, AVX-512 or AVX-512 VNNI);
// the code lives in an unnamed namespace, so each kernel file (and each mutant plugin built from
// one) compiles its own copy and a QB_MUTANT_ON site switches only in the kernel a mutant names.
// The bodies the two ISAs share are text included once per kernel file with its target
// (bitnet_dequant_body.inc over V8 / V16, bitnet_hf_gemv_body.inc around each file's packed_dot).
//
// Dequant: out = T * scale (T / scale for an HF weight whose scale_rule is divide), T = code - 1,
// as the reference writes it: the code (0..3; 3 is never written by converters, decodes as +2) is
// turned into the float T by vpermps on a table of the low 3 (AVX2) or 4 (AVX-512) index bits
// whose entry i holds (i & 3) - 1, so the neighbouring field above a code never matters; then one
// IEEE multiply or divide by the runtime scale, vector for scalar: the same bits, NaN payloads
// included.
//
// GEMV (m = 1): the kernels sum S = sum_k code_k * q_k over the raw codes 0..3 (u8, the unsigned
// operand of vpdpbusd / vpmaddubsw, q the signed one) and form the exact dot
// D = sum T q = S - sum_k q_k with sum q counted from the q bytes themselves (never the header's
// field, which the I2_S epilogue reads as a separate input), then apply bitnet.h's epilogue
// unchanged. A field may be isolated by a mask alone, without its shift, so that the u8 operand
// is code * 4^j (j <= 3): its sums are then 4^j times the field's, kept in lanes of their own
// that divide exactly by 4^j (an arithmetic shift) before they meet the other fields. No sum can
// wrap:
//  * AVX-512 VNNI: vpdpbusd adds 4 products |code 4^j q| <= 192 * 128 into an int32 lane without
//    saturation; a lane holds a bounded span of a row (each kernel file states it) so it stays
//    below 2^31 and divides exactly. Every later sum is an int32 add, exact modulo 2^32 in any
//    order, and the true D = S - sum q has |D| <= 256 cols < 2^31 for every cols the reference
//    admits (< 2^23), so D comes out exact, whatever the order (|S| <= 384 cols itself stays
//    below 2^31 up to cols 5.5M; beyond, its wrap cancels modulo 2^32 in S - sum q).
//  * AVX2: vpmaddubsw gives u q + u' q' in int16: |.| <= 2 * 12 * 128 = 3072 (u = code * 4 at
//    most), far from its saturation at 32767. Sums of those stay in int16 only while the bound
//    allows (stated at each site, never more than 32767), then vpmaddwd by 1 widens them to int32
//    lanes, which add as above. (A wrapped int16 sum is another matter: vpmaddwd sign-extends it,
//    so the lost multiple of 2^16 is not recovered modulo 2^32.)
// Upstream's AVX2 kernel keeps int16 sums over 32 blocks of 128 (bound 65536): all +1 codes
// against q = 127 wrap from cols 4096 on (spec 3.1); tests/bitnet_wrap_test.cpp plants that case.
#pragma once
#include "optimized/x86/intrinsics.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/stream_store.h"
#include "optimized/x86/target.h"
#include "reference/bitnet/bitnet.h"

namespace qb::x86::bitnetk {
namespace {

#define QB_BITNET_INLINE inline __attribute__((always_inline))

// The per-tensor scale and how T meets it (bitnet.h, spec 2.1).
struct Scale {
  float value;
  bool divide;
};
inline Scale i2s_weight_scale(const qb_weight* w) { return {bitnet::i2s_scale(w), false}; }
inline Scale hf_weight_scale(const qb_weight* w) {
  return {bitnet::bf16_scale(w), w->params[0] == static_cast<int64_t>(bitnet::ScaleRule::divide)};
}

// 64-byte aligned per-thread scratch (a GEMV call is one thread's rows), reused across calls.
inline uint8_t* scratch(std::size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<uint8_t*>((p + 63) & ~uintptr_t{63});
}

// The activation as the kernels see it: scale, header sum (the I2_S epilogue's input), the q bytes.
struct Act {
  float s;
  int32_t sum_hdr;
  const int8_t* q;
};
inline Act act_of(const uint8_t* act) { return {bitnet::act_scale(act), bitnet::act_sum(act), bitnet::act_q(act)}; }

// D = S - sum q modulo 2^32 (both exact int32 values of the true sums, so D is exact).
inline int32_t dot_of(int32_t s, int32_t sum_q) {
  return static_cast<int32_t>(static_cast<uint32_t>(s) - static_cast<uint32_t>(sum_q));
}

inline float hf_out(int32_t d, float s, Scale ws) {
  return ws.divide ? bitnet::epilogue_divide(d, s, ws.value) : bitnet::epilogue_multiply(d, s, ws.value);
}

// HF: packed row i holds output rows i + kP in field k (bits 2k+1:2k). A call covers packed rows
// [u0, u1) (Format::row_bands) and writes each one's fields below `rows` (padding fields are never
// written): fields 0 .. nf-1, nf falling from 4 as i nears P where rows is not a multiple of 4.
// Segments of packed rows with the same nf, in ascending order, are what the GEMVs and the decode
// walk.
struct HfSegment {
  int64_t i0, i1;  // packed rows
  int nf;          // fields 0 .. nf - 1
};
inline int hf_segments(int64_t rows, int64_t u0, int64_t u1, HfSegment* out) {
  const int64_t p = (rows + 3) / 4;
  int n = 0;
  for (int nf = 4; nf >= 1; --nf) {  // field nf-1 of packed row i exists iff i < rows - (nf-1) p
    const int64_t lo = nf == 4 ? u0 : std::max(u0, rows - nf * p), hi = std::min(u1, rows - (nf - 1) * p);
    if (lo < hi) out[n++] = {lo, hi, nf};
  }
  return n;
}

// ---- Dequant vector types (V8: AVX2, V16: AVX-512) -----------------------------------------
// What bitnet_dequant_body.inc needs of a vector width L: the T table, the widening load of L
// weight bytes, the decode of one field, and the last cols % L columns of an HF row.

struct V8 {
  using F = __m256;
  using I = __m256i;
  static constexpr int L = 8;
  // Entry i: (i & 3) - 1 for the 3 low index bits vpermps reads.
  QB_TARGET_AVX2 static QB_BITNET_INLINE F t_table() { return _mm256_setr_ps(-1, 0, 1, 2, -1, 0, 1, 2); }
  QB_TARGET_AVX2 static QB_BITNET_INLINE F set1(float v) { return _mm256_set1_ps(v); }
  // 8 bytes at p widened to int32 lanes.
  QB_TARGET_AVX2 static QB_BITNET_INLINE I bytes(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  // T * scale (T / scale) of the field at `shift` of each lane's byte b.
  template <bool kDivide>
  QB_TARGET_AVX2 static QB_BITNET_INLINE F decode(I b, int shift, F table, F sc) {
    const __m256 t = _mm256_permutevar8x32_ps(table, _mm256_srli_epi32(b, shift));
    return kDivide ? _mm256_div_ps(t, sc) : _mm256_mul_ps(t, sc);
  }
  // Columns [c, cols) (fewer than 8) of the fields at shift[f] of the packed row src into o[f],
  // one by one, as the reference decodes them.
  template <bool kDivide>
  QB_TARGET_AVX2 static QB_BITNET_INLINE void hf_tail(const uint8_t* src, int64_t c, int64_t cols, int nf,
                                                      float* const* o, const int* shift, F, F, Scale ws) {
    for (; c < cols; ++c)
      for (int f = 0; f < nf; ++f) {
        const auto t = static_cast<float>(((src[c] >> shift[f]) & 3) - 1);
        o[f][c] = kDivide ? t / ws.value : t * ws.value;
      }
  }
};

inline __mmask16 mask16(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

struct V16 {
  using F = __m512;
  using I = __m512i;
  static constexpr int L = 16;
  // Entry i: (i & 3) - 1 for the 4 low index bits vpermps reads.
  QB_TARGET_AVX512 static QB_BITNET_INLINE F t_table() {
    return _mm512_setr_ps(-1, 0, 1, 2, -1, 0, 1, 2, -1, 0, 1, 2, -1, 0, 1, 2);
  }
  QB_TARGET_AVX512 static QB_BITNET_INLINE F set1(float v) { return _mm512_set1_ps(v); }
  // n (<= 16) bytes at p widened to int32 lanes, zeros above.
  QB_TARGET_AVX512 static QB_BITNET_INLINE I bytes(const uint8_t* p, int64_t n = 16) {
    return _mm512_cvtepu8_epi32(n >= 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)) : _mm_maskz_loadu_epi8(mask16(n), p));
  }
  // T * scale (T / scale) of the field at `shift` of each lane's byte b.
  template <bool kDivide>
  QB_TARGET_AVX512 static QB_BITNET_INLINE F decode(I b, int shift, F table, F sc) {
    const __m512 t = _mm512_permutexvar_ps(_mm512_srli_epi32(b, shift), table);
    return kDivide ? _mm512_div_ps(t, sc) : _mm512_mul_ps(t, sc);
  }
  // Columns [c, cols) (fewer than 16) of the fields at shift[f] of the packed row src into o[f]:
  // one masked load widened once, one masked store per field.
  template <bool kDivide>
  QB_TARGET_AVX512 static QB_BITNET_INLINE void hf_tail(const uint8_t* src, int64_t c, int64_t cols, int nf,
                                                        float* const* o, const int* shift, F table, F sc, Scale) {
    const __m512i v = bytes(src + c, cols - c);
    for (int f = 0; f < nf; ++f)
      _mm512_mask_storeu_ps(o[f] + c, mask16(cols - c), decode<kDivide>(v, shift[f], table, sc));
  }
};

// ---- GEMV helpers ----------------------------------------------------------------------------

// Sum of n int8 q: vpmaddubsw by 1 (pairs, |.| <= 256) then vpmaddwd by 1 into int32 lanes.
QB_TARGET_AVX2 inline int32_t sum_q_avx2(const int8_t* q, int64_t n) {
  const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  int64_t c = 0;
  for (; c + 32 <= n; c += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + c));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(one8, x), one16));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  int32_t sum = _mm_cvtsi128_si32(s);
  for (; c < n; ++c) sum += q[c];
  return sum;
}

QB_TARGET_AVX2 QB_BITNET_INLINE int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// Sum of n int8 q: vpdpbusd of all-ones u8 with q (4 products of |q| <= 128 per int32 lane).
QB_TARGET_AVX512VNNI inline int32_t sum_q_vnni(const int8_t* q, int64_t n) {
  const __m512i one8 = _mm512_set1_epi8(1);
  __m512i acc = _mm512_setzero_si512();
  for (int64_t c = 0; c < n; c += 64) {
    const int64_t left = n - c;
    const __m512i x = left >= 64 ? _mm512_loadu_si512(q + c) : _mm512_maskz_loadu_epi8((~uint64_t{0}) >> (64 - left), q + c);
    acc = _mm512_dpbusd_epi32(acc, one8, x);
  }
  return _mm512_reduce_add_epi32(acc);
}

}  // namespace
}  // namespace qb::x86::bitnetk

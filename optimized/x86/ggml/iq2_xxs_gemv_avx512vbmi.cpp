// iq2_xxs x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4), 64 weights per register and
// no scalar table reads: the grid and the sign table live in registers and are read by byte
// permutes (specs/ggml.md 3.23; reference/ggml/iq2_xxs.cpp).
//
// Grid: each iq2xxs_grid entry is 8 magnitudes in {8, 25, 43}, so entry i is a 16-bit code of
// eight 2-bit level numbers (0, 1, 2), split into a low-byte and a high-byte table of 256 bytes
// (four registers each; vpermi2b reads 128 bytes by the index's low 7 bits, bit 7 picks the pair).
// All 64 qs bytes go through both lookups (the sign words' bytes give unused results). For each
// register of 64 weights (8 groups of 8), vpermi2b places group g's low and high code bytes in
// bytes 0 and 1 of qword g, vpmultishiftqb takes bits 2j.. of the qword into byte j, and vpermb
// maps its low two bits to 64 + level (bits above them index copies of the same entries).
// Signs: vpmultishiftqb takes the four 7-bit sign indices out of each group word into bytes, one
// vpermi2b reads ksigns_iq2xs (128 bytes) for all 32 groups; per register a vpermb spreads group
// g's sign byte over qword g and vptestmb turns it into the element mask. The dot and its
// exactness: iq_grid_vbmi.h. One FMA with d_w*d_x per block, upstream's 0.125f on the row sum, a
// 4-level lane tree: within iq_q8_K_rounding_depth as the AVX-512 kernel. Four rows share every
// activation block (kquant_gemv.h's row loop).
#define QB_KERNEL_TARGET QB_TARGET_AVX512VBMI
#include "optimized/x86/ggml/kquant_gemv.h"

#include "optimized/x86/intrinsics.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "optimized/mutation.h"
#include "optimized/x86/ggml/iq_grid_vbmi.h"
#include "optimized/x86/kernels.h"
#include "optimized/x86/target.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/iq2_xxs.h"
#include "reference/ggml/iq_tables.h"
#include "reference/ggml/q8_K_activation.h"

namespace qb::x86 {
namespace {

// The register tables, built once from the reference's grid and sign tables.
struct alignas(64) Tables {
  uint8_t code_lo[256], code_hi[256];  // level numbers of grid entry i, elements 0-3 and 4-7
  uint8_t ksigns[128];
  uint8_t level[64];  // 64 + magnitude of level number i & 3
};

Tables make_tables() {
  Tables s{};
  for (int i = 0; i < 256; ++i) {
    uint32_t code = 0;
    for (int j = 0; j < 8; ++j) {
      const int m = ggml::grid_u8(ggml::iq2xxs_grid[i], j);
      code |= static_cast<uint32_t>(m == 8 ? 0 : m == 25 ? 1 : 2) << (2 * j);
    }
    s.code_lo[i] = static_cast<uint8_t>(code);
    s.code_hi[i] = static_cast<uint8_t>(code >> 8);
  }
  std::memcpy(s.ksigns, ggml::ksigns_iq2xs, 128);
  static constexpr uint8_t kMag[4] = {8, 25, 43, 0};
  // Mutant iq2_xxs_vbmi_level_swap: level numbers 1 and 2 read as each other's magnitude.
  constexpr bool swap = QB_MUTANT_ON(iq2_xxs_vbmi_level_swap);
  for (int i = 0; i < 64; ++i) s.level[i] = static_cast<uint8_t>(64 + kMag[swap && (i & 3) ? 3 - (i & 3) : i & 3]);
  return s;
}

// Namespace-scope (the reference tables are constant-initialized, so they are ready before this
// dynamic initialization): no guard in the block loop.
const Tables kTables = make_tables();

// Byte p of 32-group ib, 8-group l in the 64 qs bytes: 8ib + l; register q's qword g is 8-group
// 8q + g, that is ib = 2q + g/4, l = g % 4.
constexpr int group_byte(int q, int g) { return 16 * q + 8 * (g / 4) + g % 4; }

// Per register q: the vpermi2b index placing its groups' code bytes, the vpermb index spreading
// their sign bytes, and the vpermd index of its lanes' scale dwords.
struct alignas(64) Selectors {
  uint8_t code[4][64], sign[4][64];
  int32_t scale[4][16];
};

Selectors make_selectors() {
  Selectors t;
  for (int q = 0; q < 4; ++q) {
    for (int g = 0; g < 8; ++g)
      for (int j = 0; j < 8; ++j) {
        // Byte 0 from the low-code source, byte 1 from the high one (vpermi2b index bit 6).
        t.code[q][8 * g + j] = static_cast<uint8_t>(group_byte(q, g) + (j == 1 ? 64 : 0));
        t.sign[q][8 * g + j] = static_cast<uint8_t>(group_byte(q, g));
      }
    // Lanes 0-7 are 32-group 2q, lanes 8-15 group 2q + 1: their words are dword 2ib + 1.
    for (int lane = 0; lane < 16; ++lane) t.scale[q][lane] = 2 * (2 * q + lane / 8) + 1;
  }
  return t;
}

const Selectors kSelectors = make_selectors();

struct Term : iq_vbmi::TermBase {
  static constexpr int64_t kBlock = sizeof(ggml::BlockIQ2_XXS);
  static constexpr float kRowScale = 0.125f;

  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk,
                                                                                 const uint8_t* xb, __m512 acc) {
    using iq_vbmi::load;
    const Tables& t = kTables;
    const Selectors& sel = kSelectors;
    const __m512i raw = _mm512_loadu_si512(blk + 2);
    const __mmask64 upper = _mm512_movepi8_mask(raw);  // index bit 7: entries 128..255
    const __m512i lo = iq_vbmi::lookup256(t.code_lo, raw, upper), hi = iq_vbmi::lookup256(t.code_hi, raw, upper);
    // Qword ib: sign index l at bits 32 + 7l (the group word), into byte l.
    // Mutant iq2_xxs_vbmi_sign_stride8: the sign indices read 8 bits apart.
    constexpr uint64_t kStride = QB_MUTANT_ON(iq2_xxs_vbmi_sign_stride8) ? 8 : 7;
    constexpr uint64_t kSignShifts = 32 | (32 + kStride) << 8 | (32 + 2 * kStride) << 16 | (32 + 3 * kStride) << 24;
    const __m512i sidx = _mm512_multishift_epi64_epi8(_mm512_set1_epi64(static_cast<int64_t>(kSignShifts)), raw);
    const __m512i signs = _mm512_permutex2var_epi8(load(t.ksigns), sidx, load(t.ksigns + 64));
    // Dword 2ib + 1 (the group word): 2s + 1 from its top four bits.
    const __m512i scales = _mm512_ternarylogic_epi32(_mm512_srli_epi32(raw, 27), _mm512_set1_epi32(0x1E),
                                                     _mm512_set1_epi32(1), 0xEA);  // (a & b) | c
    const __m512i shifts = _mm512_set1_epi64(0x0E0C0A0806040200);
    const __m512i bit = _mm512_set1_epi64(static_cast<int64_t>(0x8040201008040201));
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const __m512i codes = _mm512_multishift_epi64_epi8(shifts, _mm512_permutex2var_epi8(lo, load(sel.code[q]), hi));
      const __mmask64 neg = _mm512_test_epi8_mask(_mm512_permutexvar_epi8(load(sel.sign[q]), signs), bit);
      isum = iq_vbmi::dot64(isum, codes, t.level, neg, _mm512_permutexvar_epi32(load(sel.scale[q]), scales), xb, q);
    }
    return finish(blk, xb, isum, acc);
  }
};

}  // namespace

QB_TARGET_AVX512VBMI void iq2_xxs_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                  int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

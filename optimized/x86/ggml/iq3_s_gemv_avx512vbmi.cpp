// iq3_s x q8_K GEMV at the AVX-512 VBMI level (Ice Lake / Zen 4), 64 weights per register, the
// grid in registers and read by byte permutes (specs/ggml.md 3.27; reference/ggml/iq3_s.cpp).
//
// Grid: each iq3s_grid entry is 4 magnitudes in {1, 3, ..., 15}, so entry i is a 12-bit code of
// four 3-bit level numbers c (m = 2c + 1), split into a low-byte and a high-nibble table of 512
// bytes (eight registers each). The 64 qs bytes are the indices' low 8 bits and qh, read as one
// 64-bit mask, their bit 8 (bit 8ib + k of qh is bit 8 of index 8ib + k); vpermi2b reads 128
// entries by the low 7 bits, bits 7 and 8 pick among four by two blends. For each register of 64
// weights (16 entries), vpermi2b places the low and high code bytes of entries 2g and 2g + 1 in
// bytes 0-3 of qword g, vpmultishiftqb takes bits 3j and 16 + 3j into bytes j and 4 + j, and
// vpermb maps their low three bits to 64 + m. The sign bits are stored one per element in element
// order: register q's mask is the 64-bit word signs[8q..8q+7]. The dot and its exactness:
// iq_grid_vbmi.h. One FMA with d_w*d_x per block, a 4-level lane tree: within
// iq_q8_K_rounding_depth as the AVX-512 kernel. Four rows share every activation block
// (kquant_gemv.h's row loop).
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
#include "reference/ggml/iq3_s.h"
#include "reference/ggml/iq_tables.h"

namespace qb::x86 {
namespace {

constexpr int kQs = 2, kQh = 66, kSigns = 74, kScales = 106;  // byte offsets in the block

// The register tables, built from the reference's grid.
struct alignas(64) Tables {
  uint8_t code_lo[512], code_hi[512];  // bits 0-7 and 8-11 of entry i's level numbers (3 bits each)
  uint8_t level[64];                   // 64 + magnitude of level number i & 7
};

Tables make_tables() {
  Tables s{};
  for (int i = 0; i < 512; ++i) {
    uint32_t code = 0;
    for (int j = 0; j < 4; ++j) code |= static_cast<uint32_t>(ggml::grid_u8(ggml::iq3s_grid[i], j) / 2) << (3 * j);
    s.code_lo[i] = static_cast<uint8_t>(code);
    s.code_hi[i] = static_cast<uint8_t>(code >> 8);
  }
  for (int i = 0; i < 64; ++i) s.level[i] = static_cast<uint8_t>(64 + 2 * (i & 7) + 1);
  return s;
}

// Namespace-scope (the reference tables are constant-initialized, so they are ready before this
// dynamic initialization): no guard in the block loop.
const Tables kTables = make_tables();

// Per register q: the vpermi2b index placing its entries' code bytes (qword g: low and high byte of
// entry 16q + 2g, then of 16q + 2g + 1), and the vpermd index of its lanes' scale dwords (lanes 0-7
// are 32-group 2q, lanes 8-15 group 2q + 1).
struct alignas(64) Selectors {
  uint8_t code[4][64];
  int32_t scale[4][16];
};

Selectors make_selectors() {
  Selectors t;
  for (int q = 0; q < 4; ++q) {
    for (int g = 0; g < 8; ++g)
      for (int j = 0; j < 8; ++j) {
        const int entry = 16 * q + 2 * g + (j / 2) % 2;
        t.code[q][8 * g + j] = static_cast<uint8_t>(entry + (j % 2 ? 64 : 0));  // odd bytes: the high source
      }
    for (int lane = 0; lane < 16; ++lane) t.scale[q][lane] = 2 * q + lane / 8;
  }
  return t;
}

const Selectors kSelectors = make_selectors();

struct Term : iq_vbmi::TermBase {
  static constexpr int64_t kBlock = sizeof(ggml::BlockIQ3_S);

  // Bytes of the 512-byte table t for the 9-bit indices idx | bit8 << 8 (upper: the indices' bit 7).
  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512i lookup512(const uint8_t* t, __m512i idx,
                                                                                      __mmask64 upper,
                                                                                      __mmask64 bit8) {
    return _mm512_mask_blend_epi8(bit8, iq_vbmi::lookup256(t, idx, upper), iq_vbmi::lookup256(t + 256, idx, upper));
  }

  QB_TARGET_AVX512VBMI static inline __attribute__((always_inline)) __m512 block(const uint8_t* blk,
                                                                                 const uint8_t* xb, __m512 acc) {
    using iq_vbmi::load;
    const Tables& t = kTables;
    const Selectors& sel = kSelectors;
    const __m512i raw = _mm512_loadu_si512(blk + kQs);
    const __mmask64 upper = _mm512_movepi8_mask(raw);
    uint64_t qh;
    std::memcpy(&qh, blk + kQh, 8);
    // Mutant iq3_s_vbmi_bit8_dropped: bit 8 of every index ignored (entries 256..511 read as 0..255).
    const __mmask64 bit8 = _cvtu64_mask64(QB_MUTANT_ON(iq3_s_vbmi_bit8_dropped) ? 0 : qh);
    const __m512i lo = lookup512(t.code_lo, raw, upper, bit8), hi = lookup512(t.code_hi, raw, upper, bit8);
    // Dword ib (0..7): 2s + 1 from nibble ib of the scales word.
    uint32_t sw;
    std::memcpy(&sw, blk + kScales, 4);
    // Mutant iq3_s_vbmi_scale_nibble_swap: group ib's scale read from the other nibble of its byte.
    constexpr int kSwap = QB_MUTANT_ON(iq3_s_vbmi_scale_nibble_swap) ? 4 : 0;
    const __m512i nib = _mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int32_t>(sw)),
                                          _mm512_setr_epi32(0 ^ kSwap, 4 ^ kSwap, 8 ^ kSwap, 12 ^ kSwap, 16 ^ kSwap,
                                                            20 ^ kSwap, 24 ^ kSwap, 28 ^ kSwap, 0, 0, 0, 0, 0, 0, 0, 0));
    const __m512i scales = _mm512_ternarylogic_epi32(_mm512_add_epi32(nib, nib), _mm512_set1_epi32(0x1E),
                                                     _mm512_set1_epi32(1), 0xEA);  // (a & b) | c
    const __m512i shifts = _mm512_set1_epi64(0x1916131009060300);  // bytes: 0, 3, 6, 9, 16, 19, 22, 25
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const __m512i codes = _mm512_multishift_epi64_epi8(shifts, _mm512_permutex2var_epi8(lo, load(sel.code[q]), hi));
      uint64_t signs;
      std::memcpy(&signs, blk + kSigns + 8 * q, 8);
      isum = iq_vbmi::dot64(isum, codes, t.level, _cvtu64_mask64(signs),
                            _mm512_permutexvar_epi32(load(sel.scale[q]), scales), xb, q);
    }
    return finish(blk, xb, isum, acc);
  }
};

}  // namespace

QB_TARGET_AVX512VBMI void iq3_s_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t, int64_t r0,
                                                int64_t r1, float* y) {
  kquant::gemv<Term>(w, act, r0, r1, y);
}

}  // namespace qb::x86

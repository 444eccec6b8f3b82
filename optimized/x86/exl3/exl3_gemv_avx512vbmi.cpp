// EXL3 small-batch GEMV, AVX-512 VBMI: same structure as exl3_gemv_avx512.cpp (tile rows as
// 16-lane groups, one FMA per decoded vector and activation vector), cheaper state extraction and
// hash.
//
// States. Tile row r holds positions t = 32a + 4b + rho(r) (a = 0..7, b = 0..1, rho in
// {0..3, 8..11, 16..19, 24..27}), so in every (32K)-bit chunk a of the stream the two windows of
// row r sit at the same offsets. Rows with rho in one block of 4 (or 2 for K > 5) have all
// their windows inside one 64-bit span per chunk. One vpermt2b per block builds a vector whose
// qword a is that span of chunk a (stream bytes in big-endian order, tail-biting wrap included in
// the byte indices); then one vpmultishiftqb per row cuts out the two 16-bit windows of each
// qword, each written twice into its dword ("dup" = st * 0x10001).
//
// Hash. With dup instead of st, x = st*M is one vpmulld: dup * (M * (1 - 2^16)) = st * M
// (mod 2^32); vpsrad and vpmaddwd put its two fp16 halves at fp32 position and one vpternlogd each
// gives their fp32 pattern (see exl3_x86_common.h). Lane order is 2a + b = column a + 8b; the
// accumulators keep that order and are put back in column order before the output WHT.
//
// Cost per 16 weights (mcg, K <= 5): vpmultishiftqb, vpmulld, vpsrad, vpmaddwd, 2 vpternlogd,
// vaddps, vmulps + vsubps (Ŵ * 2^-13), 1 FMA per activation vector = 10 zmm ops, plus 1/4
// vpermt2b (K <= 4) — against ~11 + tile overhead in exl3_gemv_avx512.cpp. The two run about
// equally fast at K = 4 on Zen 5 (the benches time both); at K = 8 the extra vpermt2b and blends
// of the Big / NV = 2 path make this one the slower.
#include <algorithm>
#include <array>
#include <cassert>

#include "optimized/x86/exl3/exl3_dispatch.h"
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "optimized/mutation.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

// Data vector of row r: blocks of 4 consecutive rho (NV = 1) or halves of them (NV = 2).
constexpr int dv_of_row(int r, int nv) {
  const int rho = rho_of_row(r);
  return nv == 1 ? rho / 8 : 2 * (rho / 8) + ((rho % 4) >> 1);
}

// Data vectors per block of 4 rho: 1 while the windows of 4 consecutive rho fit in 64 bits (K <= 5).
constexpr int nv_of(int K) { return 7 * K + 16 + 7 <= 64 ? 1 : 2; }

struct Plan {
  alignas(64) uint8_t idx[8][64];   // byte index into the tile (mod 128, per zmm pair)
  uint64_t upper[8];                // bytes taken from tile bytes 128..255 (K > 4)
  alignas(64) uint8_t ctrl[16][64];  // vpmultishiftqb control per row
};

inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

inline void build_plan(int K, Plan& P) {
  const int nv = nv_of(K);
  const int nb = 32 * K;  // tile bytes
  const int ndv = 4 * nv;
  for (int dv = 0; dv < ndv; ++dv) {
    const int g = nv == 1 ? dv : dv / 2;
    const int s_lo = nv == 1 ? 0 : 2 * (dv % 2), s_hi = nv == 1 ? 3 : s_lo + 1;
    const int w_lo = (8 * g + s_lo + 1) * K - 16;  // first window bit, relative to the chunk
    const int w_end = (8 * g + s_hi + 1) * K + 4 * K;  // one past the last
    const int D = 8 * floor_div(w_lo, 8);
    assert(w_end - D <= 64);
    (void)w_end;
    P.upper[dv] = 0;
    for (int a = 0; a < 8; ++a)
      for (int j = 0; j < 8; ++j) {
        int sb = D / 8 + 4 * a * K + 7 - j;
        sb = ((sb % nb) + nb) % nb;
        const int mb = 4 * (sb / 4) + 3 - sb % 4;
        P.idx[dv][8 * a + j] = static_cast<uint8_t>(mb & 127);
        if (mb >= 128) P.upper[dv] |= uint64_t{1} << (8 * a + j);
      }
  }
  for (int r = 0; r < 16; ++r) {
    const int rho = rho_of_row(r), dv = dv_of_row(r, nv);
    const int g = nv == 1 ? dv : dv / 2;
    const int s_lo = nv == 1 ? 0 : 2 * (dv % 2);
    const int D = 8 * floor_div((8 * g + s_lo + 1) * K - 16, 8);
    const int w0 = (rho + 1) * K - 16;
    for (int a = 0; a < 8; ++a)
      for (int b = 0; b < 2; ++b) {
        const int sh = 48 - (w0 + 4 * b * K - D);
        assert(sh >= 0 && sh + 16 <= 64);
        for (int h = 0; h < 2; ++h) {
          P.ctrl[r][8 * a + 4 * b + 2 * h] = static_cast<uint8_t>(sh);
          P.ctrl[r][8 * a + 4 * b + 2 * h + 1] = static_cast<uint8_t>(sh + 8);
        }
      }
  }
}

// The plans of K = 1..8, built on first use (plain scalar code, shared by all threads).
// noinline: gemv_rows then gets the plan as an opaque pointer, as from a parameter. Inlined, GCC
// sees a static array indexed by K and keeps one address per control row in registers, spilling
// inside the tile loop.
__attribute__((noinline)) const Plan& plan_of(int K) {
  static const std::array<Plan, kMaxK> plans = [] {
    std::array<Plan, kMaxK> p{};
    for (int k = 1; k <= kMaxK; ++k) build_plan(k, p[k - 1]);
    return p;
  }();
  return plans[K - 1];
}

// Bytes of the tile stream prefetched ahead. The masked tile loads alone leave the hardware
// prefetchers idle: DRAM-resident weights ran at a third of the cache-resident speed (Zen 5).
constexpr int64_t kPrefetchAhead = 1024;

constexpr uint32_t dup_mul(uint32_t m) { return m * (1u - 65536u); }

template <exl3::Codebook CB>
QB_TARGET_AVX512VBMI QB_EXL3_INLINE __m512 decode_dup(__m512i dup) {
  if constexpr (CB == exl3::Codebook::mul1)
    return round_fp16_scaled_z(mul1_value_z(_mm512_mullo_epi32(dup, _mm512_set1_epi32((int)dup_mul(kMulMul1)))));
  constexpr uint32_t M = CB == exl3::Codebook::mcg ? kMulMcg : kMul3inst;
  __m512i x = _mm512_mullo_epi32(dup, _mm512_set1_epi32((int)dup_mul(M)));
  if constexpr (CB == exl3::Codebook::inst3) x = _mm512_add_epi32(x, _mm512_set1_epi32((int)kAdd3inst));
  return round_fp16_scaled_z(halves_sum_z(x));
}

template <exl3::Codebook CB, bool Big, int NV, int M>
QB_TARGET_AVX512VBMI void gemv_rows(const Args& G, const float* xh, int64_t r0, int64_t r1, float* acc, float* y) {
  const Plan& P = plan_of(G.K);
  const int64_t k = G.k, tiles_k = k / 16, j0 = r0 / 16, nj = (r1 - r0) / 16;
  const int nw = 8 * G.K;
  const __mmask16 m0 = nw >= 16 ? 0xFFFF : (__mmask16)((1u << nw) - 1);
  const __mmask16 m1 = nw >= 32 ? 0xFFFF : nw <= 16 ? 0 : (__mmask16)((1u << (nw - 16)) - 1);
  const __mmask16 m2 = nw >= 48 ? 0xFFFF : nw <= 32 ? 0 : (__mmask16)((1u << (nw - 32)) - 1);
  const __mmask16 m3 = nw >= 64 ? 0xFFFF : nw <= 48 ? 0 : (__mmask16)((1u << (nw - 48)) - 1);
  constexpr int NDV = 4 * NV;
  constexpr int NT = M <= 2 && !(Big && NV == 2) ? 2 : 1;  // nj is a multiple of 8
  (void)m2;
  (void)m3;
  __m512i idx[NDV];
  __mmask64 up[NDV];
  for (int d = 0; d < NDV; ++d) {
    idx[d] = _mm512_load_si512(P.idx[d]);
    up[d] = P.upper[d];
  }
  std::fill(acc, acc + nj * M * 16, 0.0f);
  const int64_t tb = G.tile_bytes();
  for (int64_t i = 0; i < tiles_k; ++i) {
    const uint8_t* base = G.tile(i, j0);
    const float* xr = xh + 16 * i;
    // NT tiles side by side: their rows interleave (more independent work in flight) and share
    // the control loads.
    for (int64_t jj = 0; jj < nj; jj += NT) {
      __m512i data[NT][NDV];
      for (int u = 0; u < NT; ++u) {
        const uint8_t* p = base + (jj + u) * tb;
        for (int64_t q = 0; q < tb; q += 64) _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchAhead + q), _MM_HINT_T0);
        const __m512i w0 = _mm512_maskz_loadu_epi32(m0, p), w1 = _mm512_maskz_loadu_epi32(m1, p + 64);
        if constexpr (Big) {
          const __m512i w2 = _mm512_maskz_loadu_epi32(m2, p + 128), w3 = _mm512_maskz_loadu_epi32(m3, p + 192);
          for (int d = 0; d < NDV; ++d)
            data[u][d] = _mm512_mask_blend_epi8(up[d], _mm512_permutex2var_epi8(w0, idx[d], w1),
                                                _mm512_permutex2var_epi8(w2, idx[d], w3));
        } else {
          for (int d = 0; d < NDV; ++d) data[u][d] = _mm512_permutex2var_epi8(w0, idx[d], w1);
        }
      }
      float* ac = acc + jj * M * 16;
      __m512 a[NT][M];
      for (int u = 0; u < NT; ++u)
        for (int mm = 0; mm < M; ++mm) a[u][mm] = _mm512_load_ps(ac + (u * M + mm) * 16);
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r) {
        const __m512i ctrl = _mm512_load_si512(P.ctrl[r]);
        for (int u = 0; u < NT; ++u) {
          const __m512 v = decode_dup<CB>(_mm512_multishift_epi64_epi8(ctrl, data[u][dv_of_row(r, NV)]));
          for (int mm = 0; mm < M; ++mm) a[u][mm] = _mm512_fmadd_ps(_mm512_set1_ps(xr[mm * k + r]), v, a[u][mm]);
        }
      }
      for (int u = 0; u < NT; ++u)
        for (int mm = 0; mm < M; ++mm) _mm512_store_ps(ac + (u * M + mm) * 16, a[u][mm]);
    }
  }
  // Lane 2a + b holds column a + 8b.
  alignas(64) int32_t unperm[16];
  for (int c = 0; c < 16; ++c) unperm[c] = QB_MUTANT_ON(exl3_vbmi_lane_order) ? c : 2 * (c & 7) + (c >> 3);
  const __m512i up_idx = _mm512_load_si512(unperm);
  output_transform_z(G, acc, M, r0, r1, up_idx, y);
}

struct Vbmi {
  static constexpr auto input_transform = input_transform_z;
  // Big: the tile spans 4 zmm (K > 4).
  template <exl3::Codebook CB, int K, int M>
  struct Rows {
    static constexpr GemvRowsFn fn = gemv_rows<CB, (K > 4), nv_of(K), M>;
  };
};

}  // namespace

void exl3_gemv_avx512vbmi(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  exl3k::gemv<Vbmi>(w, act, m, r0, r1, y);
}

}  // namespace qb::x86

// EXL3 inner decode (Ŵ^T, exact fp16 values as fp32), AVX-512. Groups are tile columns, so each
// decoded vector is 16 consecutive k of one output row and goes out with one store.
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

template <exl3::Codebook CB, bool Big>
QB_TARGET_AVX512 void inner_rows(const Args& G, const Tables& T, int64_t r0, int64_t r1, float* out) {
  for (int64_t j = r0 / 16; j < r1 / 16; ++j)
    for (int64_t i = 0; i < G.k / 16; ++i) {
      const TileZ t = load_tile_z<Big>(G.tile(i, j), G.K);
      float* o = out + 16 * j * G.k + 16 * i;
      for (int c = 0; c < 16; ++c) _mm512_storeu_ps(o + c * G.k, decode_z<CB, Big>(t, T, c));
    }
}

using RowsFn = void (*)(const Args&, const Tables&, int64_t, int64_t, float*);
template <exl3::Codebook CB>
constexpr RowsFn pick(bool big) { return big ? inner_rows<CB, true> : inner_rows<CB, false>; }

}  // namespace

void exl3_inner_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Args G = exl3::args_of(w);
  Tables T;
  build_tables(G.K, T);
  const bool big = G.K > 4;
  const RowsFn fn = G.cb == exl3::Codebook::mcg    ? pick<exl3::Codebook::mcg>(big)
                    : G.cb == exl3::Codebook::mul1 ? pick<exl3::Codebook::mul1>(big)
                                                   : pick<exl3::Codebook::inst3>(big);
  fn(G, T, r0, r1, out);
}

}  // namespace qb::x86

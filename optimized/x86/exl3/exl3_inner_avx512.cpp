// EXL3 inner decode (Ŵ^T, exact fp16 values as fp32), AVX-512. Groups are tile columns, so each
// decoded vector is 16 consecutive k of one output row and goes out with one store.
#include "optimized/x86/exl3/exl3_dispatch.h"
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

struct Kernel {
  // Big: the tile spans 4 zmm (K > 4).
  template <exl3::Codebook CB, int K, int>
  struct Rows {
    static constexpr auto fn = inner_rows<CB, (K > 4)>;
  };
};

}  // namespace

void exl3_inner_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Args G = exl3::args_of(w);
  Tables T;
  build_tables(G.K, T);
  Dispatch<Kernel>::pick(G.cb, G.K)(G, T, r0, r1, out);
}

}  // namespace qb::x86

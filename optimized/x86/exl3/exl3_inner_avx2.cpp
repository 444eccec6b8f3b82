// EXL3 inner decode (Ŵ^T, exact fp16 values as fp32), AVX2: tiles decoded row by row from the
// chunk-transposed words (exl3_x86_common.h, TileY) and written transposed.
#include "optimized/x86/exl3/exl3_dispatch.h"
#include "optimized/x86/exl3/exl3_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

template <exl3::Codebook CB, int K>
QB_TARGET_AVX2 void inner_rows(const Args& G, int64_t r0, int64_t r1, float* out) {
  for (int64_t j = r0 / 16; j < r1 / 16; ++j)
    for (int64_t i = 0; i < G.k / 16; ++i) decode_tile_t_y<CB, K>(G.tile(i, j), out + 16 * j * G.k + 16 * i, G.k);
}

struct Kernel {
  template <exl3::Codebook CB, int K, int>
  struct Rows {
    static constexpr auto fn = inner_rows<CB, K>;
  };
};

}  // namespace

void exl3_inner_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  const Args G = exl3::args_of(w);
  Dispatch<Kernel>::pick(G.cb, G.K)(G, r0, r1, out);
}

}  // namespace qb::x86

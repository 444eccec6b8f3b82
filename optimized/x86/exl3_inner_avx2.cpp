// EXL3 inner decode (Ŵ^T, exact fp16 values as fp32), AVX2. Groups are tile columns: each
// decoded group is 16 consecutive k of one output row.
#include "optimized/x86/exl3_x86_common.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {

using namespace exl3k;

template <exl3::Codebook CB>
QB_TARGET_AVX2 void inner_rows(const Geometry& G, const Tables& T, int64_t r0, int64_t r1, float* out) {
  for (int64_t j = r0 / 16; j < r1 / 16; ++j)
    for (int64_t i = 0; i < G.k / 16; ++i) {
      const int* words = reinterpret_cast<const int*>(G.tile(i, j));
      float* o = out + 16 * j * G.k + 16 * i;
      for (int c = 0; c < 16; ++c) {
        _mm256_storeu_ps(o + c * G.k, decode_y<CB>(words, T, 16 * c));
        _mm256_storeu_ps(o + c * G.k + 8, decode_y<CB>(words, T, 16 * c + 8));
      }
    }
}

}  // namespace

void exl3_inner_avx2(const QWeight& w, int64_t r0, int64_t r1, float* out) {
  const Geometry G = geometry(w);
  Tables T;
  build_tables(G.K, Order::by_col, T);
  switch (G.cb) {
    case exl3::Codebook::mcg: return inner_rows<exl3::Codebook::mcg>(G, T, r0, r1, out);
    case exl3::Codebook::mul1: return inner_rows<exl3::Codebook::mul1>(G, T, r0, r1, out);
    default: return inner_rows<exl3::Codebook::inst3>(G, T, r0, r1, out);
  }
}

}  // namespace qb::x86

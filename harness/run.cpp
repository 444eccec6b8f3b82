#include "harness/run.h"

#include <omp.h>

namespace qb {
namespace {

// Thread t gets granules [G*t/n, G*(t+1)/n); the last range ends at `rows`.
template <typename F>
void split_rows(int64_t rows, int64_t granule, int threads, F&& body) {
  const int64_t granules = (rows + granule - 1) / granule;
  if (threads <= 1 || granules <= 1) {
    body(int64_t{0}, rows);
    return;
  }
  const int t_count = static_cast<int>(granules < threads ? granules : threads);
#pragma omp parallel num_threads(t_count)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t n = omp_get_num_threads();
    const int64_t r0 = granules * t / n * granule, r1 = granules * (t + 1) / n * granule;
    body(r0, r1 < rows ? r1 : rows);
  }
}

}  // namespace

void run_dequant(const Variant& v, const QWeight& w, float* out, int threads) {
  split_rows(w.rows, w.format->row_granule, threads, [&](int64_t r0, int64_t r1) {
    if (r1 > r0) v.dequant(w, r0, r1, out);
  });
}

void run_gemv(const Variant& v, const QWeight& w, const uint8_t* act, float* y, int threads) {
  run_gemv_batch(v, w, act, 1, y, threads);
}

void run_gemv_batch(const Variant& v, const QWeight& w, const uint8_t* act, int64_t m, float* y, int threads) {
  const std::size_t stride = w.format->activation->bytes(w.cols);
  split_rows(w.rows, w.format->row_granule, threads, [&](int64_t r0, int64_t r1) {
    if (r1 <= r0) return;
    if (v.gemv_batch) {
      v.gemv_batch(w, act, m, r0, r1, y);
      return;
    }
    for (int64_t i = 0; i < m; ++i) v.gemv(w, act + i * stride, r0, r1, y + i * w.rows);
  });
}

}  // namespace qb

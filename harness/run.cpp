#include "harness/run.h"

#include <omp.h>

namespace qb {
namespace {

template <typename F>
void split_rows(int64_t rows, int threads, F&& body) {
  if (threads <= 1 || rows <= 1) {
    body(int64_t{0}, rows);
    return;
  }
  const int t_count = static_cast<int>(rows < threads ? rows : threads);
#pragma omp parallel num_threads(t_count)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t n = omp_get_num_threads();
    body(rows * t / n, rows * (t + 1) / n);
  }
}

}  // namespace

void run_dequant(const Variant& v, const QWeight& w, float* out, int threads) {
  split_rows(w.rows, threads, [&](int64_t r0, int64_t r1) {
    if (r1 > r0) v.dequant(w, r0, r1, out);
  });
}

void run_gemv(const Variant& v, const QWeight& w, const uint8_t* act, float* y, int threads) {
  split_rows(w.rows, threads, [&](int64_t r0, int64_t r1) {
    if (r1 > r0) v.gemv(w, act, r0, r1, y);
  });
}

}  // namespace qb

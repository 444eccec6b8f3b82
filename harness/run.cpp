#include "harness/run.h"

#include <omp.h>

#include "harness/backend.h"

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

class HostWeight : public BackendWeight {
 public:
  explicit HostWeight(const PreparedWeight& w) : w(w) {}
  const PreparedWeight& w;
};

class CpuBackend : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  std::unique_ptr<BackendWeight> prepare(const Variant&, const PreparedWeight& w) const override {
    return std::make_unique<HostWeight>(w);
  }
  void run(const Variant& v, const BackendWeight& bw, const uint8_t* act, int64_t m, float* out,
           int threads) const override {
    const PreparedWeight& pw = static_cast<const HostWeight&>(bw).w;
    const QWeight& w = pw.weight();
    const qb_weight* cw = pw.get();
    if (v.op != Op::gemv) {
      split_rows(w.rows, w.format->row_granule, threads, [&](int64_t r0, int64_t r1) {
        if (r1 > r0) v.dequant(cw, r0, r1, out);
      });
      return;
    }
    const std::size_t stride = w.format->activation->bytes(w.cols);
    split_rows(w.rows, w.format->row_granule, threads, [&](int64_t r0, int64_t r1) {
      if (r1 <= r0) return;
      if (v.batches) {
        v.gemv(cw, act, m, r0, r1, out);
        return;
      }
      for (int64_t i = 0; i < m; ++i) v.gemv(cw, act + i * stride, 1, r0, r1, out + i * w.rows);
    });
  }
  void fetch(const Variant&, const BackendWeight&, float*) const override {}
};

void run_on_backend(const Variant& v, const PreparedWeight& w, const uint8_t* act, int64_t m, float* out, int threads) {
  run_prepared(v, *backend_of(v).prepare(v, w), act, m, out, threads);
}

}  // namespace

const Backend& backend_of(const Variant& v) { return v.target.backend ? *v.target.backend : cpu_backend(); }

void run_prepared(const Variant& v, const BackendWeight& w, const uint8_t* act, int64_t m, float* out, int threads) {
  const Backend& b = backend_of(v);
  b.run(v, w, act, m, out, threads);
  b.fetch(v, w, out);
}

const Backend& cpu_backend() {
  static const CpuBackend cpu;
  return cpu;
}

void run_dequant(const Variant& v, const PreparedWeight& w, float* out, int threads) {
  run_on_backend(v, w, nullptr, 0, out, threads);
}

void run_gemv(const Variant& v, const PreparedWeight& w, const uint8_t* act, int64_t m, float* y, int threads) {
  run_on_backend(v, w, act, m, y, threads);
}

}  // namespace qb

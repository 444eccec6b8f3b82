#include "harness/run.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "harness/backend.h"
#include "reference/common/half.h"

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

// A whole-weight call split over threads: rows on the format's granule, or a banded format's units.
template <typename F>
void split_rows(const QWeight& w, int threads, F&& body) {
  const Format& f = *w.format;
  split_rows(call_extent(f, w.rows), f.row_bands > 1 ? 1 : f.row_granule, threads, body);
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
  void run(const Variant& v, const BackendWeight& bw, const uint8_t* act, int64_t m, void* out_bytes,
           int threads) const override {
    const PreparedWeight& pw = static_cast<const HostWeight&>(bw).w;
    const QWeight& w = pw.weight();
    const qb_weight* cw = pw.get();
    if (is_decode16(v.op)) {
      auto* out = static_cast<uint16_t*>(out_bytes);
      split_rows(w, threads, [&](int64_t r0, int64_t r1) {
        if (r1 <= r0) return;
        if (v.dequant16) return v.dequant16(cw, r0, r1, out);
        round_decode16(v, *w.format, cw, r0, r1, out);
      });
      return;
    }
    auto* out = static_cast<float*>(out_bytes);
    if (v.op != Op::gemv) {
      split_rows(w, threads, [&](int64_t r0, int64_t r1) {
        if (r1 > r0) v.dequant(cw, r0, r1, out);
      });
      return;
    }
    const std::size_t stride = w.format->activation->bytes(w.cols);
    split_rows(w, threads, [&](int64_t r0, int64_t r1) {
      if (r1 <= r0) return;
      if (v.batches) {
        v.gemv(cw, act, m, r0, r1, out);
        return;
      }
      for (int64_t i = 0; i < m; ++i) v.gemv(cw, act + i * stride, 1, r0, r1, out + i * w.rows);
    });
  }
  void fetch(const Variant&, const BackendWeight&, void*) const override {}

 private:
  // A reference 16-bit decode: the format's fp32 decode of a few rows at a time (the kernel
  // writes rows [r0, r1) of a full-size output, so the scratch is offset to match), each value
  // rounded once to nearest even.
  static void round_decode16(const Variant& v, const Format& f, const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out) {
    if (f.row_bands > 1) {  // a unit's rows lie in every band: a full-size scratch holds them where they go
      const int64_t p = call_extent(f, w->rows);
      std::vector<float> full(static_cast<std::size_t>(w->rows * w->cols));
      v.dequant(w, r0, r1, full.data());
      for (int64_t b = 0; b < f.row_bands; ++b)
        for (int64_t r = b * p + r0; r < std::min(w->rows, b * p + r1); ++r)
          for (int64_t c = 0; c < w->cols; ++c) out[r * w->cols + c] = round16(v.op, full[r * w->cols + c]);
      return;
    }
    const int64_t chunk = std::max<int64_t>(1, 4096 / w->cols);
    std::vector<float> scratch(static_cast<std::size_t>(chunk * w->cols));
    for (int64_t r = r0; r < r1; r += chunk) {
      const int64_t e = std::min(r1, r + chunk);
      v.dequant(w, r, e, scratch.data() - r * w->cols);
      for (int64_t i = 0; i < (e - r) * w->cols; ++i)
        out[r * w->cols + i] = round16(v.op, scratch[i]);
    }
  }
};

// Guards: a vector store of 16 floats one element past the end reaches 64 bytes beyond it; four
// times that catches a whole stray vector. The canary is a signalling NaN, which no arithmetic
// result is (results are quieted), so a kernel cannot write it by computing.
constexpr std::size_t kGuardBytes = 256;
constexpr uint32_t kCanary = 0x7FA5A5A5u;

class GuardedOutput {
 public:
  // A copy of out[0, n) of `elem` bytes each (kernels may leave elements unwritten; the caller's
  // fill stays) placed at out's address modulo 64, with kGuardBytes of canary on either side.
  GuardedOutput(const void* out, std::size_t n, std::size_t elem) : n_(n), bytes_(n * elem), buf_(2 * kGuardBytes + 64 + bytes_) {
    uint8_t* p = buf_.data() + kGuardBytes;
    p += (reinterpret_cast<uintptr_t>(out) - reinterpret_cast<uintptr_t>(p)) % 64;
    data_ = p;
    for (std::size_t i = 0; i < kGuardBytes; i += 4) {
      std::memcpy(p - kGuardBytes + i, &kCanary, 4);
      std::memcpy(p + bytes_ + i, &kCanary, 4);
    }
    std::memcpy(data_, out, bytes_);
  }
  void* data() { return data_; }

  // Throws OutputGuardError when a guard byte changed.
  void check(const Variant& v) const {
    const uint8_t* p = data_;
    std::size_t past = 0, before = 0;  // the farthest changed byte, counted from the edge
    for (std::size_t i = 0; i < kGuardBytes; ++i) {
      if (p[bytes_ + i] != canary_byte(i)) past = i + 1;
      if (before == 0 && p[-static_cast<std::ptrdiff_t>(kGuardBytes - i)] != canary_byte(i)) before = kGuardBytes - i;
    }
    if (past == 0 && before == 0) return;
    std::string what = "variant " + v.name + " (op " + std::string(op_name(v.op)) + ") wrote outside its " +
                       std::to_string(n_) + "-element output:";
    if (past) what += " " + std::to_string(past) + " bytes past the end";
    if (past && before) what += " and";
    if (before) what += " " + std::to_string(before) + " bytes before the start";
    throw OutputGuardError(what);
  }
  void copy_to(void* out) const { std::memcpy(out, data_, bytes_); }

 private:
  static uint8_t canary_byte(std::size_t i) { return static_cast<uint8_t>(kCanary >> (8 * (i % 4))); }
  std::size_t n_, bytes_;
  std::vector<uint8_t> buf_;
  uint8_t* data_;
};

void run_on_backend(const Variant& v, const PreparedWeight& w, const uint8_t* act, int64_t m, void* out, int threads) {
  const QWeight& q = w.weight();
  GuardedOutput g(out, static_cast<std::size_t>(v.op == Op::gemv ? m * q.rows : q.rows * q.cols), output_elem_bytes(v.op));
  run_prepared(v, *backend_of(v).prepare(v, w), act, m, g.data(), threads);
  g.check(v);
  g.copy_to(out);
}

}  // namespace

const Backend& backend_of(const Variant& v) { return v.target.backend ? *v.target.backend : cpu_backend(); }

void run_prepared(const Variant& v, const BackendWeight& w, const uint8_t* act, int64_t m, void* out, int threads) {
  const Backend& b = backend_of(v);
  b.run(v, w, act, m, out, threads);
  b.fetch(v, w, out);
}

const Backend& cpu_backend() {
  static const CpuBackend cpu;
  return cpu;
}

void run_dequant(const Variant& v, const PreparedWeight& w, void* out, int threads) {
  run_on_backend(v, w, nullptr, 0, out, threads);
}

float widen16(Op op, uint16_t h) {
  if (op == Op::dequant_bf16) return bits_to_f32(uint32_t{h} << 16);
  if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0)
    return bits_to_f32((uint32_t{h} & 0x8000u) << 16 | 0x7F800000u | (uint32_t{h} & 0x3FFu) << 13);
  return fp16_to_f32(h);
}

uint16_t round16(Op op, float f) { return op == Op::dequant_f16 ? f32_to_fp16_rne(f) : f32_to_bf16_rne(f); }

void run_decode(const Variant& v, const PreparedWeight& w, float* out, int threads) {
  if (!is_decode16(v.op)) return run_dequant(v, w, out, threads);
  const QWeight& q = w.weight();
  std::vector<uint16_t> h(static_cast<std::size_t>(q.rows * q.cols));
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = round16(v.op, out[i]);
  run_dequant(v, w, h.data(), threads);
  for (std::size_t i = 0; i < h.size(); ++i) out[i] = widen16(v.op, h[i]);
}

void run_gemv(const Variant& v, const PreparedWeight& w, const uint8_t* act, int64_t m, float* y, int threads) {
  run_on_backend(v, w, act, m, y, threads);
}

}  // namespace qb

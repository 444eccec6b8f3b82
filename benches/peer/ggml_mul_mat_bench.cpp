// ggml-mul-mat-bench: times llama.cpp's own GEMV as llama.cpp runs it on a CPU: y = ggml_mul_mat(W, x)
// in a graph on ggml's CPU backend, W in the CPU device's extra (repacking) buffer type where one
// supports the node, x one f32 column, ggml's own threads. It is quantbench's peer: built by
// ci/peers.sh against the libggml of llama-cpp-python's bundled llama.cpp, not part of quantbench's
// build. Only ggml's public API is used.
//
//   ggml-mul-mat-bench [--type q4_0,q4_K,...] [--shape RxC] [--threads 1,2] [--reps N] [--json FILE]
#include <ggml.h>
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>

#include "ggml_repack_buft.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Like quantbench's bench: every timed GEMV reads a different copy of W, and together the copies
// span more than any cache, so the weights come from DRAM as they do in a real decode step.
constexpr size_t kRotationBytes = size_t{1} << 30;

struct Options {
  std::vector<std::string> types{"q4_0"};
  int64_t rows = 11008, cols = 4096;
  std::vector<int> threads{1};
  int reps = 200;
  std::string json;
};

struct Row {
  std::string type, buft;
  int64_t rows, cols;
  int threads, copies;
  bool repacked;
  size_t bytes;
  double median_us, best_us;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: ggml-mul-mat-bench [--type T[,T...]] [--shape RxC] [--threads N[,N...]] "
               "[--reps N] [--json FILE]\n  T: a ggml type name (q4_0, q4_K, iq4_xs, tq2_0, mxfp4, ...); "
               "R: output rows, C: input columns (default 11008x4096)\n",
               why);
  std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

int to_int(const std::string& s, const char* what) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || *end || v <= 0) usage(what);
  return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") usage("help");
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const std::string v = argv[++i];
    if (a == "--type") {
      o.types = split(v);
    } else if (a == "--shape") {
      const auto x = v.find('x');
      if (x == std::string::npos) usage("--shape wants RxC");
      o.rows = to_int(v.substr(0, x), "bad --shape rows");
      o.cols = to_int(v.substr(x + 1), "bad --shape cols");
    } else if (a == "--threads") {
      o.threads.clear();
      for (const auto& t : split(v)) o.threads.push_back(to_int(t, "bad --threads"));
    } else if (a == "--reps") {
      o.reps = to_int(v, "bad --reps");
    } else if (a == "--json") {
      o.json = v;
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.types.empty() || o.threads.empty()) usage("empty --type or --threads");
  return o;
}

// ggml has no name -> type lookup; removed type ids have no traits (null name, block size 0).
bool type_by_name(const std::string& name, ggml_type* out) {
  for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
    const char* n = ggml_type_name(static_cast<ggml_type>(t));
    if (n && ggml_blck_size(static_cast<ggml_type>(t)) > 0 && name == n) {
      *out = static_cast<ggml_type>(t);
      return true;
    }
  }
  return false;
}

// Random weights in ggml's plain layout (rows x row_size), quantized by ggml itself, on all cores:
// the iq2/iq3 quantizers take tens of seconds per 45M weights on one.
std::vector<uint8_t> make_weights(ggml_type type, int64_t rows, int64_t cols) {
  std::vector<float> src(static_cast<size_t>(rows * cols));
  std::mt19937 rng(1234);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : src) v = dist(rng);
  // Types that need an importance matrix get a uniform one: speed does not depend on the weights.
  const std::vector<float> imatrix(static_cast<size_t>(cols), 1.0f);
  const float* im = ggml_quantize_requires_imatrix(type) ? imatrix.data() : nullptr;

  std::vector<uint8_t> dst(ggml_row_size(type, cols) * rows);
  ggml_quantize_init(type);  // not thread-safe; ggml_quantize_chunk would call it from each worker
  const int64_t n_workers = std::max(1u, std::thread::hardware_concurrency());
  const int64_t per = (rows + n_workers - 1) / n_workers;
  std::vector<std::thread> workers;
  for (int64_t r0 = 0; r0 < rows; r0 += per) {
    const int64_t nr = std::min(per, rows - r0);
    workers.emplace_back([&, r0, nr] { ggml_quantize_chunk(type, src.data(), dst.data(), r0 * cols, nr, cols, im); });
  }
  for (auto& w : workers) w.join();
  return dst;
}

// ggml logs each repacked tensor at debug level; keep the layout it names (e.g. "q4_0_8x8") for
// the report, and pass on only warnings and errors.
std::string g_repack_layout;
void log_filter(ggml_log_level level, const char* text, void*) {
  static bool shown = false;
  if (level != GGML_LOG_LEVEL_CONT) shown = level >= GGML_LOG_LEVEL_WARN;
  const char* with = std::strstr(text, "repack tensor") ? std::strstr(text, " with ") : nullptr;
  if (with) g_repack_layout = std::string(with + 6, std::strcspn(with + 6, "\n"));
  if (shown) std::fputs(text, stderr);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Times every thread count for one type; returns false (and says why) if ggml cannot run it.
bool bench_type(const Options& o, const std::string& name, ggml_backend_t backend, ggml_backend_dev_t dev,
                std::vector<Row>* rows_out) {
  ggml_type type;
  if (!type_by_name(name, &type)) {
    std::fprintf(stderr, "skip %s: not a ggml type\n", name.c_str());
    return false;
  }
  // ggml_quantize_chunk aborts on what it cannot make: q8_1 and q8_K (activation-only types) and
  // the integer and f64 types.
  const bool makeable = ggml_is_quantized(type) ? type != GGML_TYPE_Q8_1 && type != GGML_TYPE_Q8_K
                                                : type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
  if (!makeable) {
    std::fprintf(stderr, "skip %s: ggml_quantize_chunk cannot make it\n", name.c_str());
    return false;
  }
  if (o.cols % ggml_blck_size(type) != 0) {
    std::fprintf(stderr, "skip %s: %lld columns is not a multiple of its block size %lld\n", name.c_str(),
                 (long long)o.cols, (long long)ggml_blck_size(type));
    return false;
  }
  ggml_backend_buffer_type_t extra = repack_buft(dev, type, o.rows, o.cols);
  ggml_backend_buffer_type_t buft = extra ? extra : ggml_backend_dev_buffer_type(dev);

  const size_t bytes = ggml_row_size(type, o.cols) * o.rows;  // one copy, ggml's plain layout
  const int copies = static_cast<int>(std::max<size_t>(2, (kRotationBytes + bytes - 1) / bytes));

  // Weights: `copies` tensors in one buffer of the chosen type. Setting each copy through the
  // backend API is what makes a repacking buffer type repack it, as when llama.cpp loads a model.
  ggml_init_params wp{(copies + 1) * ggml_tensor_overhead(), nullptr, true};
  ggml_context* wctx = ggml_init(wp);
  std::vector<ggml_tensor*> w(copies);
  for (auto& t : w) t = ggml_new_tensor_2d(wctx, type, o.cols, o.rows);
  ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors_from_buft(wctx, buft);
  if (!wbuf) {
    std::fprintf(stderr, "skip %s: cannot allocate %d copies in %s\n", name.c_str(), copies,
                 ggml_backend_buft_name(buft));
    ggml_free(wctx);
    return false;
  }
  ggml_backend_buffer_set_usage(wbuf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);

  // Activations and one graph per weight copy (x is shared; each y is its own, all cache-sized).
  ggml_init_params ap{(2 * copies + 2) * ggml_tensor_overhead() + copies * ggml_graph_overhead_custom(8, false),
                      nullptr, true};
  ggml_context* actx = ggml_init(ap);
  ggml_tensor* x = ggml_new_tensor_2d(actx, GGML_TYPE_F32, o.cols, 1);
  std::vector<ggml_cgraph*> graphs(copies);
  for (int i = 0; i < copies; ++i) {
    graphs[i] = ggml_new_graph_custom(actx, 8, false);
    ggml_build_forward_expand(graphs[i], ggml_mul_mat(actx, w[i], x));
  }
  ggml_backend_buffer_t abuf = ggml_backend_alloc_ctx_tensors_from_buft(actx, ggml_backend_dev_buffer_type(dev));

  bool ok = ggml_backend_supports_op(backend, ggml_graph_node(graphs[0], -1));
  if (!ok) std::fprintf(stderr, "skip %s: the CPU backend does not support mul_mat on it\n", name.c_str());
  g_repack_layout.clear();
  if (ok) {
    const std::vector<uint8_t> data = make_weights(type, o.rows, o.cols);
    for (auto* t : w) ggml_backend_tensor_set(t, data.data(), 0, bytes);
    std::vector<float> xv(static_cast<size_t>(o.cols));
    std::mt19937 rng(99);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& v : xv) v = dist(rng);
    ggml_backend_tensor_set(x, xv.data(), 0, xv.size() * sizeof(float));
  }

  for (size_t ti = 0; ok && ti < o.threads.size(); ++ti) {
    const int nt = o.threads[ti];
    ggml_backend_cpu_set_n_threads(backend, nt);
    // One untimed pass over every copy: first-touch page faults, ggml's work buffer, thread start.
    for (auto* g : graphs) ggml_backend_graph_compute(backend, g);
    std::vector<double> us(o.reps);
    for (int r = 0; r < o.reps; ++r) {
      ggml_cgraph* g = graphs[r % copies];
      const auto t0 = std::chrono::steady_clock::now();
      if (ggml_backend_graph_compute(backend, g) != GGML_STATUS_SUCCESS) {
        std::fprintf(stderr, "skip %s: graph compute failed\n", name.c_str());
        ok = false;
        break;
      }
      us[r] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    }
    if (!ok) break;
    std::string label = extra ? ggml_backend_buft_name(extra) : "no";
    if (extra && !g_repack_layout.empty()) label += "(" + g_repack_layout + ")";
    Row row{name, label, o.rows, o.cols, nt, copies, extra != nullptr, bytes,
            median(us), *std::min_element(us.begin(), us.end())};
    std::printf("ggml %s %lldx%lld threads:%d repacked:%s median_us=%.1f best_us=%.1f bytes=%zu GBps=%.2f copies=%d\n",
                row.type.c_str(), (long long)row.rows, (long long)row.cols, nt, row.buft.c_str(), row.median_us,
                row.best_us, row.bytes, row.bytes / row.median_us / 1e3, row.copies);
    std::fflush(stdout);
    rows_out->push_back(row);
  }

  ggml_backend_buffer_free(abuf);
  ggml_free(actx);
  ggml_backend_buffer_free(wbuf);
  ggml_free(wctx);
  return ok;
}

void write_json(const std::string& path, const std::vector<Row>& rows) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::fprintf(f, "{\"ggml_version\": \"%s\", \"ggml_commit\": \"%s\", \"rows\": [", ggml_version(), ggml_commit());
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::fprintf(f,
                 "%s\n  {\"type\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"threads\": %d, \"repacked\": %s, "
                 "\"buffer_type\": \"%s\", \"weight_bytes\": %zu, \"copies\": %d, \"median_us\": %.3f, "
                 "\"best_us\": %.3f, \"GBps\": %.4f}",
                 i ? "," : "", r.type.c_str(), (long long)r.rows, (long long)r.cols, r.threads,
                 r.repacked ? "true" : "false", r.repacked ? r.buft.c_str() : ggml_backend_buft_name(ggml_backend_cpu_buffer_type()), r.bytes, r.copies, r.median_us,
                 r.best_us, r.bytes / r.median_us / 1e3);
  }
  std::fprintf(f, "\n]}\n");
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  ggml_log_set(log_filter, nullptr);
  ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  if (!dev) {
    std::fprintf(stderr, "no CPU backend in this libggml\n");
    return 1;
  }
  ggml_backend_t backend = ggml_backend_dev_init(dev, nullptr);
  std::printf("# ggml %s (%s), %s; rotation over >= %zu MiB of weight copies\n", ggml_version(), ggml_commit(),
              ggml_backend_dev_description(dev), kRotationBytes >> 20);
  std::vector<Row> rows;
  int failed = 0;
  for (const auto& t : o.types) failed += !bench_type(o, t, backend, dev, &rows);
  ggml_backend_free(backend);
  if (!o.json.empty()) write_json(o.json, rows);
  return failed ? 1 : 0;
}

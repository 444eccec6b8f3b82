// libqb_ggml_peer: upstream ggml's own CPU kernels as a quantbench plugin (harness/qb_plugin.h), so
// `verify` checks them against our references and `bench` times them beside our kernels in the same
// run, on the same weights and activations. Built by ci/peers.sh against the libggml that
// llama-cpp-python==0.3.36 vendors (build-peer/ggml), never by quantbench's CMake. Only ggml's
// public API is used; nothing is copied from ggml's sources.
//
// Kernels, for every GGML type quantbench and ggml both have (benches/peer/README.md says why each
// is built the way it is):
//   ggml_<type>_dequant_to_float   ggml's type traits to_float over the call's rows
//   ggml_<type>_gemv_vec_dot       ggml's CPU vec_dot (ggml_get_type_traits_cpu) per row, on our
//                                  weight bytes and our pre-quantized activation bytes
//   ggml_<type>_gemv_mul_mat_rows  ggml_mul_mat in a one-node graph on ggml's CPU backend, run over
//                                  the rows the harness hands this thread (ggml n_threads = 1)
//   ggml_<type>_gemv_mul_mat       (ABI 3) the same graph over all rows, ggml's own threads
//                                  (QB_KERNEL_OWN_THREADS), as llama.cpp runs a decode GEMV
// The isa label is the widest level ggml's CPU backend says it was built for (GGML_NATIVE: this
// machine's): ggml dispatches its own SIMD, and a report that called these "scalar" was misread
// as ggml's scalar code. The harness then also never runs them on a CPU without that level.
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>

#include "ggml_repack_buft.h"
#include <ggml.h>
#include <omp.h>

namespace {
const char* ggml_isa_level() {
  if (ggml_cpu_has_avx512() && ggml_cpu_has_avx512_vnni()) return "avx512vnni";
  if (ggml_cpu_has_avx512()) return "avx512";
  if (ggml_cpu_has_avx2() && ggml_cpu_has_fma() && ggml_cpu_has_f16c()) return "avx2";
  return "scalar";
}
}  // namespace

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "qb_plugin.h"

namespace {

// --- quantbench's GGML formats, as README "Formats" documents them ------------------------------
// Block geometry and the activation encoding each GEMV takes. At init every entry is checked
// against ggml's own traits (name, block size, bytes per block, vec_dot_type); a type that
// disagrees gets no kernel and the reason is printed.
struct Ours {
  const char* id;    // quantbench registry id; ggml spells the same name (ggml_type_name)
  int64_t elems;     // values per block
  size_t bytes;      // bytes per block
  ggml_type act;     // our GEMV's activation encoding: q8_0, q8_1 or q8_K blocks, back to back
};
constexpr Ours kOurs[] = {
    {"q4_0", 32, 18, GGML_TYPE_Q8_0},      {"q4_1", 32, 20, GGML_TYPE_Q8_1},
    {"q5_0", 32, 22, GGML_TYPE_Q8_0},      {"q5_1", 32, 24, GGML_TYPE_Q8_1},
    {"q8_0", 32, 34, GGML_TYPE_Q8_0},      {"q1_0", 128, 18, GGML_TYPE_Q8_0},
    {"q2_0", 64, 18, GGML_TYPE_Q8_0},      {"mxfp4", 32, 17, GGML_TYPE_Q8_0},
    {"nvfp4", 64, 36, GGML_TYPE_Q8_0},     {"q2_K", 256, 84, GGML_TYPE_Q8_K},
    {"q3_K", 256, 110, GGML_TYPE_Q8_K},    {"q4_K", 256, 144, GGML_TYPE_Q8_K},
    {"q5_K", 256, 176, GGML_TYPE_Q8_K},    {"q6_K", 256, 210, GGML_TYPE_Q8_K},
    {"tq1_0", 256, 54, GGML_TYPE_Q8_K},    {"tq2_0", 256, 66, GGML_TYPE_Q8_K},
    {"iq4_nl", 32, 18, GGML_TYPE_Q8_0},    {"iq4_xs", 256, 136, GGML_TYPE_Q8_K},
    {"iq2_xxs", 256, 66, GGML_TYPE_Q8_K},  {"iq2_xs", 256, 74, GGML_TYPE_Q8_K},
    {"iq2_s", 256, 82, GGML_TYPE_Q8_K},    {"iq3_xxs", 256, 98, GGML_TYPE_Q8_K},
    {"iq3_s", 256, 110, GGML_TYPE_Q8_K},   {"iq1_s", 256, 50, GGML_TYPE_Q8_K},
    {"iq1_m", 256, 56, GGML_TYPE_Q8_K},
};
constexpr size_t kTypes = sizeof kOurs / sizeof kOurs[0];

constexpr const char* kLib = "libqb_ggml_peer";

// One type as ggml implements it, filled in at init.
struct Type {
  const Ours* ours = nullptr;
  ggml_type type = GGML_TYPE_COUNT;  // GGML_TYPE_COUNT: ggml lacks it or disagrees (no kernels)
  ggml_to_float_t to_float = nullptr;
  ggml_vec_dot_t vec_dot = nullptr;  // null: no vec_dot / mul_mat kernels (act encoding differs)
  size_t row_bytes(int64_t cols) const { return ggml_row_size(type, cols); }
};
Type g_types[kTypes];

ggml_backend_dev_t g_dev = nullptr;  // ggml's CPU device

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "%s: %s\n", kLib, what);
  std::abort();
}

// --- scratch: 64-byte aligned, per thread ----------------------------------------------------------
struct Scratch {
  void* p = nullptr;
  size_t n = 0;
  void* get(size_t bytes) {
    if (bytes > n) {
      std::free(p);
      n = (bytes + 4095) & ~size_t{4095};
      p = std::aligned_alloc(64, n);
      if (!p) die("out of memory for scratch");
    }
    return p;
  }
};

// Everything one calling thread needs for a graph call. The harness calls the kernels from its
// OpenMP threads at once; a ggml CPU backend (its work buffer, its plan) is not safe to share, so
// each thread has its own. Deliberately never freed: OpenMP threads outlive any destruction order
// we could rely on, and there are at most a handful.
struct ThreadState {
  ggml_backend_t backend = nullptr;
  std::vector<uint8_t> ctx_mem;  // ggml_init's arena (no_alloc: tensor and graph headers only)
  Scratch x, y;                  // f32 activations for the repacked path; the graph's output
};
ThreadState& thread_state() {
  thread_local ThreadState* s = nullptr;
  if (!s) {
    s = new ThreadState;
    s->backend = ggml_backend_dev_init(g_dev, nullptr);
    if (!s->backend) die("ggml_backend_dev_init(CPU) failed");
    s->ctx_mem.resize(16 * ggml_tensor_overhead() + ggml_graph_overhead_custom(8, false));
  }
  return *s;
}

// Our bytes as a ggml buffer, in place (no copy). ggml_backend_cpu_buffer_from_ptr wants a
// TENSOR_ALIGNMENT (32) aligned base; our tensors promise none (verify shifts them by one byte), so
// the buffer starts at the 64-byte boundary below and the tensor sits at the real address.
ggml_backend_buffer_t wrap(const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p), base = a & ~uintptr_t{63};
  // ggml never writes a mul_mat's sources; the buffer API just has no const.
  return ggml_backend_cpu_buffer_from_ptr(reinterpret_cast<void*>(base), bytes + (a - base));
}

bool place(ggml_backend_buffer_t buf, ggml_tensor* t, const void* at) {
  return ggml_backend_tensor_alloc(buf, t, const_cast<void*>(at)) == GGML_STATUS_SUCCESS;
}

// A kernel cannot return an error through the ABI: say why on stderr and write NaN, so the check
// fails loudly instead of passing stale memory.
void fail_rows(const char* kernel_kind, const char* why, const qb_weight* w, int64_t m, int64_t r0, int64_t r1,
               float* y) {
  static std::once_flag said;
  std::call_once(said, [&] { std::fprintf(stderr, "%s: %s %s: %s\n", kLib, w->format, kernel_kind, why); });
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = r0; r < r1; ++r) y[i * w->rows + r] = NAN;
}

// --- dequant: ggml's to_float ------------------------------------------------------------------------
// Rows are contiguous in both layouts, so one to_float call covers the range.
void dequant_impl(const Type& t, const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  if (r1 <= r0) return;
  const auto* blocks = static_cast<const uint8_t*>(w->tensors[0].data);
  t.to_float(blocks + r0 * t.row_bytes(w->cols), out + r0 * w->cols, (r1 - r0) * w->cols);
}

// --- gemv: ggml's vec_dot per row ---------------------------------------------------------------------
// vec_dot(n, &s, bs, x, bx, y, by, nrc) with nrc = 1: one weight row against one activation row, in
// whatever SIMD this libggml was built for. Our act bytes are already ggml's vec_dot_type blocks.
void vec_dot_impl(const Type& t, const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1,
                  float* y) {
  const auto* blocks = static_cast<const uint8_t*>(w->tensors[0].data);
  const size_t rb = t.row_bytes(w->cols);
  const size_t ab = ggml_row_size(t.ours->act, w->cols);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = r0; r < r1; ++r)
      t.vec_dot(static_cast<int>(w->cols), &y[i * w->rows + r], 0, blocks + r * rb, 0, act + i * ab, 0, 1);
}

// --- gemv: ggml_mul_mat on ggml's CPU backend -----------------------------------------------------------
// Where ggml repacks (the CPU device's extra buffer type accepts mul_mat with W in it, as llama.cpp
// asks when it loads a model), W is copied once per weight into that buffer (ggml repacks in
// set_tensor) and the copy is kept until the harness releases the weight. Everything else wraps our
// bytes in place. A Repacked is such a copy: its own context, buffer and tensor.
struct Repacked {
  ggml_context* ctx = nullptr;
  ggml_backend_buffer_t buf = nullptr;
  ggml_tensor* w = nullptr;
  Repacked() = default;
  Repacked(const Repacked&) = delete;
  Repacked& operator=(const Repacked&) = delete;
  ~Repacked() {
    if (buf) ggml_backend_buffer_free(buf);
    if (ctx) ggml_free(ctx);
  }
};

// Rows [g0, g1) of weight `data` (a whole number of ggml's row interleave) repacked into `buft`.
std::unique_ptr<Repacked> repack(ggml_backend_buffer_type_t buft, ggml_type type, const uint8_t* data, int64_t g0,
                                 int64_t g1, int64_t cols, std::string* why) {
  auto r = std::make_unique<Repacked>();
  ggml_init_params p{2 * ggml_tensor_overhead(), nullptr, true};
  r->ctx = ggml_init(p);
  r->w = ggml_new_tensor_2d(r->ctx, type, cols, g1 - g0);
  r->buf = ggml_backend_alloc_ctx_tensors_from_buft(r->ctx, buft);
  if (!r->buf) {
    *why = std::string("cannot allocate ") + std::to_string(ggml_nbytes(r->w)) + " bytes in " + ggml_backend_buft_name(buft);
    return nullptr;
  }
  ggml_backend_buffer_set_usage(r->buf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
  ggml_backend_tensor_set(r->w, data + g0 * ggml_row_size(type, cols), 0, ggml_nbytes(r->w));  // repacks
  return r;
}

// Per-weight state between the harness's prepare and release (ABI 3). Key: the weight's data
// pointer, shape and type. bench rotates over many copies of one weight, each its own pointer, and
// prepares every copy before the clock starts, so no repack is ever timed. Prepare/release pairs
// may nest (count them).
struct Key {
  const void* data;
  int64_t rows, cols;
  int type;
  bool operator<(const Key& o) const {
    return std::tie(data, rows, cols, type) < std::tie(o.data, o.rows, o.cols, o.type);
  }
};
struct Entry {
  int refs = 0;
  std::unique_ptr<Repacked> repacked;  // null: ggml runs this weight from the plain buffer
};
std::mutex g_mu;
std::map<Key, Entry> g_entries;
// repack_buft's answer per (type, rows, cols): ggml's choice depends only on them and the CPU.
std::map<std::tuple<int, int64_t, int64_t>, ggml_backend_buffer_type_t> g_buft_choice;

Key key_of(const Type& t, const qb_weight* w) { return {w->tensors[0].data, w->rows, w->cols, static_cast<int>(t.type)}; }

ggml_backend_buffer_type_t buft_choice(const Type& t, int64_t rows, int64_t cols) {
  // caller holds g_mu
  const auto k = std::make_tuple(static_cast<int>(t.type), rows, cols);
  auto it = g_buft_choice.find(k);
  if (it == g_buft_choice.end()) it = g_buft_choice.emplace(k, repack_buft(g_dev, t.type, rows, cols)).first;
  return it->second;
}

// The f32 x the repacked kernels take, from our q8 activation blocks: each value d * q. For q8_0
// (fp16 d: 11 significant bits times 8) that is exact, and ggml's requantization gives back our
// bytes exactly; for q8_K (fp32 d) the product is rounded once, ggml gets back the same q but its
// recomputed d may differ from ours in the last bit (README: what the checks showed).
bool act_to_f32(ggml_type act, const uint8_t* a, int64_t cols, float* x) {
  if (act == GGML_TYPE_Q8_0) {
    for (int64_t b = 0; b < cols / 32; ++b, a += 34) {
      ggml_fp16_t h;
      std::memcpy(&h, a, 2);
      const float d = ggml_fp16_to_fp32(h);
      for (int j = 0; j < 32; ++j) x[b * 32 + j] = d * static_cast<float>(static_cast<int8_t>(a[2 + j]));
    }
    return true;
  }
  if (act == GGML_TYPE_Q8_K) {
    for (int64_t b = 0; b < cols / 256; ++b, a += 292) {
      float d;
      std::memcpy(&d, a, 4);
      for (int j = 0; j < 256; ++j) x[b * 256 + j] = d * static_cast<float>(static_cast<int8_t>(a[4 + j]));
    }
    return true;
  }
  return false;  // q8_1: no type ggml repacks pairs with it
}

// y[i][r] for r in [r0, r1) and m vectors: one ggml_mul_mat graph over W's rows [g0, g1) ⊇ [r0, r1),
// on this thread's CPU backend with `threads` ggml threads.
void mul_mat_impl(const Type& t, const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y,
                  int threads, const char* kind) {
  if (r1 <= r0) return;
  const int64_t rows = w->rows, cols = w->cols;
  const auto* data = static_cast<const uint8_t*>(w->tensors[0].data);
  const size_t rb = t.row_bytes(cols);
  const ggml_type act_type = t.ours->act;
  const size_t ab = ggml_row_size(act_type, cols);

  // Which W: the prepared repacked copy, a repack made for this call (not prepared: a host without
  // ABI 3 hooks), or our bytes in place.
  Repacked* rep = nullptr;
  std::unique_ptr<Repacked> temp;
  ggml_backend_buffer_type_t buft = nullptr;
  {
    const std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_entries.find(key_of(t, w));
    if (it != g_entries.end())
      rep = it->second.repacked.get();
    else
      buft = buft_choice(t, rows, cols);
  }
  // ggml repacks whole groups of 8 rows (its interleave; a weight it accepts has rows % 8 == 0), and
  // computes each row the same way whichever group range a call covers: a call computes the groups
  // its rows touch and keeps its rows, so every row's bits are independent of the thread split.
  constexpr int64_t kGroup = 8;
  int64_t g0 = r0, g1 = r1;
  if (rep || buft) {
    g0 = r0 / kGroup * kGroup;
    g1 = (r1 + kGroup - 1) / kGroup * kGroup;
  }
  if (buft) {
    static std::once_flag said;
    std::call_once(said, [&] {
      std::fprintf(stderr,
                   "%s: %s called on a weight the harness did not prepare (no ABI 3 hooks): repacking W inside "
                   "each call (correct results; the time includes the repack)\n",
                   kLib, kind);
    });
    std::string why;
    temp = repack(buft, t.type, data, g0, g1, cols, &why);
    if (!temp) return fail_rows(kind, why.c_str(), w, m, r0, r1, y);
    rep = temp.get();
  }

  ThreadState& s = thread_state();
  ggml_init_params p{s.ctx_mem.size(), s.ctx_mem.data(), true};
  ggml_context* ctx = ggml_init(p);
  ggml_backend_buffer_t wbuf = nullptr, xbuf = nullptr, ybuf = nullptr;
  const char* why = nullptr;
  do {
    const int64_t n = g1 - g0;
    ggml_tensor* wt;
    if (rep) {
      // A view of the repacked rows: same buffer, so ggml's extra buffer type claims the node.
      const int64_t base = temp ? g0 : 0;
      wt = ggml_view_2d(ctx, rep->w, cols, n, rep->w->nb[1], (g0 - base) * rep->w->nb[1]);
      if (ggml_backend_view_init(wt) != GGML_STATUS_SUCCESS) {
        why = "ggml_backend_view_init failed on the repacked weight";
        break;
      }
    } else {
      wt = ggml_new_tensor_2d(ctx, t.type, cols, n);
      wbuf = wrap(data, static_cast<size_t>(rows) * rb);
      if (!place(wbuf, wt, data + g0 * rb)) {
        why = "cannot place W in a buffer over our bytes";
        break;
      }
    }
    ggml_tensor* xt;
    if (rep) {
      // The repacked kernels take only f32 x (their supports_op says so) and quantize it themselves.
      auto* xf = static_cast<float*>(s.x.get(static_cast<size_t>(m * cols) * sizeof(float)));
      for (int64_t i = 0; i < m; ++i)
        if (!act_to_f32(act_type, act + i * ab, cols, xf + i * cols)) why = "no f32 form of this activation type";
      if (why) break;
      xt = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, m);
      xbuf = wrap(xf, static_cast<size_t>(m * cols) * sizeof(float));
      if (!place(xbuf, xt, xf)) {
        why = "cannot place x";
        break;
      }
    } else {
      // The plain CPU mul_mat takes src1 already in W's vec_dot_type and then uses it as is: our
      // activation bytes, in place.
      xt = ggml_new_tensor_2d(ctx, act_type, cols, m);
      xbuf = wrap(act, static_cast<size_t>(m) * ab);
      if (!place(xbuf, xt, act)) {
        why = "cannot place the activation";
        break;
      }
    }
    ggml_tensor* yt = ggml_mul_mat(ctx, wt, xt);  // [n, m] f32, contiguous
    auto* yv = static_cast<float*>(s.y.get(static_cast<size_t>(n * m) * sizeof(float)));
    ybuf = wrap(yv, static_cast<size_t>(n * m) * sizeof(float));
    if (!place(ybuf, yt, yv)) {
      why = "cannot place y";
      break;
    }
    if (!ggml_backend_supports_op(s.backend, yt)) {
      why = "ggml's CPU backend does not support this mul_mat";
      break;
    }
    ggml_cgraph* g = ggml_new_graph_custom(ctx, 8, false);
    ggml_build_forward_expand(g, yt);
    ggml_backend_cpu_set_n_threads(s.backend, threads);
    if (ggml_backend_graph_compute(s.backend, g) != GGML_STATUS_SUCCESS) {
      why = "ggml_backend_graph_compute failed";
      break;
    }
    for (int64_t i = 0; i < m; ++i) std::memcpy(y + i * rows + r0, yv + i * n + (r0 - g0), (r1 - r0) * sizeof(float));
  } while (false);
  for (auto* b : {wbuf, xbuf, ybuf})
    if (b) ggml_backend_buffer_free(b);  // buffers from a pointer free nothing but themselves
  ggml_free(ctx);
  if (why) fail_rows(kind, why, w, m, r0, r1, y);
}

#if QB_PLUGIN_ABI_VERSION >= 3
const char* prepare_impl(const Type& t, const qb_weight* w) {
  const std::lock_guard<std::mutex> lock(g_mu);
  Entry& e = g_entries[key_of(t, w)];
  if (e.refs++ > 0) return nullptr;
  if (ggml_backend_buffer_type_t buft = buft_choice(t, w->rows, w->cols)) {
    static thread_local std::string why;
    why.clear();
    e.repacked = repack(buft, t.type, static_cast<const uint8_t*>(w->tensors[0].data), 0, w->rows, w->cols, &why);
    if (!e.repacked) {
      g_entries.erase(key_of(t, w));
      return why.c_str();
    }
  }
  return nullptr;
}

void release_impl(const Type& t, const qb_weight* w) {
  const std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_entries.find(key_of(t, w));
  if (it != g_entries.end() && --it->second.refs == 0) g_entries.erase(it);
}
#endif

// --- one C function per (type, kernel): the ABI passes no user data, so the type is a template
// argument indexing g_types.
template <size_t I>
void k_dequant(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  dequant_impl(g_types[I], w, r0, r1, out);
}
template <size_t I>
void k_vec_dot(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  vec_dot_impl(g_types[I], w, act, m, r0, r1, y);
}
template <size_t I>
void k_mul_mat_rows(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  mul_mat_impl(g_types[I], w, act, m, r0, r1, y, 1, "gemv_mul_mat_rows");
}
#if QB_PLUGIN_ABI_VERSION >= 3
// QB_KERNEL_OWN_THREADS: called once per op with all rows; the harness sets the run's thread count
// as this thread's OpenMP default, and ggml's threadpool (OpenMP in this build) splits the rows.
template <size_t I>
void k_mul_mat(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y) {
  mul_mat_impl(g_types[I], w, act, m, r0, r1, y, omp_get_max_threads(), "gemv_mul_mat");
}
template <size_t I>
const char* k_prepare(const qb_weight* w) {
  return prepare_impl(g_types[I], w);
}
template <size_t I>
void k_release(const qb_weight* w) {
  release_impl(g_types[I], w);
}
#endif

struct Fns {
  qb_dequant_fn dequant;
  qb_gemv_fn vec_dot, mul_mat_rows;
#if QB_PLUGIN_ABI_VERSION >= 3
  qb_gemv_fn mul_mat;
  qb_prepare_fn prepare;
  qb_release_fn release;
#endif
};
template <size_t... I>
constexpr std::array<Fns, kTypes> make_fns(std::index_sequence<I...>) {
  return {Fns{&k_dequant<I>, &k_vec_dot<I>, &k_mul_mat_rows<I>
#if QB_PLUGIN_ABI_VERSION >= 3
              ,
              &k_mul_mat<I>, &k_prepare<I>, &k_release<I>
#endif
  }...};
}
constexpr std::array<Fns, kTypes> kFns = make_fns(std::make_index_sequence<kTypes>{});

// ggml logs every repacked tensor at debug level through a default logger that prints all levels;
// pass on warnings and errors only (continuations follow their line's level).
void log_filter(ggml_log_level level, const char* text, void*) {
  static thread_local bool shown = false;
  if (level != GGML_LOG_LEVEL_CONT) shown = level >= GGML_LOG_LEVEL_WARN;
  if (shown) std::fputs(text, stderr);
}

bool find_ggml_type(const char* name, ggml_type* out) {
  for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
    const auto type = static_cast<ggml_type>(t);
    const char* n = ggml_type_name(type);
    if (n && ggml_blck_size(type) > 0 && std::strcmp(n, name) == 0) {
      *out = type;
      return true;
    }
  }
  return false;
}

// Names and kernel entries live for the process (the harness keeps pointers into them).
std::vector<std::string> g_names;
std::vector<qb_kernel> g_kernels;
std::string g_plugin_name;
qb_plugin g_plugin{};

const qb_plugin* init_once() {
  ggml_log_set(log_filter, nullptr);
  ggml_cpu_init();
  g_dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  if (!g_dev) {
    std::fprintf(stderr, "%s: this libggml has no CPU backend device (ggml_backend_dev_by_type(CPU) is null)\n", kLib);
    return nullptr;
  }

  // No reallocation: kernels point into the names, and add() returns a pointer into g_kernels.
  g_names.reserve(4 * kTypes);
  g_kernels.reserve(4 * kTypes);
  std::vector<std::string> skipped;
  for (size_t i = 0; i < kTypes; ++i) {
    Type& t = g_types[i];
    t.ours = &kOurs[i];
    ggml_type gt;
    if (!find_ggml_type(t.ours->id, &gt)) {
      skipped.push_back(std::string(t.ours->id) + ": not a type of this ggml");
      continue;
    }
    const ggml_type_traits* tr = ggml_get_type_traits(gt);
    if (ggml_blck_size(gt) != t.ours->elems || ggml_type_size(gt) != t.ours->bytes) {
      skipped.push_back(std::string(t.ours->id) + ": ggml's block is " + std::to_string(ggml_type_size(gt)) +
                        " bytes per " + std::to_string(ggml_blck_size(gt)) + ", ours " + std::to_string(t.ours->bytes) +
                        " per " + std::to_string(t.ours->elems));
      continue;
    }
    t.type = gt;
    t.to_float = tr->to_float;
    if (!t.to_float) skipped.push_back(std::string(t.ours->id) + " dequant: ggml has no to_float");
    const ggml_type_traits_cpu* tc = ggml_get_type_traits_cpu(gt);
    if (!tc->vec_dot) {
      skipped.push_back(std::string(t.ours->id) + " gemv: ggml's CPU backend has no vec_dot");
    } else if (tc->vec_dot_type != t.ours->act) {
      // Our GEMV hands over x in our documented encoding; ggml's vec_dot would read it as another.
      skipped.push_back(std::string(t.ours->id) + " gemv: ggml's vec_dot_type is " + ggml_type_name(tc->vec_dot_type) +
                        ", quantbench's activation is " + ggml_type_name(t.ours->act));
    } else {
      t.vec_dot = tc->vec_dot;
    }

    const auto add = [&](const char* suffix, const char* op, qb_dequant_fn dq, qb_gemv_fn gv, uint32_t flags) {
      g_names.push_back(std::string("ggml_") + t.ours->id + "_" + suffix);
      qb_kernel k{};
      k.name = g_names.back().c_str();
      k.format = t.ours->id;
      k.op = op;
      k.isa = ggml_isa_level();
      k.dequant = dq;
      k.gemv = gv;
      k.flags = flags;
      g_kernels.push_back(k);
      return &g_kernels.back();
    };
    const Fns& f = kFns[i];
    if (t.to_float) add("dequant_to_float", "dequant", f.dequant, nullptr, 0);
    if (t.vec_dot) {
      add("gemv_vec_dot", "gemv", nullptr, f.vec_dot, 0);
      add("gemv_mul_mat_rows", "gemv", nullptr, f.mul_mat_rows, QB_KERNEL_BATCH);
#if QB_PLUGIN_ABI_VERSION >= 3
      // The hooks go to both graph kernels: the _rows one uses the prepared repack too.
      g_kernels.back().prepare = f.prepare;
      g_kernels.back().release = f.release;
      qb_kernel* k = add("gemv_mul_mat", "gemv", nullptr, f.mul_mat, QB_KERNEL_BATCH | QB_KERNEL_OWN_THREADS);
      k->prepare = f.prepare;
      k->release = f.release;
#endif
    }
  }
  for (const auto& s : skipped) std::fprintf(stderr, "%s: skipped %s\n", kLib, s.c_str());
  if (g_kernels.empty()) {
    std::fprintf(stderr, "%s: no GGML type of quantbench matches this ggml; no kernels\n", kLib);
    return nullptr;
  }
  g_plugin_name = std::string("ggml ") + ggml_version() + " (" + ggml_commit() + ") CPU backend";
  g_plugin.abi_version = QB_PLUGIN_ABI_VERSION;
  g_plugin.name = g_plugin_name.c_str();
  g_plugin.kernels = g_kernels.data();
  g_plugin.n_kernels = static_cast<int32_t>(g_kernels.size());
  return &g_plugin;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const qb_plugin* qb_plugin_init(void) {
  // The harness may load the library more than once (verify and bench re-open it per --plugin).
  static const qb_plugin* p = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { p = init_once(); });
  return p;
}

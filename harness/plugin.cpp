#include "harness/plugin.h"

#include <dlfcn.h>
#include <omp.h>

#include <cctype>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "harness/backend.h"
#include "harness/cpu_features.h"
#include "harness/prepared.h"
#include "harness/safetensors.h"

namespace qb {
namespace {

// What ABI 3 adds to a kernel beyond its Variant: the per-weight hooks and whether it runs its own
// threads (harness/qb_plugin.h).
struct KernelExtras {
  qb_prepare_fn prepare = nullptr;
  qb_release_fn release = nullptr;
  bool own_threads = false;
};

// A weight as the plugin backend holds it: the CPU backend's host view, and the release hook owed
// for a successful prepare (called when the harness drops the weight).
class PluginWeight : public BackendWeight {
 public:
  PluginWeight(std::unique_ptr<BackendWeight> host, const PreparedWeight& w, const KernelExtras* extras)
      : host(std::move(host)), w(w), extras(extras) {}
  ~PluginWeight() override {
    if (extras && extras->release) extras->release(w.get());
  }
  std::unique_ptr<BackendWeight> host;
  const PreparedWeight& w;
  const KernelExtras* extras;  // null: an ABI 2 kernel or one without extras
};

// A plugin library's kernels run in this process on the host CPU, so the backend hands every call
// to the CPU backend: the same prepared host view and the same OpenMP row split on the format's
// row granule as the registry's own kernels. What it adds is ownership (the dlopen handle stays
// open for the process lifetime: Variants hold raw function pointers into the library) and ABI 3:
// prepare/release around each weight the harness prepares for a kernel, and one call over all
// rows for a kernel with QB_KERNEL_OWN_THREADS.
class PluginBackend : public Backend {
 public:
  PluginBackend(void* handle, std::string name) : handle_(handle), name_(std::move(name)) {}
  void* handle() const { return handle_; }
  std::string_view name() const override { return name_; }
  // Called while loading, before any variant of this library runs.
  void set_extras(const std::string& kernel, const KernelExtras& x) { extras_[kernel] = x; }

  std::unique_ptr<BackendWeight> prepare(const Variant& v, const PreparedWeight& w) const override {
    auto host = cpu_backend().prepare(v, w);
    const auto it = extras_.find(v.name);
    const KernelExtras* x = it == extras_.end() ? nullptr : &it->second;
    if (x && x->prepare) {
      if (const char* why = x->prepare(w.get())) {
        const QWeight& q = w.weight();
        throw std::runtime_error(name_ + ": kernel '" + v.name + "' cannot take this " + q.format->id + " " +
                                 std::to_string(q.rows) + "x" + std::to_string(q.cols) + " weight (its prepare hook: " +
                                 why + ")");
      }
    }
    return std::make_unique<PluginWeight>(std::move(host), w, x);
  }

  void run(const Variant& v, const BackendWeight& bw, const uint8_t* act, int64_t m, void* out,
           int threads) const override {
    const auto& pw = static_cast<const PluginWeight&>(bw);
    if (pw.extras && pw.extras->own_threads) return run_own_threads(v, pw.w, act, m, out, threads);
    cpu_backend().run(v, *pw.host, act, m, out, threads);
  }
  void fetch(const Variant& v, const BackendWeight& bw, void* out) const override {
    cpu_backend().fetch(v, *static_cast<const PluginWeight&>(bw).host, out);
  }

 private:
  // QB_KERNEL_OWN_THREADS: one call over the whole extent from this thread, with the run's thread
  // count as this thread's OpenMP default for the call (the kernel reads omp_get_max_threads()).
  static void run_own_threads(const Variant& v, const PreparedWeight& pw, const uint8_t* act, int64_t m, void* out,
                              int threads) {
    const QWeight& w = pw.weight();
    const qb_weight* cw = pw.get();
    const int64_t extent = call_extent(*w.format, w.rows);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    if (is_decode16(v.op)) {
      v.dequant16(cw, 0, extent, static_cast<uint16_t*>(out));
    } else if (v.op != Op::gemv) {
      v.dequant(cw, 0, extent, static_cast<float*>(out));
    } else if (v.batches) {
      v.gemv(cw, act, m, 0, extent, static_cast<float*>(out));
    } else {
      const std::size_t stride = w.format->activation ? w.format->activation->bytes(w.cols) : 0;
      for (int64_t i = 0; i < m; ++i) v.gemv(cw, act + i * stride, 1, 0, extent, static_cast<float*>(out) + i * w.rows);
    }
    omp_set_num_threads(saved);
  }

  void* handle_;  // never dlclose()d
  std::string name_;
  std::unordered_map<std::string, KernelExtras> extras_;
};

// ABI 2's qb_kernel, frozen: an ABI 3 qb_kernel without the trailing hooks. A library built for
// ABI 2 lays its kernel array out with this stride, so it is read through this struct.
struct KernelV2 {
  const char* name;
  const char* format;
  const char* op;
  const char* isa;
  qb_dequant_fn dequant;
  qb_gemv_fn gemv;
  uint32_t flags;
  qb_dequant16_fn dequant16;
};
static_assert(offsetof(qb_kernel, prepare) == sizeof(KernelV2), "ABI 3 only appends to ABI 2's qb_kernel");

// Kernel i of the library, as an ABI 3 qb_kernel whatever version it was built for.
qb_kernel kernel_at(const qb_plugin& p, int32_t i) {
  if (p.abi_version >= 3) return p.kernels[i];
  const KernelV2& k = reinterpret_cast<const KernelV2*>(p.kernels)[i];
  return qb_kernel{k.name, k.format, k.op, k.isa, k.dequant, k.gemv, k.flags, k.dequant16, nullptr, nullptr};
}

// One backend per loaded library, alive until the process exits (deliberately never destroyed:
// variants in static storage may outlive any destruction order).
PluginBackend* backend_for(void* handle, const std::string& file_name) {
  static std::mutex mu;
  static auto* backends = new std::vector<std::unique_ptr<PluginBackend>>;
  const std::lock_guard<std::mutex> lock(mu);
  for (const auto& b : *backends)
    if (b->handle() == handle) {
      dlclose(handle);  // the first load keeps its reference
      return b.get();
    }
  backends->push_back(std::make_unique<PluginBackend>(handle, "plugin:" + file_name));
  return backends->back().get();
}

// Closes the library unless it was handed to a backend.
struct HandleGuard {
  void* handle;
  ~HandleGuard() {
    if (handle) dlclose(handle);
  }
};

bool valid_name(const std::string& s) {
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return !s.empty();
}

std::string quoted(const char* s) { return s ? "'" + std::string(s) + "'" : "null"; }

}  // namespace

std::vector<Variant> load_plugin(const std::string& path, const std::vector<Variant>& pool) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) throw FileError(path, "", "no plugin library given");
  if (!fs::exists(path, ec)) throw FileError(path, "", "no such file (a plugin is a shared library, e.g. ./libmine.so)");
  if (fs::is_directory(path, ec)) throw FileError(path, "", "is a folder, not a shared library");

  // A bare file name would make dlopen search the system library path instead of this folder.
  const std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  HandleGuard lib{dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL)};
  if (!lib.handle) {
    const char* err = dlerror();
    throw FileError(path, "", std::string("dlopen failed: ") + (err ? err : "unknown error"));
  }
  dlerror();
  void* sym = dlsym(lib.handle, QB_PLUGIN_INIT_SYMBOL);
  if (!sym)
    throw FileError(path, QB_PLUGIN_INIT_SYMBOL,
                    "symbol not exported; a plugin defines `const qb_plugin* " QB_PLUGIN_INIT_SYMBOL
                    "(void)` with C linkage (harness/qb_plugin.h)");
  qb_plugin_init_fn init;
  static_assert(sizeof init == sizeof sym, "function and object pointers differ in size");
  std::memcpy(&init, &sym, sizeof init);
  const qb_plugin* p = init();
  if (!p) throw FileError(path, QB_PLUGIN_INIT_SYMBOL, "returned null");
  if (p->abi_version < QB_PLUGIN_ABI_VERSION_MIN || p->abi_version > QB_PLUGIN_ABI_VERSION)
    throw FileError(path, "abi_version",
                    "is " + std::to_string(p->abi_version) + "; this quantbench loads ABI versions " +
                        std::to_string(QB_PLUGIN_ABI_VERSION_MIN) + " to " + std::to_string(QB_PLUGIN_ABI_VERSION) +
                        " (rebuild the plugin against its qb_plugin.h)");
  if (p->n_kernels <= 0)
    throw FileError(path, "n_kernels", "is " + std::to_string(p->n_kernels) + "; a plugin registers at least one kernel");
  if (!p->kernels) throw FileError(path, "kernels", "is null with n_kernels " + std::to_string(p->n_kernels));

  std::set<std::string> mine;
  std::vector<Variant> out;
  std::vector<std::pair<std::string, KernelExtras>> extras;
  const std::string lib_file = fs::path(path).filename().string();

  for (int32_t i = 0; i < p->n_kernels; ++i) {
    const qb_kernel k = kernel_at(*p, i);
    const std::string at = "kernels[" + std::to_string(i) + "]";
    const auto fail = [&](const std::string& field, const std::string& message) {
      return FileError(path, at + "." + field, (k.name ? "kernel '" + std::string(k.name) + "': " : "") + message);
    };
    if (!k.name || !valid_name(k.name))
      throw fail("name", "is " + quoted(k.name) + "; a kernel name is letters, digits, '_', '-' and '.'");
    const std::string name = k.name;
    if (!mine.insert(name).second) throw fail("name", "the plugin registers this name twice");
    for (const Variant& v : pool)
      if (v.name == name) throw fail("name", "clashes with a variant already registered (from " + v.origin + ")");

    const Format* f = k.format ? find_format(k.format) : nullptr;
    if (!f) throw fail("format", quoted(k.format) + " is not a registered format; implemented: " + implemented_format_ids(", "));
    if (!f->implemented())
      throw fail("format", quoted(k.format) + " has no reference in this quantbench to check against; implemented: " +
                               implemented_format_ids(", "));

    const std::string op_s = k.op ? k.op : "";
    Op op;
    if (!parse_op(op_s, op))
      throw fail("op", "is " + quoted(k.op) + "; one of 'dequant', 'inner', 'gemv', 'dequant_f16', 'dequant_bf16'");
    if (op == Op::inner && !f->inner_ref)
      throw fail("op", "format '" + f->id + "' has no inner decode; its ops are dequant and gemv");
    if (op == Op::gemv && !f->gemv_ref) throw fail("op", "format '" + f->id + "' has no reference GEMV");
    if (is_decode16(op) && (!f->dequant_ref || f->dequant_bounds))
      throw fail("op", "format '" + f->id + "' has no exact fp32 decode to round to 16 bits");
    if ((op == Op::dequant || op == Op::inner) && !k.dequant) throw fail("dequant", "is null for op '" + op_s + "'");
    if (is_decode16(op) && !k.dequant16) throw fail("dequant16", "is null for op '" + op_s + "'");
    if (op == Op::gemv && !k.gemv) throw fail("gemv", "is null for op 'gemv'");

    const auto features = k.isa ? isa_level_features(k.isa) : std::nullopt;
    if (!features) throw fail("isa", "is " + quoted(k.isa) + "; one of " + isa_level_names(", "));

    const uint32_t known_flags =
        QB_KERNEL_BATCH | QB_KERNEL_ANY_NAN | (p->abi_version >= 3 ? QB_KERNEL_OWN_THREADS : 0u);
    if (k.flags & ~known_flags) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>(k.flags & ~known_flags));
      throw fail("flags", std::string("has unknown bits ") + hex +
                              (p->abi_version < 3 && (k.flags & QB_KERNEL_OWN_THREADS) ? " (QB_KERNEL_OWN_THREADS is ABI 3)" : ""));
    }
    if ((k.flags & QB_KERNEL_BATCH) && op != Op::gemv)
      throw fail("flags", "QB_KERNEL_BATCH is for gemv kernels, this one is '" + op_s + "'");

    Variant v;
    v.name = name;
    v.format = f->id;
    v.op = op;
    v.target.features = *features;
    v.target.name = k.isa;
    if (op == Op::gemv)
      v.gemv = k.gemv;
    else if (is_decode16(op))
      v.dequant16 = k.dequant16;
    else
      v.dequant = k.dequant;
    v.batches = (k.flags & QB_KERNEL_BATCH) != 0;
    v.nan = (k.flags & QB_KERNEL_ANY_NAN) ? NanPolicy::any_nan : NanPolicy::exact_bits;
    v.reference = false;
    v.origin = path;
    if (k.prepare || k.release || (k.flags & QB_KERNEL_OWN_THREADS))
      extras.emplace_back(name, KernelExtras{k.prepare, k.release, (k.flags & QB_KERNEL_OWN_THREADS) != 0});
    out.push_back(std::move(v));
  }

  // Every kernel is valid: the library stays loaded, owned by its backend.
  PluginBackend* backend = backend_for(lib.handle, lib_file);
  lib.handle = nullptr;
  for (const auto& [name, x] : extras) backend->set_extras(name, x);
  for (Variant& v : out) v.target.backend = backend;
  return out;
}

std::vector<Variant> load_plugin(const std::string& path) { return load_plugin(path, variants()); }

}  // namespace qb

#include "harness/plugin.h"

#include <dlfcn.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "harness/backend.h"
#include "harness/cpu_features.h"
#include "harness/safetensors.h"

namespace qb {
namespace {

// A plugin library's kernels run in this process on the host CPU, so the backend hands every call
// to the CPU backend: the same prepared host view and the same OpenMP row split on the format's
// row granule as the registry's own kernels. What it adds is ownership: the dlopen handle stays
// open for the process lifetime (Variants hold raw function pointers into the library).
class PluginBackend : public Backend {
 public:
  PluginBackend(void* handle, std::string name) : handle_(handle), name_(std::move(name)) {}
  void* handle() const { return handle_; }
  std::string_view name() const override { return name_; }
  std::unique_ptr<BackendWeight> prepare(const Variant& v, const PreparedWeight& w) const override {
    return cpu_backend().prepare(v, w);
  }
  void run(const Variant& v, const BackendWeight& w, const uint8_t* act, int64_t m, void* out,
           int threads) const override {
    cpu_backend().run(v, w, act, m, out, threads);
  }
  void fetch(const Variant& v, const BackendWeight& w, void* out) const override { cpu_backend().fetch(v, w, out); }

 private:
  void* handle_;  // never dlclose()d
  std::string name_;
};

// One backend per loaded library, alive until the process exits (deliberately never destroyed:
// variants in static storage may outlive any destruction order).
const PluginBackend* backend_for(void* handle, const std::string& file_name) {
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
  if (p->abi_version != QB_PLUGIN_ABI_VERSION)
    throw FileError(path, "abi_version",
                    "is " + std::to_string(p->abi_version) + "; this quantbench loads ABI version " +
                        std::to_string(QB_PLUGIN_ABI_VERSION) + " (rebuild the plugin against its qb_plugin.h)");
  if (p->n_kernels <= 0)
    throw FileError(path, "n_kernels", "is " + std::to_string(p->n_kernels) + "; a plugin registers at least one kernel");
  if (!p->kernels) throw FileError(path, "kernels", "is null with n_kernels " + std::to_string(p->n_kernels));

  std::set<std::string> mine;
  std::vector<Variant> out;
  const std::string lib_file = fs::path(path).filename().string();

  for (int32_t i = 0; i < p->n_kernels; ++i) {
    const qb_kernel& k = p->kernels[i];
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

    constexpr uint32_t kKnownFlags = QB_KERNEL_BATCH | QB_KERNEL_ANY_NAN;
    if (k.flags & ~kKnownFlags) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>(k.flags & ~kKnownFlags));
      throw fail("flags", std::string("has unknown bits ") + hex);
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
    out.push_back(std::move(v));
  }

  // Every kernel is valid: the library stays loaded, owned by its backend.
  const PluginBackend* backend = backend_for(lib.handle, lib_file);
  lib.handle = nullptr;
  for (Variant& v : out) v.target.backend = backend;
  return out;
}

std::vector<Variant> load_plugin(const std::string& path) { return load_plugin(path, variants()); }

}  // namespace qb

// External kernels through the plain C ABI of harness/qb_plugin.h: a shared library exporting
// qb_plugin_init() becomes a list of Variants that `verify` and `bench` check and time exactly
// like the registry's own (same selection by CPU features and --isa, same fixtures and reports).
#pragma once
#include <string>
#include <vector>

#include "harness/registry.h"

namespace qb {

// dlopen()s the library at `path` (RTLD_NOW | RTLD_LOCAL; a path without '/' is taken relative to
// the working directory, never searched for on the library path), calls qb_plugin_init and turns
// every qb_kernel into a Variant: origin = `path`, target = {the library's backend ("plugin:<file
// name>", which runs the kernels on this CPU with the harness's OpenMP row split), the features
// of the kernel's ISA level, the level's name}. The library stays loaded for the rest of the
// process. Throws FileError (harness/safetensors.h) naming the library and the field or kernel at
// fault: a missing file, a dlopen error, no init symbol, an ABI version other than 2 or 3, an
// unknown or unimplemented format, an op the format lacks or whose function pointer is null, an
// unknown ISA level or flag, a name used twice or already in `pool`. ABI 2 libraries are read with
// ABI 2's qb_kernel layout. ABI 3 kernels' prepare/release hooks run around every weight the
// backend prepares for them (Backend::prepare, and the BackendWeight's destruction; a prepare that
// refuses the weight throws std::runtime_error naming the kernel, the weight and its message), and a
// QB_KERNEL_OWN_THREADS kernel is called once per op over all rows with the run's thread count as
// the calling thread's OpenMP default.
std::vector<Variant> load_plugin(const std::string& path, const std::vector<Variant>& pool);
// Name clashes checked against the registry's variants().
std::vector<Variant> load_plugin(const std::string& path);

}  // namespace qb

#!/usr/bin/env bash
# Installs the peer that quantbench's GEMV numbers are compared with: llama.cpp's own ggml CPU
# backend, as the PyPI package llama-cpp-python==0.3.36 vendors it, built for this CPU
# (GGML_NATIVE=ON), into build-peer/ggml; then builds against it benches/peer/ggml_mul_mat_bench.cpp
# into build-peer/bin/ggml-mul-mat-bench and the plugin benches/peer/ggml_plugin.cpp (ggml's kernels
# through harness/qb_plugin.h, for verify/bench --plugin) into build-peer/lib/libqb_ggml_peer.so.
# Idempotent: each step is skipped when its output is there (the timing program and the plugin are
# rebuilt only when a source, or the ggml install, is newer than what was built).
# Needs network (PyPI) for the first run only. Env: JOBS (default 2), NICE (default 10).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
peer="$root/build-peer"
version=0.3.36
jobs="${JOBS:-2}"
nice=(nice -n "${NICE:-10}")

prefix="$peer/ggml"
stamp="$prefix/.llama-cpp-python-$version"
if [ ! -f "$stamp" ]; then
  src="$peer/src"
  mkdir -p "$src"
  tarball="$src/llama_cpp_python-$version.tar.gz"
  if [ ! -f "$tarball" ]; then
    # The sdist, not a wheel: a wheel's libggml is built for a generic CPU, and the peer has to be
    # the best ggml this machine can run.
    python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$src"
  fi
  tree="$src/llama_cpp_python-$version"
  [ -d "$tree" ] || tar -xzf "$tarball" -C "$src"
  # ggml alone (no libllama, tools, examples or tests), wrapped by benches/peer/CMakeLists.txt.
  # No ccache: a one-off build, and the cache is shared with quantbench's own builds.
  cmake -S "$root/benches/peer" -B "$src/build" -G Ninja -DGGML_SOURCE_DIR="$tree/vendor/llama.cpp/ggml" \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON -DGGML_CCACHE=OFF \
    -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  "${nice[@]}" cmake --build "$src/build" -j "$jobs"
  rm -rf "$prefix"
  cmake --install "$src/build"
  touch "$stamp"
fi

bench_src="$root/benches/peer/ggml_mul_mat_bench.cpp"
bench_bin="$peer/bin/ggml-mul-mat-bench"
if [ ! -x "$bench_bin" ] || [ "$bench_src" -nt "$bench_bin" ] || [ "$stamp" -nt "$bench_bin" ]; then
  mkdir -p "$peer/bin"
  # rpath: the binary finds this libggml, never a system one.
  "${nice[@]}" g++ -std=c++17 -O2 -Wall -Wextra -I"$prefix/include" "$bench_src" -o "$bench_bin" \
    -L"$prefix/lib" -lggml -lggml-cpu -lggml-base -Wl,-rpath,"$prefix/lib" -pthread
fi
echo "peer: $bench_bin"

plugin_src="$root/benches/peer/ggml_plugin.cpp"
plugin_map="$root/benches/peer/ggml_plugin.map"
plugin_lib="$peer/lib/libqb_ggml_peer.so"
stale=0
for dep in "$plugin_src" "$plugin_map" "$root/harness/qb_plugin.h" "$stamp"; do
  [ "$dep" -nt "$plugin_lib" ] && stale=1
done
if [ ! -f "$plugin_lib" ] || [ "$stale" = 1 ]; then
  mkdir -p "$peer/lib"
  # Only qb_plugin.h from quantbench (the ABI is plain C, no quantbench library). -fopenmp: the
  # QB_KERNEL_OWN_THREADS kernels read the harness's thread count with omp_get_max_threads(), from
  # the same libgomp that ggml-cpu runs its threads on. The version script exports qb_plugin_init
  # alone; rpath: this libggml, never a system one.
  "${nice[@]}" g++ -std=c++17 -O2 -Wall -Wextra -fPIC -shared -fvisibility=hidden -fopenmp \
    -I"$root/harness" -I"$prefix/include" "$plugin_src" -o "$plugin_lib" \
    -L"$prefix/lib" -lggml -lggml-cpu -lggml-base -Wl,-rpath,"$prefix/lib" \
    -Wl,--no-undefined -Wl,--version-script="$plugin_map"
fi
echo "peer plugin: $plugin_lib"

#!/usr/bin/env bash
# Configures and builds everything into build/ (binaries in build/bin), with the mutant kernels
# of tests/mutants (plugins in build/lib/mutants) that ci/mutants.sh checks verify catches.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache (used when installed): paths relative to the checkout, wherever it is cloned.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQB_MUTANTS=ON
cmake --build build

#!/usr/bin/env bash
# The sanitizer tier: everything built with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DQB_SANITIZE=ON, CMakeLists.txt) into its own folder, then the whole ctest suite there: every
# GoogleTest case and verify on the committed fixtures. The first report aborts its test with a
# stack (-fno-sanitize-recover=all, halt_on_error), so any finding fails the tier.
#
#   ci/sanitize.sh [BUILD_DIR]      (default: build-asan; run from anywhere)
#
# -O1 -g1: line numbers in the reports at the least compile time the 30-minute CI budget allows.
# The mutant plugins are left out (deliberately wrong kernels, checked by the normal tier).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache (used when installed): paths relative to the checkout, wherever it is cloned.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
build=${1:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DQB_SANITIZE=ON -DQB_MUTANTS=OFF
cmake --build "$build"
# Leaks count as findings too; a UBSan report carries its stack like an ASan one.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:report_error_type=1
ctest --test-dir "$build" --output-on-failure -j2

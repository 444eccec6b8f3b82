#!/usr/bin/env bash
# Fresh machine to first numbers: install what is missing, build, run bench on its default
# (q4_0 GEMV on the LLaMA-7B shapes). Extra arguments go to bench.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
ci/build.sh
build/bin/bench "$@"

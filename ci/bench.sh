#!/usr/bin/env bash
# Fresh machine to first numbers: install what is missing, build, run bench (q4_0 GEMV on the
# LLaMA-7B shapes unless the arguments say otherwise; they go to bench, the last one wins).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
ci/build.sh
build/bin/bench --format q4_0 "$@"

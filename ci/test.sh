#!/usr/bin/env bash
# Install what is missing, build, run every test (GoogleTest suites and verify on the
# committed fixtures) through ctest; the regression gate against this machine class's baseline
# (ci/regression.sh); then the same suite again under ASan and UBSan (ci/sanitize.sh, its own
# build folder).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
ci/build.sh
ctest --test-dir build --output-on-failure -j2
ci/regression.sh build
ci/sanitize.sh

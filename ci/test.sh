#!/usr/bin/env bash
# Install what is missing, build, run every test (GoogleTest suites and verify on the
# committed fixtures) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
ci/build.sh
ctest --test-dir build --output-on-failure -j2

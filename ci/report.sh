#!/usr/bin/env bash
# The standard report run: GEMV of one format per family (and GGML's main types) at one real shape
# each, DRAM-resident, 1 and 2 threads, 3 repetitions, merged by `bench --report` into
# DIR/<hardware id>/<version>-<commit>.json; with the ggml peer plugin when ci/peers.sh built it
# (its rows beside ours). Then `reports/dashboard.py` over every report in DIR renders DIR/site.
#
#   ci/report.sh [DIR] [BUILD_DIR]     (default: reports/results build; about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-reports/results}
build=${2:-build}
bench=$build/bin/bench
peer=build-peer/lib/libqb_ggml_peer.so
plugin=()
[[ -f $peer ]] && plugin=(--plugin "$peer")
for threads in 1 2; do
  common=(--threads "$threads" --benchmark_repetitions=3 "--benchmark_filter=-_ref/" --report "$dir")
  for f in q4_0 q8_0 q4_K q6_K; do
    "$bench" --format "$f" --shape 11008x4096 "${plugin[@]}" "${common[@]}"
  done
  "$bench" --format exl3 --bits 2,4 --codebook mcg --shape 4096x4096 "${common[@]}"
  "$bench" --format exl2 --shape 8192x8192 "${common[@]}"
  "$bench" --format mlc_q4f16_1 --shape 11008x4096 "${common[@]}"
  "$bench" --format bitnet_i2_s --shape 6912x2560 "${common[@]}"
done
python3 reports/dashboard.py "$dir"/*/*.json --out "$dir/site"

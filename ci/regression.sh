#!/usr/bin/env bash
# Regression gate: a short bench on this machine, compared with the committed baseline for its
# hardware id (reports/baseline/<hardware id>.json) by reports/compare.py; skipped, and says so,
# where no baseline matches this machine class.
#
#   ci/regression.sh [BUILD_DIR]            gate (exit 1 on a significant slowdown)
#   ci/regression.sh --update [BUILD_DIR]   write this machine's baseline instead
#
# The rows: GEMV of a few formats at 4096x4096, 1 thread, --warm (cache-resident: the kernels'
# own speed; DRAM-bound rows swing with a shared machine's bandwidth), 9 repetitions each so the
# Mann-Whitney U test can separate a real change from noise. Threshold 50%: this VM's repeated
# runs of one commit differ by up to ~32% on a row (q4_K AVX2 in one CI run); the gate is for
# slowdowns nobody would call noise.
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
if [[ ${1:-} == --update ]]; then
  update=1
  shift
fi
build=${1:-build}
bench=$build/bin/bench
hw=$("$bench" --hardware-id)
baseline=reports/baseline/$hw.json
if [[ $update == 0 && ! -f $baseline ]]; then
  echo "regression gate: skipped: no baseline for hardware id $hw (reports/baseline/ has:" \
    "$(cd reports/baseline 2>/dev/null && ls -- *.json 2>/dev/null | sed 's/\.json$//' | tr '\n' ' '))"
  exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--threads 1 --warm --shape 4096x4096 --benchmark_repetitions=9 --benchmark_min_time=0.05
  "--benchmark_filter=-_ref/" --report "$out")
"$bench" --format q4_0 "${common[@]}" >/dev/null
"$bench" --format q4_K "${common[@]}" >/dev/null
"$bench" --format exl3 --bits 4 --codebook mcg "${common[@]}" >/dev/null
"$bench" --format mlc_q4f16_1 "${common[@]}" >/dev/null
run=$(ls "$out/$hw"/*.json)
if [[ $update == 1 ]]; then
  mkdir -p reports/baseline
  cp "$run" "$baseline"
  echo "regression gate: baseline written: $baseline"
  exit 0
fi
python3 reports/compare.py --threshold 0.5 "$baseline" "$run"

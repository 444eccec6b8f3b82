#!/usr/bin/env bash
# bench --report: two runs of one commit merge into one file at DIR/<hardware id>/<version>-<commit>.json
# (Google Benchmark JSON); a rerun replaces its rows; an unwritable folder and a report of another
# machine class are refused with exit 2 and the file named.
#   tests/bench_report_test.sh BENCH
set -euo pipefail
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
quick=(--threads 1 --warm --benchmark_min_time=0.001)

hw=$("$bench" --hardware-id)
[[ $hw =~ ^[a-z0-9]+(-[a-z0-9.]+)+-[0-9]+c-[a-z0-9]+$ ]] || fail "hardware id '$hw' is not vendor-...-Nc-isa"
"$bench" --format q4_0 --shape 64x256 "${quick[@]}" --report "$dir" >/dev/null 2>"$dir/err1"
"$bench" --format q8_0 --shape 64x256 "${quick[@]}" --benchmark_repetitions=2 --report "$dir" >/dev/null 2>"$dir/err2"
files=("$dir/$hw"/*.json)
[[ ${#files[@]} == 1 ]] || fail "expected one report file, got: ${files[*]}"
report=${files[0]}
grep -q "^report: $report\$" "$dir/err2" || fail "bench did not name the report it wrote"
[[ $(basename "$report") =~ ^[0-9A-Za-z.]+-[0-9a-z-]+\.json$ ]] || fail "report name $(basename "$report")"
check() {
  python3 - "$report" "$hw" "$1" <<'PY'
import json, sys
path, hw, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(path))
c = d["context"]
assert c["hardware_id"] == hw, c["hardware_id"]
for key in ("quantbench_version", "git_commit", "build_type", "cpu_model", "cpu_flags", "compiler", "cxx_flags",
            "probe_read_GBps_threads_1", "date", "caches", "loadavg_1_5_15min"):
    assert key in c, "context lacks " + key
names = [b["name"] for b in d["benchmarks"]]
assert any(n.startswith("q4_0/gemv/") for n in names), "q4_0 rows lost in the merge"
assert any(n.startswith("q8_0/gemv/") for n in names), "q8_0 rows missing"
iters = [b for b in d["benchmarks"] if b["name"].startswith("q8_0/") and b.get("run_type") == "iteration"]
per = {}
for b in iters:
    per.setdefault(b["run_name"], []).append(b["repetition_index"])
assert per and all(sorted(v) == [0, 1] for v in per.values()), per
isa = json.loads(c["variant_isa"])
assert any(k.startswith("q4_0_") for k in isa) and any(k.startswith("q8_0_") for k in isa), isa
assert len(d["quantbench_runs"]) == runs, len(d["quantbench_runs"])
print(len(d["benchmarks"]))
PY
}
rows=$(check 2) || fail "merged report"
# A rerun of q8_0 replaces its rows: same row count, one more run recorded.
"$bench" --format q8_0 --shape 64x256 "${quick[@]}" --benchmark_repetitions=2 --report "$dir" >/dev/null 2>&1
[[ $(check 3) == "$rows" ]] || fail "a rerun changed the row count"

# Refusals: a report written on another machine class, a folder that cannot be made.
python3 - "$report" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["context"]["hardware_id"] = "other-cpu-1c-sse2"
json.dump(d, open(sys.argv[1], "w"))
PY
set +e
"$bench" --format q4_0 --shape 64x256 "${quick[@]}" --report "$dir" >/dev/null 2>"$dir/err3"
rc=$?
set -e
[[ $rc == 2 ]] || fail "a foreign report: exit $rc, want 2"
grep -q "hardware_id" "$dir/err3" || fail "the refusal does not name the field: $(cat "$dir/err3")"
touch "$dir/file"
set +e
"$bench" --format q4_0 --shape 64x256 "${quick[@]}" --report "$dir/file/sub" >/dev/null 2>"$dir/err4"
rc=$?
set -e
[[ $rc != 0 ]] || fail "an unwritable report folder was accepted"
grep -q -- "--report" "$dir/err4" || fail "the refusal does not name --report: $(cat "$dir/err4")"
echo "bench --report: OK ($rows rows in $(basename "$report"))"

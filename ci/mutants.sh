#!/usr/bin/env bash
# Mutation testing (tests/mutants/): runs verify on every mutant kernel plugin and expects each to
# be caught. A build configured with -DQB_MUTANTS=ON holds lib/mutants/libqb_mutant_<id>.so, one
# per line of tests/mutants/mutants.inc (one small bug in one of our kernels each).
#
#   ci/mutants.sh [BUILD_DIR]      (default: build; run from anywhere)
#
# Per mutant: `verify --plugin LIB --variant mutant_<id> fixtures`, exit 1 = caught, 0 = missed,
# anything else (crash, timeout, load error) = error; then the randomized variant tests on the same
# kernel (QB_PLUGIN=LIB quantbench_tests --gtest_filter=Registry/VariantTest.*/mutant_<id>),
# reported beside it. Prints one line per mutant (id, kind, kernel, verify: caught/missed/error,
# tests: caught/missed, the first FAIL line), then the totals. Exit 0 only when verify catches
# every mutant this CPU can run (it is what kernel authors run); the others are listed as NOT RUN.
# Extra verify options (e.g. --threads 3) can be given in QB_MUTANT_VERIFY_ARGS; mutants are
# checked QB_MUTANT_JOBS at a time (default: nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
list=tests/mutants/mutants.inc
verify=$build/bin/verify
libdir=$build/lib/mutants
per_run_timeout=${QB_MUTANT_TIMEOUT:-300}
read -r -a extra <<<"${QB_MUTANT_VERIFY_ARGS:-}"

if [[ ! -x $verify ]]; then
  echo "ci/mutants.sh: no $verify (build the verify target)" >&2
  exit 2
fi

tests=$build/bin/quantbench_tests
jobs=${QB_MUTANT_JOBS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Checks one mutant; prints its report line, prefixed by its tally token (caught, missed, error or
# notrun, then the variant tests' caught/missed/-) for the summary below.
check() {
  local id=$1 kernel=$2 kind=$3
  local lib=$libdir/libqb_mutant_$id.so out rc first_fail lacks status tests_status=-
  if [[ ! -f $lib ]]; then
    printf 'error - %-34s %-10s %-22s ERROR   no %s (configure with -DQB_MUTANTS=ON and build target mutants)\n' \
      "$id" "$kind" "$kernel" "$lib"
    return
  fi
  out=$(timeout "$per_run_timeout" "$verify" --plugin "$lib" --variant "mutant_$id" "${extra[@]}" fixtures 2>&1)
  rc=$?
  first_fail=$(grep -m1 '^FAIL' <<<"$out")
  # A kernel this CPU cannot run fails verify ("ran on none of the inputs") without being caught:
  # it is counted apart, never as caught.
  lacks=$(grep -m1 -o "mutant_$id \[[^]]*\]  CPU lacks [a-z0-9 ]*" <<<"$out" | sed 's/.*CPU lacks //')
  if [[ -n $lacks ]] && ! grep -q "^\(PASS\|FAIL\)  .*mutant_$id " <<<"$out"; then
    printf 'notrun - %-34s %-10s %-22s NOT RUN  this CPU lacks %s\n' "$id" "$kind" "$kernel" "$lacks"
    return
  fi
  case $rc in
    1) status=caught ;;
    0) status=missed first_fail="" ;;
    124) status=ERROR first_fail="verify timed out after ${per_run_timeout}s" ;;
    *) status=ERROR first_fail="verify exit $rc: $(grep -v '^\(PASS\|SKIP\)' <<<"$out" | tail -n 1)" ;;
  esac
  if [[ -x $tests ]]; then
    if QB_PLUGIN=$lib QB_SEED=${QB_SEED:-1} timeout "$per_run_timeout" "$tests" \
      --gtest_filter="Registry/VariantTest.MatchesReferenceOnRandomInputs/mutant_$id" >/dev/null 2>&1; then
      tests_status=missed
    else
      tests_status=caught
    fi
  fi
  printf '%s %s %-34s %-10s %-22s verify %-7s tests %-7s %s\n' "${status,,}" "$tests_status" "$id" "$kind" "$kernel" \
    "$status" "$tests_status" "$first_fail"
}

# `jobs` mutants at a time (each verify and test run is one process), reports in list order.
n=0
while IFS= read -r line; do
  re='^QB_MUTANT\(([A-Za-z0-9_]+), *([A-Za-z0-9_]+), *([a-z_]+), *"(.*)"\)$'
  [[ $line =~ ^QB_MUTANT\( ]] || continue
  if [[ ! $line =~ $re ]]; then
    echo "ci/mutants.sh: $list: malformed line: $line" >&2
    exit 2
  fi
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
  check "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" >"$tmp/$(printf %04d $n)" &
  n=$((n + 1))
done <"$list"
wait

total=0 caught=0 errors=0 tests_caught=0 not_run=0
for f in "$tmp"/*; do
  read -r tally tests_tally report <"$f"
  total=$((total + 1))
  case $tally in
    caught) caught=$((caught + 1)) ;;
    notrun) not_run=$((not_run + 1)) ;;
    missed) ;;
    *) errors=$((errors + 1)) ;;
  esac
  [[ $tests_tally == caught ]] && tests_caught=$((tests_caught + 1))
  echo "$report"
done

ran=$((total - not_run))
echo "variant tests caught $tests_caught/$ran"
if ((errors)); then
  echo "verify caught $caught/$ran ($errors errors)"
else
  echo "verify caught $caught/$ran"
fi
((not_run)) && echo "$not_run of $total mutants not run: their kernels need ISA extensions this CPU lacks (run on such a CPU to check them)"
[[ $ran -gt 0 && $caught -eq $ran ]]

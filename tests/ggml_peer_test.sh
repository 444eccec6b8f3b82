#!/usr/bin/env bash
# Upstream ggml as a peer through the plugin ABI (benches/peer/ggml_plugin.cpp, built by
# ci/peers.sh into build-peer/lib/libqb_ggml_peer.so): verify must load it and hold ggml's own
# kernels to our references the way benches/peer/README.md says they are held.
#   1. Upstream's vectors (--fixture-only, every type in fixtures/ggml): ggml's to_float, vec_dot and
#      mul_mat (plain and repacked, harness rows and ggml's own threads) all pass: decode bit-exact,
#      GEMV within the bound, the same bits at 1, 2 and 3 threads.
#   2. Every derived case (shifted, trimmed, special scales, exact inputs, batch sweep) on types whose
#      activation is q8_K or q8_1, repacked (q4_K; q2_K with AVX-512) and plain: all pass.
#   3. The q8_0-paired types: a failure may only come from the cases that plant int8 -128 activation
#      codes ([special activation scales], [exact inputs]), which ggml's x86 sign-trick dot products
#      negate wrongly and ggml's requantization (repacked path) changes; anything else fails.
# Exit 77 (ctest SKIP_RETURN_CODE) when the plugin has not been built.
# Usage: tests/ggml_peer_test.sh BUILD_DIR (run from anywhere; paths are the checkout's)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:?usage: ggml_peer_test.sh BUILD_DIR}"
verify="$build/bin/verify"
plugin="$root/build-peer/lib/libqb_ggml_peer.so"
if [ ! -f "$plugin" ]; then
  echo "SKIP: $plugin is not built (ci/peers.sh builds it; needs network once)"
  exit 77
fi
cd "$root"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail=0

# 1. Upstream's own vectors. verify exits 1 here even without the plugin (two iq4_nl .chunk
# fixtures hold only UNTRUSTED expectations, so "nothing checked"): judged by the ggml kernels' lines.
rc=0
"$verify" --plugin "$plugin" --fixture-only fixtures/ggml >"$out/fixtures.txt" 2>&1 || rc=$?
if [ "$rc" -gt 1 ] || grep -E "^FAIL" "$out/fixtures.txt" | grep -q "  ggml_"; then
  echo "FAIL: verify --fixture-only fixtures/ggml with the ggml plugin (exit $rc):"
  grep -E "^FAIL|error|refus" "$out/fixtures.txt" | grep -v "nothing checked" | head -20
  fail=1
fi
# Every kind of kernel the plugin registers ran (a plugin that registered nothing would pass).
for kind in dequant_to_float gemv_vec_dot gemv_mul_mat_rows gemv_mul_mat; do
  n=$(grep -cE "^PASS .*  ggml_[a-z0-9_A-Z]+_${kind} \[" "$out/fixtures.txt" || true)
  if [ "$n" -eq 0 ]; then
    echo "FAIL: no PASS line of a ggml_<type>_${kind} kernel in verify --fixture-only fixtures/ggml"
    fail=1
  fi
done
tail -1 "$out/fixtures.txt"

# 2. Derived cases where ggml and our references agree throughout.
if ! "$verify" --plugin "$plugin" fixtures/ggml/q4_K fixtures/ggml/q2_K fixtures/ggml/q6_K fixtures/ggml/q4_1 \
  fixtures/ggml/iq2_xxs >"$out/derived.txt" 2>&1; then
  echo "FAIL: verify with the ggml plugin on q4_K, q2_K, q6_K, q4_1, iq2_xxs (every derived case):"
  grep -E "^FAIL|error|refus" "$out/derived.txt" | head -20
  fail=1
fi
tail -1 "$out/derived.txt"

# 3. q8_0-paired: failures confined to the cases with -128 activation codes.
"$verify" --plugin "$plugin" fixtures/ggml/q4_0 fixtures/ggml/q8_0 >"$out/q8_0.txt" 2>&1 || true
if grep -q "^error\|refus" "$out/q8_0.txt"; then
  echo "FAIL: verify did not run the ggml plugin on q4_0/q8_0:"
  grep "^error\|refus" "$out/q8_0.txt" | head
  fail=1
fi
if grep -E "^FAIL" "$out/q8_0.txt" | grep -vE "\[(special activation scales|exact inputs [0-9x]+)\]" | grep -q .; then
  echo "FAIL: a q4_0/q8_0 failure of a ggml kernel outside the -128 activation-code cases:"
  grep -E "^FAIL" "$out/q8_0.txt" | grep -vE "\[(special activation scales|exact inputs [0-9x]+)\]" | head -5
  fail=1
fi
if grep -E "^FAIL" "$out/q8_0.txt" | grep -vq "  ggml_"; then
  echo "FAIL: one of our own kernels failed on q4_0/q8_0:"
  grep -E "^FAIL" "$out/q8_0.txt" | grep -v "  ggml_" | head -5
  fail=1
fi
echo "q4_0/q8_0: $(grep -c '^FAIL' "$out/q8_0.txt" || true) FAIL lines, all in the -128 activation-code cases; $(tail -1 "$out/q8_0.txt")"

[ "$fail" = 0 ] && echo "ggml peer: OK"
exit "$fail"

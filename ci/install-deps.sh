#!/usr/bin/env bash
# Installs what quantbench needs and is missing: Debian -dev packages via apt-get, Python
# packages via pip. Does nothing when everything is present.
set -euo pipefail

packages=(build-essential cmake ninja-build git pkg-config libgtest-dev libgmock-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libssl-dev python3 python3-pip python3-venv ccache
          libbenchmark-tools)  # tools/compare.py: reads our reports (tests/reports_test.py)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# Pinned: reports/dashboard.py's committed PNGs are re-rendered byte for byte by a test, and
# another matplotlib draws other bytes.
mpl=3.11.2
if ! python3 -c "import matplotlib, sys; sys.exit(matplotlib.__version__ != '$mpl')" 2>/dev/null; then
  # Debian's own python3 refuses plain pip installs (PEP 668); a user install is allowed.
  python3 -m pip install --quiet "matplotlib==$mpl" ||
    python3 -m pip install --quiet --user --break-system-packages "matplotlib==$mpl"
fi
if ! python3 -c 'import scipy' 2>/dev/null; then
  # reports/compare.py's Mann-Whitney U test (the one Google Benchmark's compare.py uses).
  python3 -m pip install --quiet scipy || python3 -m pip install --quiet --user --break-system-packages scipy
fi

# The gguf-py oracle (tests/gguf_oracle.py): upstream's own Python package at a pinned version, in
# a venv of its own under build/ (ctest reports the oracle skipped where it is missing).
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/build/pyenv"
if ! "$venv/bin/python" -c 'import gguf, numpy' 2>/dev/null || \
   [ "$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("gguf"))')" != "0.19.0" ]; then
  mkdir -p "$root/build"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet gguf==0.19.0 numpy
fi

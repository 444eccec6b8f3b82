#!/usr/bin/env bash
# Installs what quantbench needs and is missing: Debian -dev packages via apt-get, Python
# packages via pip. Does nothing when everything is present.
set -euo pipefail

packages=(build-essential cmake ninja-build git pkg-config libgtest-dev libgmock-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libssl-dev python3 python3-pip python3-venv ccache)
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

if ! python3 -c 'import matplotlib' 2>/dev/null; then
  # Debian's own python3 refuses plain pip installs (PEP 668); a user install is allowed.
  python3 -m pip install --quiet matplotlib || python3 -m pip install --quiet --user --break-system-packages matplotlib
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

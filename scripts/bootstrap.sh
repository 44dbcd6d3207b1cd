#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with everything medmix needs.
#   scripts/bootstrap.sh [EXTRAS]      e.g. scripts/bootstrap.sh test,peer,lite,demo
# Idempotent: reinstalls only when pyproject.toml, this script or the extras change.
# MEDMIX_VENV overrides the location (default: .venv in the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
venv="${MEDMIX_VENV:-.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "[medmix] creating virtual environment in $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.medmix-installed"
want="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16) extras=$extras"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
started=$SECONDS
pip_install() {
  # One line per package pip fetches or installs (minutes of silence otherwise: torch alone is ~2 GB to unpack),
  # each with the seconds since bootstrap started; errors in full. pip's complaints about this machine's unused
  # local index entries are noise and dropped.
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off "$@" 2>&1 \
    | { grep -v "^WARNING: Location 'file:" || true; } \
    | while IFS= read -r line; do
        case "$line" in
          Collecting*|Processing*|"Installing collected"*|"Successfully installed"*|"Building "*)
            printf '[medmix %4ds] %s\n' "$((SECONDS - started))" "${line:0:160}" ;;
          *ERROR*|*rror:*|*Traceback*|*"No matching distribution"*|*"Could not"*)
            printf '%s\n' "$line" ;;
        esac
      done
  return "${PIPESTATUS[0]}"
}
# torch first and pinned: on our machines this exact build is served from local disk (a bare `torch` could pull
# a multi-GB download); elsewhere pip fetches it from PyPI.
if ! "$venv/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  echo "[medmix] installing torch 2.14.1 + torchvision 0.29.1 (about 2 minutes from a local wheel, longer from PyPI)"
  pip_install "torch==2.14.1" "torchvision==0.29.1"
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
echo "[medmix] installing medmix ($spec) and its dependencies"
pip_install -e "$spec"
echo "$want" > "$stamp"
echo "[medmix] environment ready in $((SECONDS - started)) s: $venv"

#!/usr/bin/env bash
# A separate virtual environment with the lesion-wise peer packages, for the live cross-checks
# (tests/test_lesionwise_peers.py). brats-evaluation and panoptica pin numpy < 2.3 and pandas < 3, so they
# cannot share medmix's environment.
#   bash scripts/lesion_peers.sh        # creates .venv-lesion-peers (MEDMIX_PEER_VENV overrides)
# Idempotent: reinstalls only when this script changes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${MEDMIX_PEER_VENV:-.venv-lesion-peers}"
python="${PYTHON:-python3}"
stamp="$venv/.installed"
want="$(sha256sum scripts/lesion_peers.sh | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
echo "[medmix] installing the lesion-wise peers (brats-evaluation 0.0.10, panoptica 2.1.7) into $venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q \
  "brats-evaluation==0.0.10" "panoptica==2.1.7" "surface-distance==0.1" nibabel SimpleITK 2>&1 \
  | { grep -v "^WARNING: Location 'file:" || true; }
echo "$want" > "$stamp"
echo "[medmix] lesion-wise peers ready: $venv"

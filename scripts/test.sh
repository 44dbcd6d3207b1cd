#!/usr/bin/env bash
# README command 2: set everything up, then run the whole test suite.
#   bash scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test,peer,lite,demo
# brats-evaluation / panoptica pin numpy < 2.3 and pandas < 3: their own venv, for tests/test_lesionwise_peers.py
bash scripts/lesion_peers.sh
# PyRadiomics 3.1.0 (built from its sdist; needs a C compiler): tests/test_radiomics_peer.py skips without it
bash scripts/radiomics_peer.sh || echo "[medmix] PyRadiomics peer venv not built; tests/test_radiomics_peer.py will skip"
exec "${MEDMIX_VENV:-.venv}/bin/python" -m pytest "$@"

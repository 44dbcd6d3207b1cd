#!/usr/bin/env bash
# README command 1: set everything up, then run medmix's main job on the embedded default.
#   bash scripts/demo.sh [medmix demo options, e.g. --out runs/demo]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh lite,demo
exec "${MEDMIX_VENV:-.venv}/bin/medmix" demo "$@"

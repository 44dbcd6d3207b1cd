#!/usr/bin/env bash
# README command 2: set everything up, then run the whole test suite.
#   bash scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test,peer,lite,demo
exec "${MEDMIX_VENV:-.venv}/bin/python" -m pytest "$@"

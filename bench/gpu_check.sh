#!/usr/bin/env bash
# The GPU check, as one prepared script for the lent GPU machine (the device tool runs it at the repo root).
#
# Here, once:   bash bench/make_wheels.sh          (downloads the wheels the device lacks into .whl/)
# Device call:  carry [".whl"], command "bash bench/gpu_check.sh", timeout_s 560
#
# Writes everything to $OUT: the gpu-marked tests, bench/trial_speed.py and bench/eval_throughput.py with a
# random-initialised SAM ViT-B at 1024², and the LiteMedSAM merging experiment; then docs/benchmarks.md is
# filled from $OUT/*.json by hand (the card is named in every JSON).
set -uo pipefail
OUT="${OUT:-bench/out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PWD" || exit 1
else
  export PYTHONPATH="$PWD"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.csv" 2>&1
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" | tee "$OUT/torch.txt"

step() {  # name, timeout in seconds, command...
  local name=$1 limit=$2; shift 2
  echo "== $name" | tee -a "$OUT/steps.log"
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo "   rc=$? in $(( $(date +%s) - t0 )) s" | tee -a "$OUT/steps.log"
}
step gpu_tests 90 python3 -m pytest -q -m gpu tests
step trial_speed 150 python3 bench/trial_speed.py --arch vit_b --device cuda --slices 100 --trials 10 \
  --search-trials 40 --json "$OUT/trial_speed.json"
step eval_throughput 120 python3 bench/eval_throughput.py --device cuda --json "$OUT/eval_throughput.json"
step litemedsam_experiment 180 python3 bench/litemedsam_experiment.py --device cuda --out "$OUT/lite" \
  --steps 300 --trials 40 --slices 48
cat "$OUT/steps.log"

"""Dice after every simulated click and Dice under box jitter, for LiteMedSAM (real weights) and the tiny model on
the `mni` suite (MNI152 from nilearn), in one process.

    python bench/interactive_study.py [--slices N] [--rounds R] [--out runs/interactive_study] [--json OUT.json]

Runs, all on the same N prompted test slices per task (`--max-slices-per-task N`, default 30):
  1. `--prompt iterative:rounds=R` (box start) for litemedsam and tiny;
  2. LiteMedSAM ablations: `mask_input=false` (clicks without the previous logits) and `start=point`;
  3. `--prompt jittered_box --sweep shift_px=0,5,10,20` for LiteMedSAM.
The shared feature cache is on (MEDMIX_FEATURE_CACHE_MB), so each slice's image embedding is computed once per
model and the later runs only decode. Prints per run the slice-wise Dice (pooled over slices, MedSAMix's) and the
volumetric Dice after every click, NoC@85/90 (cap 20) with failures, and the jitter curve.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("MEDMIX_FEATURE_CACHE_MB", "4000")

import pandas as pd  # noqa: E402

from medmix.evaluation.runner import EvaluationConfig, evaluate  # noqa: E402
from medmix.evaluation.sweep import evaluate_sweep  # noqa: E402
from medmix.models import load_model  # noqa: E402

RUNS = [  # (label, model, prompt)
    ("litemedsam · box + clicks", "litemedsam", "iterative:rounds={R}"),
    ("litemedsam · box + clicks, no mask_input", "litemedsam", "iterative:rounds={R},mask_input=false"),
    ("litemedsam · point + clicks", "litemedsam", "iterative:start=point,rounds={R}"),
    ("tiny · box + clicks", "tiny", "iterative:rounds={R}"),
]


def curve(result) -> dict:
    clicks = result.clicks
    slices = clicks[(clicks["slice"] != "volume") & (clicks["metric"] == "dice")]
    volume = clicks[(clicks["slice"] == "volume") & (clicks["metric"] == "dice")]
    cases = result.cases[result.cases["slice"] == "volume"]

    def mean(metric: str) -> float:
        return float(cases[cases["metric"] == metric]["value"].mean())

    return {"slice_dice": {int(k): float(v) for k, v in slices.groupby("click")["value"].mean().items()},
            "volume_dice": {int(k): float(v) for k, v in volume.groupby("click")["value"].mean().items()},
            "n_slices": int(len(slices.drop_duplicates(["task", "case", "slice"]))),
            "n_cases": int(cases[cases["metric"] == "noc90"].shape[0]),
            "noc85": mean("noc85"), "noc90": mean("noc90"),
            "failed85": int(cases[cases["metric"] == "noc85_failed"]["value"].sum()),
            "failed90": int(cases[cases["metric"] == "noc90_failed"]["value"].sum()),
            "dice_auc": mean("dice_auc")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=30, help="prompted slices per task (default 30)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("runs/interactive_study"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    models = {}
    report: dict = {"slices_per_task": args.slices, "rounds": args.rounds, "runs": {}}
    for label, name, prompt in RUNS:
        model = models.setdefault(name, load_model(name))
        t0 = time.perf_counter()
        config = EvaluationConfig(suite="mni", out_dir=str(args.out / label.replace(" · ", "_").replace(" ", "_")
                                                           .replace(",", "")), model=name,
                                  prompt=prompt.format(R=args.rounds), max_slices_per_task=args.slices)
        result = evaluate(config, model=model)
        row = curve(result)
        row["seconds"] = time.perf_counter() - t0
        report["runs"][label] = row
        dice = " ".join(f"{row['slice_dice'][k]:.3f}" for k in sorted(row["slice_dice"]))
        print(f"{label:42s} slice Dice by click: {dice} · NoC@85 {row['noc85']:.1f} ({row['failed85']}/"
              f"{row['n_cases']} failed) · NoC@90 {row['noc90']:.1f} ({row['failed90']}/{row['n_cases']} failed) · "
              f"{row['seconds']:.0f} s", flush=True)
    t0 = time.perf_counter()
    config = EvaluationConfig(suite="mni", out_dir=str(args.out / "litemedsam_jitter"), model="litemedsam",
                              prompt="jittered_box", max_slices_per_task=args.slices)
    sweep = evaluate_sweep(config, "shift_px", [0, 5, 10, 20], model=models["litemedsam"])
    table: pd.DataFrame = sweep.table
    report["jitter"] = json.loads(table.to_json(orient="records"))
    mean = table[table["task"] == "mean over tasks"].set_index("level")["slice_dice"]
    print("litemedsam · jittered box, slice Dice by shift_px: " + " ".join(f"{k:g}px {v:.3f}" for k, v in
                                                                          mean.items())
          + f" · {time.perf_counter() - t0:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

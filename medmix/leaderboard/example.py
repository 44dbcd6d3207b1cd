"""The example leaderboard in the repository's `leaderboards/` folder.

    medmix demo --out runs/demo && python -m medmix.leaderboard.example --from runs/demo/eval leaderboards/
    python -m medmix.leaderboard.example leaderboards/        # rebuild from the committed leaderboards/inputs

The inputs are the embedded default run's evaluation folders (copied into `leaderboards/inputs`). Without any
inputs, `example_runs` writes synthetic, seeded run folders instead: four SAM-family "models" on four
phantom-like tasks (two 3D organs, a 3D kidney tumour
with size-only staging, a 2D fundus task), in the run-folder format of `medmix evaluate` (cases.csv with
volumetric and slice rows, summary.json, staging.csv). They include one missing case (sam_vit_b has no result
for promise12_prostate case_003) and one empty prediction (medsam on kits_kidney_tumour case_005), so the
example shows how both are handled. The numbers are made up; only the format and the statistics are real.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

COMMAND = "python -m medmix.leaderboard.example leaderboards/"
REFRESH_COMMAND = "medmix demo --out runs/demo && python -m medmix.leaderboard.example --from runs/demo/eval leaderboards/"
SEED = 0
N_BOOTSTRAP = 1000

# name → model adapter recorded in summary.json
ALGORITHMS = {"sam_vit_b": "sam", "medsam": "medsam", "medicosam": "medicosam", "medsamix_merged": "merged"}
# task → (dimensionality, cases, bAHD scale in mm, skill (logit of a typical Dice) per algorithm)
TASKS = {
    "flare22_liver": (3, 14, 30.0, {"sam_vit_b": 2.2, "medsam": 2.4, "medicosam": 2.5, "medsamix_merged": 2.8}),
    "promise12_prostate": (3, 10, 18.0, {"sam_vit_b": 1.2, "medsam": 0.9, "medicosam": 1.5, "medsamix_merged": 1.6}),
    "kits_kidney_tumour": (3, 12, 20.0, {"sam_vit_b": 0.6, "medsam": 1.1, "medicosam": 0.9, "medsamix_merged": 1.2}),
    "fundus_optic_cup": (2, 16, 8.0, {"sam_vit_b": 1.3, "medsam": 1.0, "medicosam": 1.6, "medsamix_merged": 1.5}),
}
STAGED_TASK = "kits_kidney_tumour"
MISSING = ("sam_vit_b", "promise12_prostate", "case_003")
EMPTY_PREDICTION = ("medsam", "kits_kidney_tumour", "case_005")
DIAGONAL_MM = 350.0


def _kidney_t(diameter_mm: float) -> str:
    if diameter_mm <= 0:
        return "T0"
    for limit, category in ((40, "T1a"), (70, "T1b"), (100, "T2a")):
        if diameter_mm <= limit:
            return category
    return "T2b"


def example_runs(out_dir, seed: int = SEED) -> list[Path]:
    """Write one synthetic evaluation run folder per algorithm under `out_dir`; returns them in order."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    difficulty = {task: rng.normal(size=n) for task, (_, n, _, _) in TASKS.items()}
    diameters = rng.uniform(15.0, 115.0, size=TASKS[STAGED_TASK][1])
    folders = []
    for algo, adapter in ALGORITHMS.items():
        rows, staging = [], []
        for task, (ndim, n_cases, scale, skill) in TASKS.items():
            label = "cup" if ndim == 2 else "target"
            for c in range(n_cases):
                case = f"case_{c:03d}"
                noise = rng.normal(size=4)
                dice = float(1.0 / (1.0 + np.exp(-(skill[algo] + 0.8 * difficulty[task][c] + 0.4 * noise[0]))))
                bahd = float(scale * (1.0 - dice) ** 1.3 * np.exp(0.25 * noise[1]))
                hd95 = float(4.0 * bahd * np.exp(0.2 * noise[2]))
                empty_pred = (algo, task, case) == EMPTY_PREDICTION
                if empty_pred:
                    dice, bahd, hd95 = 0.0, DIAGONAL_MM, DIAGONAL_MM
                slice_dice = np.clip(dice + 0.06 * rng.normal(size=5), 0.0, 1.0) if ndim == 3 else []
                if (algo, task, case) == MISSING:
                    continue
                volume = {"dice": dice, "iou": dice / (2.0 - dice), "hd95": hd95, "bahd": bahd}
                for metric, value in volume.items():
                    rows.append((task, case, "volume", label, metric, round(value, 6), False, empty_pred))
                for index, d in enumerate(slice_dice):
                    d = 0.0 if empty_pred else float(d)
                    for metric, value in (("dice", d), ("iou", d / (2.0 - d))):
                        rows.append((task, case, str(10 + index), label, metric, round(value, 6), False,
                                     empty_pred))
                if task == STAGED_TASK:
                    true_d = float(diameters[c])
                    pred_d = 0.0 if empty_pred else float(true_d * np.exp(0.3 * (1.0 - dice) * noise[3]))
                    staging.append((task, case, _kidney_t(true_d), _kidney_t(pred_d), round(true_d, 1),
                                    round(pred_d, 1), 1, 0 if empty_pred else 1))
        folder = out_dir / algo
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows, columns=["task", "case", "slice", "label", "metric", "value", "empty_gt", "empty_pred"]) \
            .to_csv(folder / "cases.csv", index=False, lineterminator="\n")
        pd.DataFrame(staging, columns=["task", "case", "true_category", "pred_category", "true_diameter_mm",
                                       "pred_diameter_mm", "true_lesions", "pred_lesions"]) \
            .to_csv(folder / "staging.csv", index=False, lineterminator="\n")
        summary = {"suite": "leaderboard_example", "split": "test",
                   "model": {"adapter": adapter, "name": algo, "synthetic": True},
                   "note": "synthetic results written by medmix.leaderboard.example"}
        (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        folders.append(folder)
    return folders


README = """# Example leaderboards

Generated; never edit by hand. The evaluation runs in `inputs/` come from the embedded default run
(`medmix demo`: a tiny generalist, a specialist fine-tuned from it, and their multi-task and single-task SMAC
merges, evaluated on the test split of four phantom25 tasks). Refresh the inputs and the leaderboard with

```bash
{refresh}
```

and rebuild the leaderboard from the committed inputs (what `tests/test_leaderboard_example.py` does, comparing
file by file) with

```bash
{command}
```

Runs: {runs}. Ranking: Dice + bAHD, {scheme}, {n_bootstrap} bootstrap draws, seed {seed}.

- `leaderboard.md`, `leaderboard.html` (self-contained, sortable), `leaderboard.csv`, `leaderboard.json`
- `statistics.csv`, `pairwise.csv`, `stability.csv`, `missing.csv`, `subgroups.csv`
- `consensus.csv` (consensus rankings across tasks), `metrics/<algorithm>/metrics.json` (grand-challenge form)
- figures: per task `podium_<task>.png`, `dotbox_<task>.png`, `rank_counts_<task>.png`; across tasks
  `bootstrap_ranks.png`, `blob_<metric>.png`, `rank_heatmap.png`, `significance_map.png`, `stacked_frequency.png`,
  `kendall_tau_violin.png`, `ranks_by_scheme.png`, `task_dendrogram.png`
"""


INPUT_FILES = ("cases.csv", "summary.json", "staging.csv")


def copy_runs(runs_dir, inputs_dir) -> list[Path]:
    """Copy the tables of every evaluation run folder under `runs_dir` into `inputs_dir/<run>/`."""
    import shutil

    inputs_dir = Path(inputs_dir)
    if inputs_dir.exists():
        shutil.rmtree(inputs_dir)
    copied = []
    for run in sorted(p for p in Path(runs_dir).iterdir() if (p / "cases.csv").is_file()):
        target = inputs_dir / run.name
        target.mkdir(parents=True)
        for name in INPUT_FILES:
            if (run / name).is_file():
                shutil.copyfile(run / name, target / name)
        copied.append(target)
    if not copied:
        raise SystemExit(f"no evaluation run folder (with cases.csv) under {runs_dir}")
    return copied


def regenerate(out_dir, *, seed: int = SEED, n_bootstrap: int = N_BOOTSTRAP, runs_from=None):
    """Rebuild the example leaderboard into `out_dir` from the runs in `out_dir/inputs` (copied there from
    `runs_from`, e.g. the embedded default's `runs/demo/eval`; synthetic runs when there are none)."""
    from medmix.leaderboard import build_leaderboard

    out_dir = Path(out_dir)
    inputs = out_dir / "inputs"
    if runs_from is not None:
        copy_runs(runs_from, inputs)
    if not inputs.is_dir():
        example_runs(inputs, seed=seed)
    runs = sorted(p for p in inputs.iterdir() if (p / "cases.csv").is_file())
    board = build_leaderboard(runs, out_dir, metrics=("dice", "bahd"), scheme="aggregate_mean", seed=seed,
                              n_bootstrap=n_bootstrap)
    (out_dir / "README.md").write_text(README.format(command=COMMAND, refresh=REFRESH_COMMAND,
                                                     scheme="aggregate-then-rank (mean)",
                                                     n_bootstrap=n_bootstrap, seed=seed,
                                                     runs=", ".join(p.name for p in runs)))
    return board


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    runs_from = None
    if len(argv) == 3 and argv[0] == "--from":
        runs_from, argv = argv[1], argv[2:]
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m medmix.leaderboard.example [--from RUNS_DIR] OUT_DIR", file=sys.stderr)
        return 2
    board = regenerate(argv[0], runs_from=runs_from)
    print(f"wrote {len(board.files) + 1} files to {argv[0]}; ranking: {', '.join(board.order())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

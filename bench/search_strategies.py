"""Which search strategy finds the best merge? SMAC RF, SMAC GP, CMA-ES and random search on the demo's tiny pool,
several seeds each, best calibration Dice and the test Dice of that best merge against the number of trials.

    python bench/search_strategies.py [--strategies rf,gp,cma,random] [--seeds 0 1 2 3 4] [--trials 120]
                                      [--checkpoints 40,120] [--variant NAME=key=value+key=value ...]
                                      [--out runs/search_strategies]

The search: `medmix demo`'s (generalist + specialist tiny models, MedSAMix's units at granularity 1, methods linear
/ task_arithmetic / ties / slerp, 4 phantom tasks, multi-task ParEGO, 16 calibration slices per task, warm start
on). Every strategy sees the same pool, slices, warm-start configurations and seeds. At each checkpoint the best
configuration so far (highest mean calibration Dice) is scored on the test split of the same tasks (all test
slices, the same objective code). Writes `<out>/strategies.csv` (strategy, seed, checkpoint, calibration and test
Dice), `<out>/curves.csv` (best-so-far calibration Dice per trial) and `<out>/strategies.png`, and prints mean ± SD
over seeds per strategy and checkpoint. `--variant` adds a strategy under a name with other search settings, e.g.
`rf_before=facade=rf+optimiser_process=false+pipeline_depth=2+retrain_after=4`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from medmix.merging.search import run_search, search_config_from_dict
from medmix.merging.toy import DEFAULT_TASKS, make_toy_pool


def base_config(pool: dict, trials: int, seed: int, settings: dict) -> dict:
    return {"arch": "tiny",
            "pool": [{"name": "generalist", "path": str(pool["generalist"])},
                     {"name": "specialist", "path": str(pool["specialist"])}],
            "units": {"scheme": "medsamix", "granularity": 1},
            "objective": {"suite": "phantom25", "tasks": list(DEFAULT_TASKS), "max_slices_per_task": 16,
                          "batch_size": 32},
            "search": {"n_trials": trials, "seed": seed, "n_random_initial": 10, "evaluate_test": False,
                       **settings}}


def parse_settings(text: str) -> dict:
    out = {}
    for item in filter(None, text.split("+")):
        key, _, value = item.partition("=")
        low = value.lower()
        out[key] = True if low == "true" else False if low == "false" else int(value) if value.isdigit() else value
    return out


def test_scores(config, values: dict) -> float:
    """Mean test Dice over the tasks of a configuration (all test slices of the same tasks)."""
    from dataclasses import replace

    from medmix.merging.trial import TrialEngine

    setup = replace(config.setup, split="test", allow_test_split=True, max_slices_per_task=None)
    engine = _TEST_ENGINES.get(setup.key())
    if engine is None:
        engine = _TEST_ENGINES[setup.key()] = TrialEngine(setup)
    scores = engine.run(values)["scores"]
    return float(np.mean(list(scores.values())))


_TEST_ENGINES: dict = {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strategies", default="rf,gp,cma,random")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=SETTINGS")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--trials", type=int, default=120)
    ap.add_argument("--checkpoints", default="40,120")
    ap.add_argument("--out", type=Path, default=Path("runs/search_strategies"))
    args = ap.parse_args()
    from medmix.embedded import default_cache_dir

    pool = make_toy_pool(default_cache_dir() / "toy")
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    runs = {name: {"facade": name} for name in filter(None, args.strategies.split(","))}
    for item in args.variant:
        name, _, settings = item.partition("=")
        runs[name] = parse_settings(settings)
    rows, curves = [], []
    args.out.mkdir(parents=True, exist_ok=True)
    for name, settings in runs.items():
        for seed in args.seeds:
            config = search_config_from_dict(base_config(pool, args.trials, seed, settings))
            t0 = time.perf_counter()
            result = run_search(config, args.out / f"{name}_seed{seed}", overwrite=True)
            wall = time.perf_counter() - t0
            means = [float(np.mean(list(t["scores"].values()))) for t in result.trials]
            best_so_far = np.maximum.accumulate(means)
            curves += [{"strategy": name, "seed": seed, "trial": i + 1, "best_calibration": float(v)}
                       for i, v in enumerate(best_so_far)]
            for checkpoint in checkpoints:
                upto = result.trials[:checkpoint]
                best = max(upto, key=lambda t: (np.mean(list(t["scores"].values())), -t["trial"]))
                rows.append({"strategy": name, "seed": seed, "checkpoint": checkpoint, "trials": len(upto),
                             "calibration": float(np.mean(list(best["scores"].values()))),
                             "test": test_scores(config, best["config"]), "best_trial": best["trial"],
                             "wall_s": wall, "busy": result.timings.get("busy_fraction")})
            last = rows[-1]
            print(f"{name:>12} seed {seed}: best calibration {last['calibration']:.4f} (trial {last['best_trial']}), "
                  f"test {last['test']:.4f} · {wall:.0f} s · device busy {last['busy'] or 0:.0%}", flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "strategies.csv", index=False)
    curve_frame = pd.DataFrame(curves)
    curve_frame.to_csv(args.out / "curves.csv", index=False)
    summary = table.groupby(["checkpoint", "strategy"], sort=False).agg(
        calibration_mean=("calibration", "mean"), calibration_sd=("calibration", "std"),
        test_mean=("test", "mean"), test_sd=("test", "std"), wall_s=("wall_s", "mean")).reset_index()
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for checkpoint in checkpoints:
        part = summary[summary["checkpoint"] == checkpoint]
        print(f"at {checkpoint} trials: best calibration {part.loc[part.calibration_mean.idxmax(), 'strategy']}, "
              f"best test {part.loc[part.test_mean.idxmax(), 'strategy']}")
    (args.out / "summary.json").write_text(json.dumps(json.loads(summary.to_json(orient="records")), indent=2))
    plot(curve_frame, args.out / "strategies.png")


def plot(curves: pd.DataFrame, path: Path) -> None:
    from medmix.leaderboard.plots import figure, save_png, style

    with style():
        fig = figure(6.5, 4.0)
        ax = fig.add_subplot(1, 1, 1)
        for name, rows in curves.groupby("strategy", sort=False):
            wide = rows.pivot(index="trial", columns="seed", values="best_calibration")
            mean, low, high = wide.mean(axis=1), wide.min(axis=1), wide.max(axis=1)
            ax.plot(mean.index, mean.values, label=name)
            ax.fill_between(mean.index, low.values, high.values, alpha=0.15)
        ax.set_xlabel("trials")
        ax.set_ylabel("best mean calibration Dice")
        ax.set_title("mean over seeds; band: min–max over seeds", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        save_png(fig, path)


if __name__ == "__main__":
    main()

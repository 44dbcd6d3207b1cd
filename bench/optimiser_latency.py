"""Does the optimiser keep the device busy? The merge search's real ask / tell loop (`search_trials`) on MedSAMix's
real search space, with each trial replaced by a device-like wait.

    python bench/optimiser_latency.py [--simulated-trial-s 0.35] [--space medsamix] [--trials 80] [--seeds 0]
                                      [--variants before,after] [--json OUT.json]

Space "medsamix": 3 models, MedSAMix's units at granularity 2 (19 units), methods linear / task_arithmetic / ties
/ slerp: 190 hyper-parameters; objective: multi-task ParEGO over 8 tasks (SMAC's own ParEGO). Space "tiny-demo":
the demo's space (2 models, granularity 1). A simulated trial sleeps `S` seconds (it releases the interpreter, as
a GPU kernel does) and returns per-task scores from a fixed smooth function of the configuration, so the search
has something to optimise and the best score can be compared between variants at equal trials.

Variants (name: search settings):
  before: the strategy in the trial loop's process, pipeline_depth 2, retrain_after 4 (medmix until this change);
  after:  the strategy in its own process (`medmix.merging.optimiser`), the current defaults;
  and any `key=value+key=value` setting list, e.g. `optimiser_process=true+pipeline_depth=6+retrain_after=8`.
Per variant: `device busy: NN%` (Σ trial time ÷ search wall time), the optimiser's compute per trial (ask + tell:
mean, p95, max), the loop's wait for a proposal per trial (mean, max), the wall time and the best synthetic score.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from medmix.merging.search_config import SearchConfig, SearchSettings
from medmix.merging.space import SearchSpace
from medmix.merging.trial import EngineSetup
from medmix.merging.units import get_scheme

METHODS = ("linear", "task_arithmetic", "ties", "slerp")
SPACES = {"medsamix": (3, 2, 8), "tiny-demo": (2, 1, 4)}  # models, granularity, tasks
BEFORE = {"optimiser_process": False, "pipeline_depth": 2, "retrain_after": 4}


class SimulatedEngine:
    """What `search_trials` needs of a `TrialEngine`, with a sleeping trial and a synthetic objective."""

    def __init__(self, n_models: int, granularity: int, n_tasks: int, trial_s: float):
        units = [u.name for u in get_scheme("medsamix", granularity=granularity).units]
        self.space = SearchSpace(units, [], n_models, METHODS)
        self.tasks = [f"task_{i}" for i in range(n_tasks)]
        self.report = []
        self.trial_s = trial_s
        self.calibration = type("Calibration", (), {"total_slices": 100})()
        rng = np.random.default_rng(12345)
        self.targets = rng.uniform(0.2, 0.8, size=(n_tasks, 4))  # each task prefers other linear weights

    def run(self, values: dict, budget=None, instance=None) -> dict:
        t0 = time.perf_counter()
        time.sleep(self.trial_s)
        weights = [v for k, v in sorted(values.items()) if ".linear.weights_" in k or ".lam" in k]
        mean = float(np.mean(weights)) if weights else 0.5
        spread = float(np.std(weights)) if weights else 0.0
        scores = {t: float(math.exp(-8 * (mean - self.targets[i, 0]) ** 2 - 4 * (spread - 0.1) ** 2))
                  for i, t in enumerate(self.tasks)}
        return {"scores": scores, "merge_s": 0.0, "eval_s": time.perf_counter() - t0}


class ThreadExecutor:
    def __init__(self, engine, capacity: int):
        self.engine, self.capacity = engine, capacity
        self.pool = ThreadPoolExecutor(max_workers=1)

    def submit(self, values, budget, instance):
        return self.pool.submit(self.engine.run, values, budget, instance)

    def close(self):
        self.pool.shutdown(wait=True)


def parse_variant(text: str) -> tuple[str, dict]:
    if text == "before":
        return text, dict(BEFORE)
    if text == "after":
        return text, {}
    settings = {}
    for item in text.split("+"):
        key, _, value = item.partition("=")
        settings[key] = {"true": True, "false": False}.get(value.lower(), None)
        if settings[key] is None:
            settings[key] = int(value) if value.lstrip("-").isdigit() else float(value)
    return text, settings


def run_variant(space_name: str, trial_s: float, trials: int, seed: int, settings: dict) -> dict:
    from medmix.merging.search import search_trials

    n_models, granularity, n_tasks = SPACES[space_name]
    engine = SimulatedEngine(n_models, granularity, n_tasks, trial_s)
    search = replace(SearchSettings(n_trials=trials, seed=seed, n_random_initial=10), **settings)
    setup = EngineSetup(pool=(), arch="tiny", preprocessing=None, units={}, suite="simulated",
                        tasks=tuple(engine.tasks), methods=METHODS)
    config = SearchConfig(setup, search)
    capacity = max(2, search.pipeline_depth)
    executor = ThreadExecutor(engine, capacity)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        try:
            records, wall_s = search_trials(config, search, Path(out), engine, executor, [])
        finally:
            executor.close()
        total_s = time.perf_counter() - started
    optimiser = np.array([r["ask_s"] + r["tell_s"] for r in records])
    wait = np.array([r["wait_s"] for r in records])
    busy = sum(r["eval_s"] for r in records) / wall_s
    best = max(sum(r["scores"].values()) / len(r["scores"]) for r in records)
    return {"settings": settings, "seed": seed, "trial_s": trial_s, "trials": len(records), "busy": busy,
            "optimiser_mean_s": float(optimiser.mean()), "optimiser_p95_s": float(np.percentile(optimiser, 95)),
            "optimiser_max_s": float(optimiser.max()), "wait_mean_s": float(wait.mean()),
            "wait_max_s": float(wait.max()), "wall_s": wall_s, "total_s": total_s, "best": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--simulated-trial-s", type=float, nargs="+", default=[0.35])
    ap.add_argument("--space", choices=sorted(SPACES), default="medsamix")
    ap.add_argument("--trials", type=int, default=80)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--variants", default="before,after")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = []
    for trial_s in args.simulated_trial_s:
        for text in args.variants.split(","):
            name, settings = parse_variant(text.strip())
            for seed in args.seeds:
                r = run_variant(args.space, trial_s, args.trials, seed, settings)
                r["variant"] = name
                results.append(r)
                print(f"S={trial_s:.2f} s · {name:>10} · seed {seed} · device busy: {r['busy']:.0%} · optimiser "
                      f"s/trial mean {r['optimiser_mean_s']:.3f} p95 {r['optimiser_p95_s']:.3f} max "
                      f"{r['optimiser_max_s']:.2f} · loop wait mean {r['wait_mean_s']:.3f} max {r['wait_max_s']:.2f}"
                      f" · wall {r['wall_s']:.1f} s · best {r['best']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""SMAC optimiser time per trial (ask + tell) under different settings, on the demo's tiny pool.

    python bench/optimiser_latency.py [--trials 50]

Runs the 4-task ParEGO search of `medmix demo` with each setting below and prints the optimiser time per trial
(mean, mean after the initial design, max), the search wall time, the best calibration Dice and the fraction of
wall time the device spent on trials.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from medmix.merging.search import run_search, search_config_from_dict
from medmix.merging.toy import DEFAULT_TASKS, make_toy_pool

SETTINGS = [
    {"retrain_after": 1, "pipeline_depth": 2},
    {"retrain_after": 4, "pipeline_depth": 2},
    {"retrain_after": 4, "pipeline_depth": 4},
    {"retrain_after": 8, "pipeline_depth": 4, "local_search_iterations": 5},
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=50)
    args = ap.parse_args()
    from medmix.embedded import default_cache_dir

    pool = make_toy_pool(default_cache_dir() / "toy")
    for extra in SETTINGS:
        cfg = {"arch": "tiny",
               "pool": [{"name": "generalist", "path": str(pool["generalist"])},
                        {"name": "specialist", "path": str(pool["specialist"])}],
               "units": {"scheme": "medsamix", "granularity": 1},
               "objective": {"suite": "phantom25", "tasks": list(DEFAULT_TASKS), "max_slices_per_task": 16,
                             "batch_size": 32},
               "search": {"n_trials": args.trials, "seed": 0, "n_random_initial": 4, **extra}}
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            result = run_search(search_config_from_dict(cfg), out)
        opt = [t["ask_s"] + t["tell_s"] for t in result.trials]
        after = opt[20:] or opt
        print(f"{extra}: optimiser s/trial mean {sum(opt) / len(opt):.3f}, after the design "
              f"{sum(after) / len(after):.3f}, max {max(opt):.2f}; wall {time.perf_counter() - started:.1f} s; "
              f"best {result.best['mean_dice']:.4f}; device busy {result.timings['busy_fraction']:.0%}", flush=True)


if __name__ == "__main__":
    main()

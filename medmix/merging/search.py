"""SMAC3 search over merge recipes: `medmix merge search --config C.yaml --out DIR`.

Loop: SMAC's ask/tell. Asks are pipelined with evaluation (the next configuration is asked for while the
previous one runs), so the optimiser's own latency hides behind the trial. Every finished trial is appended to
`trials.jsonl` (fsync'd) before SMAC is told; re-running the same command first tells SMAC every recorded trial
and then continues, so no finished trial is lost and SMAC's interactive "metadata changed" prompt can never
appear (its run folder is rewritten from our record). Trials run in this process (one device) or on Dask
workers (`workers: N` for a local cluster, `scheduler: ADDRESS` for an existing one); workers cache the pool.

Objectives: single task (cost = 1 − mean slice Dice on the calibration split), or several tasks as several
objectives with ParEGO really passed to the facade (or mean aggregation). Optional multi-fidelity (budget =
calibration slices, Hyperband) and racing over tasks as SMAC instances.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medmix.errors import ConfigError, InputError, MedmixError
from medmix.atomic import atomic_write_text
from medmix.evaluation.store import fingerprint
from medmix.merging.recipe import validate_pool_entries
from medmix.merging.trial import EngineSetup, get_engine, worker_trial

FACADES = ("rf", "gp", "random")
AGGREGATIONS = ("parego", "mean")


@dataclass
class SearchSettings:
    n_trials: int = 120
    walltime_s: float | None = None
    seed: int = 0
    facade: str = "rf"
    aggregation: str = "parego"
    multi_fidelity: bool = False
    min_budget: int | None = None
    eta: int = 3
    racing: bool = False
    n_random_initial: int = 10
    warm_start: bool = True
    challengers: int = 1000
    local_search_iterations: int = 10
    retrain_after: int = 4  # asks per random-forest refit and acquisition search (SMAC default 8)
    pipeline_depth: int = 2  # trials asked ahead per device: more hides slow asks, fewer keeps SMAC adaptive
    workers: int = 1
    scheduler: str | None = None
    evaluate_test: bool = True


@dataclass
class SearchConfig:
    setup: EngineSetup
    settings: SearchSettings
    source: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        # Everything that changes what a trial means; n_trials / walltime / workers may change between resumes.
        s = self.settings
        return fingerprint({"setup": self.setup.key(), "seed": s.seed, "facade": s.facade,
                            "aggregation": s.aggregation, "multi_fidelity": s.multi_fidelity,
                            "min_budget": s.min_budget, "eta": s.eta, "racing": s.racing})


_SECTIONS = {"arch", "pool", "preprocessing", "units", "space", "objective", "search"}
_SPACE = {"mode", "methods", "search_identical_units"}
_OBJECTIVE = {"suite", "tasks", "split", "allow_test_split", "data_root", "max_slices_per_task", "batch_size",
              "device", "protocol"}


def _refuse_unknown(mapping: dict, allowed: set, where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        import difflib

        name = sorted(unknown)[0]
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown key {name!r}{hint}; allowed: {', '.join(sorted(allowed))}.")


def search_config_from_dict(data: dict, *, where: str = "search config", base_dir: Path | None = None
                            ) -> SearchConfig:
    """Validate a search config mapping (see configs/ for examples)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping.")
    _refuse_unknown(data, _SECTIONS, where)
    for key in ("arch", "pool", "objective"):
        if key not in data:
            raise ConfigError(f"{where}.{key}: required.")
    entries = []
    for member in validate_pool_entries(data["pool"], f"{where}.pool"):
        path = Path(str(member["path"])).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        entries.append((str(member["name"]), str(path)))
    space = dict(data.get("space") or {})
    _refuse_unknown(space, _SPACE, f"{where}.space")
    objective = dict(data["objective"])
    _refuse_unknown(objective, _OBJECTIVE, f"{where}.objective")
    if "suite" not in objective:
        raise ConfigError(f"{where}.objective.suite: required (e.g. phantom25, mni, medsamix25 or a suite file).")
    search = dict(data.get("search") or {})
    fields = set(SearchSettings.__dataclass_fields__)
    _refuse_unknown(search, fields, f"{where}.search")
    settings = SearchSettings(**search)
    if settings.facade not in FACADES:
        raise ConfigError(f"{where}.search.facade: expected one of {FACADES}, got {settings.facade!r}.")
    if settings.aggregation not in AGGREGATIONS:
        raise ConfigError(f"{where}.search.aggregation: expected one of {AGGREGATIONS}, got {settings.aggregation!r}.")
    if settings.n_trials < 1:
        raise ConfigError(f"{where}.search.n_trials: must be ≥ 1.")
    if settings.pipeline_depth < 1 or settings.retrain_after < 1:
        raise ConfigError(f"{where}.search: pipeline_depth and retrain_after must be ≥ 1.")
    methods = space.get("methods", ["linear", "task_arithmetic", "ties", "slerp"])
    protocol = _objective_protocol(objective, where)
    setup = EngineSetup(
        pool=tuple(entries), arch=str(data["arch"]), preprocessing=data.get("preprocessing"),
        units=dict(data.get("units") or {"scheme": "medsamix", "granularity": 2}), suite=str(objective["suite"]),
        tasks=tuple(objective.get("tasks") or ()), methods=tuple(methods),
        mode=space.get("mode", "per_unit_method"), search_identical_units=bool(space.get("search_identical_units")),
        split=objective.get("split", "calibration"), allow_test_split=bool(objective.get("allow_test_split")),
        data_root=objective.get("data_root"), max_slices_per_task=objective.get("max_slices_per_task"),
        batch_size=int(objective.get("batch_size", 16)), seed=settings.seed, device=objective.get("device"),
        protocol=protocol.to_dict(),
    )
    return SearchConfig(setup, settings, dict(data))


def _objective_protocol(objective: dict, where: str):
    """objective.protocol, else the suite's own protocol, else medmix (recorded in the search's provenance)."""
    from medmix.evaluation.protocol import parse_protocol

    if objective.get("protocol") is not None:
        return parse_protocol(objective["protocol"], where=f"{where}.objective.protocol")
    try:
        from medmix.evaluation.suites import load_suite

        return parse_protocol(load_suite(str(objective["suite"])).protocol)
    except MedmixError:  # an unknown suite is reported, with its did-you-mean, when the engine loads it
        return parse_protocol(None)


def load_search_config(path: str | Path) -> SearchConfig:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"search config {str(path)!r}: no such file.")
    return search_config_from_dict(yaml.safe_load(p.read_text()), where=str(p), base_dir=p.parent.resolve())


# ------------------------------------------------------------------------------------------------ the loop


@dataclass
class SearchResult:
    out_dir: Path
    trials: list[dict]
    best: dict
    pareto: list[dict]
    tasks: list[str]
    timings: dict


def plain_values(config) -> dict:
    """A Configuration's values as plain Python (ConfigSpace hands out numpy scalars)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in dict(config).items()}


def _canonical(values: dict, budget, instance) -> str:
    return json.dumps({"v": {k: (round(v, 12) if isinstance(v, float) else v) for k, v in sorted(values.items())},
                       "b": budget, "i": instance}, sort_keys=True)


class _Executor:
    """Runs trials in a background thread (one device) or on Dask workers."""

    def __init__(self, setup: EngineSetup, settings: SearchSettings):
        self.setup = setup
        self.client = None
        self.cluster = None
        if settings.scheduler or settings.workers > 1:
            try:
                from distributed import Client, LocalCluster
            except ImportError as exc:
                raise MedmixError("parallel trials need dask.distributed: pip install 'dask[distributed]'") from exc
            if settings.scheduler:
                self.client = Client(settings.scheduler)
            else:
                self.cluster = LocalCluster(n_workers=settings.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
                self.client = Client(self.cluster)
            n_workers = max(1, len(self.client.scheduler_info().get("workers", {})) or settings.workers)
            self.capacity = n_workers * max(1, settings.pipeline_depth - 1) + 1
        else:
            self.engine = get_engine(setup)
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medmix-trial")
            # One running, the rest queued: SMAC's next asks overlap the current trial.
            self.capacity = max(2, settings.pipeline_depth)

    def submit(self, values: dict, budget, instance) -> Future:
        if self.client is not None:
            return self.client.submit(worker_trial, self.setup, values, budget, instance, pure=False)
        return self.pool.submit(self.engine.run, values, budget, instance)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        else:
            self.pool.shutdown(wait=True)


def _make_smac(config: SearchConfig, space, tasks: list[str], out_dir: Path, n_slices: int):
    from smac import BlackBoxFacade, HyperparameterOptimizationFacade, MultiFidelityFacade, RandomFacade, Scenario
    from smac.multi_objective.aggregation_strategy import MeanAggregationStrategy
    from smac.multi_objective.parego import ParEGO

    s = config.settings
    cs = space.configspace(seed=s.seed)
    multi = _multi_objective(s, tasks)
    kwargs: dict[str, Any] = dict(configspace=cs, name="smac", output_directory=out_dir / "smac",
                                  deterministic=True, n_trials=10 ** 9, seed=s.seed,
                                  objectives=[f"1-dice:{t}" for t in tasks] if multi else "cost")
    if s.racing:
        kwargs["instances"] = list(tasks)
        kwargs["instance_features"] = {t: [float(i == j) for j in range(len(tasks))] for i, t in enumerate(tasks)}
    if s.multi_fidelity:
        kwargs["min_budget"] = s.min_budget or max(len(tasks), n_slices // 9)
        kwargs["max_budget"] = n_slices
    scenario = Scenario(**kwargs)
    facade = {"rf": HyperparameterOptimizationFacade, "gp": BlackBoxFacade, "random": RandomFacade}[s.facade]
    if s.multi_fidelity:
        facade = MultiFidelityFacade
    extra: dict[str, Any] = {}
    if multi:
        extra["multi_objective_algorithm"] = (ParEGO(scenario) if s.aggregation == "parego"
                                              else MeanAggregationStrategy(scenario))
    warm = []
    if s.warm_start:
        from ConfigSpace import Configuration

        warm = [Configuration(cs, values=v, allow_inactive_with_values=False) for v in space.warm_start()]
        for c in warm:
            c.origin = "warm start"
    design_kwargs = {"additional_configs": warm}
    if facade is not RandomFacade:
        design_kwargs["n_configs"] = s.n_random_initial
    extra["initial_design"] = facade.get_initial_design(scenario, **design_kwargs)
    if facade in (HyperparameterOptimizationFacade, MultiFidelityFacade):
        extra["acquisition_maximizer"] = facade.get_acquisition_maximizer(
            scenario, challengers=s.challengers, local_search_iterations=s.local_search_iterations)
    if facade is not RandomFacade:
        extra["config_selector"] = facade.get_config_selector(scenario, retrain_after=s.retrain_after)
    if s.racing:
        extra["intensifier"] = facade.get_intensifier(scenario, max_config_calls=len(tasks)) \
            if facade is not MultiFidelityFacade else facade.get_intensifier(scenario)

    def unused_target(config, seed: int = 0, budget=None, instance=None):  # ask/tell only: SMAC never calls it
        raise RuntimeError("trials are run by medmix, not by SMAC")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # SMAC 2.4 calls ConfigSpace's get_dictionary()
        return facade(scenario, unused_target, overwrite=True, logging_level=40, **extra), cs


def _multi_objective(settings: SearchSettings, tasks: list[str]) -> bool:
    """One objective per task, except when racing (tasks are instances) or with Hyperband, which SMAC 2.4 does not
    combine with multi-objective intensification: there the cost is 1 − the mean Dice over tasks."""
    return len(tasks) > 1 and not settings.racing and not settings.multi_fidelity


def _cost(scores: dict[str, float], tasks: list[str], multi: bool, instance: str | None):
    if instance is not None:
        return 1.0 - scores[instance]
    if multi:
        return [1.0 - scores[t] for t in tasks]
    return 1.0 - sum(scores[t] for t in tasks) / len(tasks)


def run_search(config: SearchConfig, out_dir: str | Path, *, overwrite: bool = False, progress: bool = False,
               n_trials: int | None = None, walltime_s: float | None = None) -> SearchResult:
    """Run (or resume) a search; writes trials.jsonl/csv, pareto.csv, best_recipe.yaml, best/ and plots."""
    from smac.runhistory.dataclasses import TrialInfo, TrialValue

    settings = config.settings
    if n_trials is not None:
        settings = replace(settings, n_trials=n_trials)
    if walltime_s is not None:
        settings = replace(settings, walltime_s=walltime_s)
    config = replace(config, settings=settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / "search.json"
    log_path = out / "trials.jsonl"
    if marker.exists() and not overwrite:
        recorded = json.loads(marker.read_text()).get("fingerprint")
        if recorded != config.fingerprint():
            raise MedmixError(f"{out} holds a search with a different pool, space, objective or seed; resuming would "
                              "mix them. Use another --out, or --overwrite to start again.")
    elif overwrite and log_path.exists():
        log_path.unlink()
    atomic_write_text(marker, json.dumps({"fingerprint": config.fingerprint(), "config": config.source}, indent=2,
                                         default=str))
    import yaml

    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(
        {"setup": {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.setup.__dict__.items()},
         "search": settings.__dict__}, sort_keys=False, default_flow_style=None))

    executor = _Executor(config.setup, settings)
    bar = None
    try:
        engine = getattr(executor, "engine", None) or get_engine(config.setup, "cpu" if executor.client else None)
        space, tasks = engine.space, engine.tasks
        n_slices = engine.calibration.total_slices
        _write_report(out, engine)
        smac, cs = _make_smac(config, space, tasks, out, n_slices)
        multi = _multi_objective(settings, tasks)
        records = _read_log(log_path)
        cache = {_canonical(r["config"], r["budget"], r["instance"]): r for r in records}
        from ConfigSpace import Configuration

        for r in records:  # resume: SMAC learns every finished trial before asking anything
            info = TrialInfo(Configuration(cs, values=r["config"]), seed=0, budget=r["budget"], instance=r["instance"])
            smac.tell(info, TrialValue(cost=r["cost"], time=r["eval_s"]), save=False)
        trials = list(records)
        started = time.perf_counter()
        in_flight: deque = deque()
        bar = _Bar(progress, settings.n_trials, len(trials))

        def out_of_time() -> bool:
            return settings.walltime_s is not None and time.perf_counter() - started > settings.walltime_s

        asked = len(trials)
        while True:
            while len(in_flight) < executor.capacity and asked < settings.n_trials and not out_of_time():
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    # SMAC 2.4's local search logs the mean of an empty list when no neighbour improves.
                    warnings.simplefilter("ignore", RuntimeWarning)
                    info = smac.ask()
                ask_s = time.perf_counter() - t0
                values = plain_values(info.config)
                key = _canonical(values, info.budget, info.instance)
                asked += 1
                if key in cache:  # the same trial again: answer from the record
                    r = cache[key]
                    smac.tell(info, TrialValue(cost=r["cost"], time=r["eval_s"]), save=False)
                    continue
                in_flight.append((info, values, ask_s, executor.submit(values, info.budget, info.instance)))
            if not in_flight:
                break
            info, values, ask_s, future = in_flight.popleft()
            result = future.result()
            cost = _cost(result["scores"], tasks, multi, info.instance)
            t0 = time.perf_counter()
            smac.tell(info, TrialValue(cost=cost, time=result["eval_s"]), save=False)
            tell_s = time.perf_counter() - t0
            record = {"trial": len(trials), "config": values, "budget": info.budget, "instance": info.instance,
                      "origin": info.config.origin, "scores": result["scores"], "cost": cost,
                      "merge_s": result["merge_s"], "eval_s": result["eval_s"], "ask_s": ask_s, "tell_s": tell_s,
                      "finished_s": time.perf_counter() - started}
            _append_log(log_path, record)
            trials.append(record)
            cache[_canonical(values, info.budget, info.instance)] = record
            bar.advance(record)
        wall_s = time.perf_counter() - started
        smac.runhistory.save(out / "smac" / "runhistory.json")
    finally:
        if bar is not None:
            bar.close()
        executor.close()
    return _finish(config, out, engine, trials, tasks, wall_s, settings)


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut by a kill: everything before it is intact
    return records


def _append_log(path: Path, record: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record, allow_nan=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class _Bar:
    def __init__(self, enabled: bool, total: int, done: int):
        self.progress = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("merge search"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.description}"), TimeRemainingColumn())
            self.progress.start()
            self.task = self.progress.add_task("", total=total, completed=done)
        self.best = -math.inf

    def advance(self, record: dict) -> None:
        if self.progress is None:
            return
        score = sum(record["scores"].values()) / len(record["scores"])
        self.best = max(self.best, score)
        self.progress.update(self.task, advance=1, description=f"best mean Dice {self.best:.4f}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _write_report(out: Path, engine) -> None:
    rows = [{"unit": r.unit, "n_tensors": r.n_tensors, "n_values": r.n_values, "identical": r.identical,
             "searched": r.unit in engine.space.units, **{f"rel_norm:{k}": v for k, v in r.relative_norm.items()},
             **{f"cosine:{k}": v for k, v in r.cosine.items()}} for r in engine.report]
    import pandas as pd

    pd.DataFrame(rows).to_csv(out / "pool_report.csv", index=False)


def pareto_front(points: list[dict], tasks: list[str]) -> list[dict]:
    """Trials whose per-task scores no other trial beats on every task (higher Dice is better)."""
    front = []
    for p in points:
        dominated = any(all(q["scores"][t] >= p["scores"][t] for t in tasks) and
                        any(q["scores"][t] > p["scores"][t] for t in tasks) for q in points if q is not p)
        if not dominated:
            front.append(p)
    return front


def _finish(config, out: Path, engine, trials: list[dict], tasks: list[str], wall_s: float, settings) -> SearchResult:
    import pandas as pd

    from medmix.merging.apply import write_merged_folder
    from medmix.merging.recipe import MergeRecipe, merge_state_dict
    from medmix.merging.space import base_recipe

    # The incumbent comes from the highest budget any trial reached (Hyperband: the full budget when reached).
    top = max((t["budget"] or math.inf) for t in trials) if trials else None
    full = [t for t in trials if t["instance"] is None and (t["budget"] or math.inf) == top]
    if settings.racing:  # score = mean over the tasks a configuration was raced on
        by_config: dict[str, dict] = {}
        for t in trials:
            key = _canonical(t["config"], None, None)
            entry = by_config.setdefault(key, {**t, "scores": {}})
            entry["scores"].update(t["scores"])
        full = [t for t in by_config.values() if set(t["scores"]) == set(tasks)] or list(by_config.values())
    if not full:
        raise MedmixError("no finished trial to pick a best merge from; raise n_trials.")
    for t in full:
        t["mean_dice"] = sum(t["scores"].values()) / len(t["scores"])
    best = max(full, key=lambda t: (t["mean_dice"], -t["trial"]))
    front = pareto_front(full, tasks)
    rows = []
    for t in trials:
        row = {"trial": t["trial"], "origin": t["origin"], "budget": t["budget"], "instance": t["instance"],
               **{f"dice:{k}": v for k, v in t["scores"].items()},
               "cost": json.dumps(t["cost"]) if isinstance(t["cost"], list) else t["cost"],
               "merge_s": t["merge_s"], "eval_s": t["eval_s"], "optimiser_s": t["ask_s"] + t["tell_s"],
               "config": json.dumps(t["config"], sort_keys=True)}
        rows.append(row)
    pd.DataFrame(rows).to_csv(out / "trials.csv", index=False)
    pd.DataFrame([{"trial": t["trial"], "mean_dice": t["mean_dice"], **{f"dice:{k}": v for k, v in
                  t["scores"].items()}} for t in front]).to_csv(out / "pareto.csv", index=False)
    unit_recipes = engine.space.unit_recipes(best["config"])
    setup = config.setup
    recipe = MergeRecipe(setup.arch, [{"name": n, "path": p} for n, p in setup.pool], dict(setup.units),
                         base_recipe(len(setup.pool)), unit_recipes, setup.preprocessing, setup.seed)
    recipe.save(out / "best_recipe.yaml")
    evals = [t["eval_s"] for t in trials]
    optimiser = [t["ask_s"] + t["tell_s"] for t in trials]
    timings = {"wall_s": wall_s, "n_trials": len(trials), "eval_s_total": sum(evals),
               "busy_fraction": sum(evals) / wall_s if wall_s > 0 else None,
               "eval_s_mean": sum(evals) / len(evals), "optimiser_s_mean": sum(optimiser) / len(optimiser),
               "optimiser_s_max": max(optimiser), "merge_s_mean": sum(t["merge_s"] for t in trials) / len(trials)}
    single_models = {}
    for t in trials:
        if t["origin"] == "warm start" and t["budget"] in (None, engine.calibration.total_slices):
            single_models.setdefault(json.dumps(t["config"], sort_keys=True), t)
    summary = {"best_trial": best["trial"], "best_mean_dice": best["mean_dice"], "best_scores": best["scores"],
               "tasks": tasks, "protocol": dict(config.setup.protocol), "pareto_trials": [t["trial"] for t in front], "timings": timings}
    atomic_write_text(out / "search_summary.json", json.dumps(summary, indent=2))
    state = merge_state_dict(engine.pool, recipe)
    search_record = {"best_trial": best["trial"], "calibration_scores": best["scores"],
                     "protocol": dict(config.setup.protocol)}
    write_merged_folder(state, recipe, out / "best", engine.pool, {"search": search_record},
                        model_provenance={"search": {"protocol": dict(config.setup.protocol)}})
    _plot(out, trials)
    return SearchResult(out, trials, best, front, tasks, timings)


def _plot(out: Path, trials: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = [sum(t["scores"].values()) / len(t["scores"]) for t in trials]
    best, running = [], -math.inf
    for m in means:
        running = max(running, m)
        best.append(running)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(range(len(means)), means, ".", color="0.6", label="trial")
    ax.plot(range(len(best)), best, "-", color="C0", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("mean calibration Dice")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "best_so_far.png", metadata={"Software": None})
    plt.close(fig)


def evaluate_best(result: SearchResult, config: SearchConfig, *, split: str = "test", progress: bool = False):
    """The incumbent on the test split through the evaluation harness, under the search's protocol (results feed
    leaderboards directly)."""
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    setup = config.setup
    eval_config = EvaluationConfig(suite=setup.suite, out_dir=str(result.out_dir / f"eval_{split}"),
                                   model=f"merged:{result.out_dir / 'best'}", split=split,
                                   tasks=list(result.tasks), data_root=setup.data_root, device=setup.device,
                                   protocol=dict(setup.protocol))
    return evaluate(eval_config, progress=progress)


def check_pool_paths(config: SearchConfig) -> None:
    for name, path in config.setup.pool:
        if not Path(path).is_file():
            raise InputError(f"pool member {name!r}: checkpoint {path!r} does not exist.")

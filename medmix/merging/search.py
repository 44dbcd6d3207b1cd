"""SMAC3 search over merge recipes: `medmix merge search --config C.yaml --out DIR`.

Loop: the strategy's ask/tell (SMAC RF / GP / random or CMA-ES, `medmix.merging.strategies`), the strategy in a
process of its own that keeps `pipeline_depth` proposals asked ahead (`medmix.merging.optimiser`), so its latency
hides behind the trials and never competes with the trial loop for the interpreter. Every finished trial is
appended to `trials.jsonl` (fsync'd) before the strategy is told; re-running the same command first replays every
recorded trial to the strategy and then continues, so no finished trial is lost and SMAC's interactive "metadata
changed" prompt can never appear (its run folder is rewritten from our record). A proposal the log already answers
is told its recorded cost and does not count as a trial. Trials run in this process (one device) or on Dask
workers (`workers: N` for a local cluster, `scheduler: ADDRESS` for an existing one); workers cache the pool.

Objectives: single task (cost = 1 − mean slice Dice on the calibration split), or several tasks as several
objectives with ParEGO really passed to the facade (or mean aggregation); with Hyperband (budget = calibration
slices) or CMA-ES, medmix's own ParEGO scalarisation with fresh weights per proposal. Racing over tasks as SMAC
instances. The config is read by
`medmix.merging.search_config`, SMAC is set up by `medmix.merging.smac_setup`; this module runs the loop and
writes the results.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from medmix.atomic import atomic_save, atomic_write_text
from medmix.errors import MedmixError
# The config API is re-exported: `from medmix.merging.search import load_search_config, run_search` keeps working.
from medmix.merging.search_config import (AGGREGATIONS, FACADES, MODES, SearchConfig, SearchSettings,  # noqa: F401
                                          check_search_inputs, load_search_config, search_config_from_dict)
from medmix.merging.trial import EngineSetup, get_engine, worker_trial
from medmix.run_folder import RunLock, check_stamp, stamp


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


def run_search(config: SearchConfig, out_dir: str | Path, *, overwrite: bool = False, progress: bool = False,
               n_trials: int | None = None, walltime_s: float | None = None) -> SearchResult:
    """Run (or resume) a search; writes trials.jsonl/csv, pareto.csv, best_recipe.yaml, best/ and plots.

    The folder is locked while this process writes it; it is stamped (search.json) only once the pool and the
    calibration slices are ready, and a folder stamped by another search is refused only if it holds finished
    trials."""
    settings = config.settings
    if n_trials is not None:
        settings = replace(settings, n_trials=n_trials)
    if walltime_s is not None:
        settings = replace(settings, walltime_s=walltime_s)
    config = replace(config, settings=settings)
    out = Path(out_dir)
    log_path = out / "trials.jsonl"
    with RunLock(out, "merge search"):
        records = [] if overwrite else _read_log(log_path)
        check_stamp(out, "search.json", config.fingerprint(), has_results=bool(records), overwrite=overwrite,
                    what="search (pool, space, objective, protocol or seed)")
        # Loading the pool and preparing the calibration slices validates the rest; only then is the folder
        # stamped, so a search that fails before its first trial leaves nothing that blocks its fixed re-run.
        executor = _Executor(config.setup, settings)
        try:
            engine = getattr(executor, "engine", None) or get_engine(config.setup,
                                                                     "cpu" if executor.client else None)
            if overwrite and log_path.exists():
                log_path.unlink()
            _stamp_search(out, config, settings)
            return _search_loop(config, settings, out, log_path, engine, executor, records, progress)
        finally:
            executor.close()


def _stamp_search(out: Path, config: SearchConfig, settings: SearchSettings) -> None:
    import yaml

    stamp(out, "search.json", config.fingerprint(), {"config": config.source})
    atomic_write_text(out / "config.resolved.yaml", yaml.safe_dump(
        {"setup": {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.setup.__dict__.items()},
         "search": settings.__dict__}, sort_keys=False, default_flow_style=None))


def _search_loop(config: SearchConfig, settings: SearchSettings, out: Path, log_path: Path, engine, executor,
                 records: list[dict], progress: bool) -> SearchResult:
    trials, wall_s = search_trials(config, settings, out, engine, executor, records, progress)
    return _finish(config, out, engine, trials, engine.tasks, wall_s, settings, n_resumed=len(records))


def search_trials(config: SearchConfig, settings: SearchSettings, out: Path, engine, executor, records: list[dict],
                  progress: bool = False) -> tuple[list[dict], float]:
    """The ask / tell loop: proposals come from the strategy (in its own process unless `optimiser_process` is
    false, `medmix.merging.optimiser`), trials run on the executor, every finished trial is logged (fsync'd)
    before the strategy is told, tells in the order proposals were handed out. Returns (trials, wall s)."""
    from functools import partial

    from medmix.merging.optimiser import LocalOptimiser, OptimiserProcess
    from medmix.merging.strategies import cost_mode, make_strategy, parego_weights, trial_cost
    from medmix.progress import Progress

    log_path = out / "trials.jsonl"
    space, tasks = engine.space, engine.tasks
    _write_report(out, engine)
    mode = cost_mode(settings, tasks)
    factory = partial(make_strategy, config, space, tasks, out, engine.calibration.total_slices)
    kind = OptimiserProcess if settings.optimiser_process else LocalOptimiser
    # Repeats (a proposal the log already answers) do not count as trials; at most n_trials of them, so a strategy
    # that keeps proposing what it has seen cannot loop for ever.
    optimiser = kind(factory, depth=executor.capacity, limit=2 * settings.n_trials, first_number=len(records),
                     records=records)
    repeats = 0
    cache = {_canonical(r["config"], r["budget"], r["instance"]): r for r in records}
    trials = list(records)
    started = time.perf_counter()
    in_flight: deque = deque()
    best = max((sum(r["scores"].values()) / len(r["scores"]) for r in trials), default=-math.inf)

    def out_of_time() -> bool:
        return settings.walltime_s is not None and time.perf_counter() - started > settings.walltime_s

    asked = len(trials)
    try:
        with Progress("merge search", settings.n_trials, enabled=progress, done=len(trials),
                      context=f"{len(tasks)} task(s), {len(space.units)} units searched") as bar:
            while True:
                while len(in_flight) < executor.capacity and asked < settings.n_trials and not out_of_time():
                    t0 = time.perf_counter()
                    got = optimiser.next()
                    if got is None:  # the strategy waits for results (CMA-ES between generations)
                        break
                    proposal, ask_s = got
                    wait_s = time.perf_counter() - t0
                    key = _canonical(proposal.values, proposal.budget, proposal.instance)
                    if key in cache:  # the same trial again: answer from the record
                        r = cache[key]
                        optimiser.tell(proposal.number, r["cost"], r["eval_s"])
                        repeats += 1
                        if repeats > settings.n_trials:
                            break
                        continue
                    asked += 1
                    future = executor.submit(proposal.values, proposal.budget, proposal.instance)
                    in_flight.append((proposal, ask_s, wait_s, future))
                if not in_flight:
                    break
                proposal, ask_s, wait_s, future = in_flight.popleft()
                result = future.result()
                weights = parego_weights(settings.seed, proposal.number, len(tasks)) if mode == "parego" else None
                cost = trial_cost(result["scores"], tasks, mode, proposal.instance, weights)
                t0 = time.perf_counter()
                optimiser.tell(proposal.number, cost, result["eval_s"])
                tell_s = time.perf_counter() - t0
                record = {"trial": len(trials), "config": proposal.values, "budget": proposal.budget,
                          "instance": proposal.instance, "origin": proposal.origin, "scores": result["scores"],
                          "cost": cost, "merge_s": result["merge_s"], "eval_s": result["eval_s"], "ask_s": ask_s,
                          "tell_s": tell_s, "wait_s": wait_s, "finished_s": time.perf_counter() - started}
                if weights is not None:
                    record["parego_weights"] = [float(w) for w in weights]
                _append_log(log_path, record)
                trials.append(record)
                cache[_canonical(proposal.values, proposal.budget, proposal.instance)] = record
                best = max(best, sum(record["scores"].values()) / len(record["scores"]))
                bar.advance(text=f"best mean calibration Dice {best:.4f}")
        wall_s = time.perf_counter() - started
        optimiser.save()
    finally:
        optimiser.close()
    return trials, wall_s


def _read_log(path: Path) -> list[dict]:
    """The finished trials of `trials.jsonl`. A last line cut by a crash mid-write is dropped and the file rewritten
    without it (atomically), so new records never follow a broken one; a damaged line before the last is an
    error, since the records after it cannot be trusted to be what they say."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise MedmixError(f"{path}: line {number} is not a complete JSON record, and {len(lines) - number} "
                                  "line(s) follow it; the log was edited or damaged. Remove that line (and check the "
                                  "ones after it), or start again with --overwrite.") from None
            warnings.warn(f"{path}: its last line was cut by an interrupted write; dropped it ({len(records)} "
                          "finished trials kept).", stacklevel=2)
            atomic_write_text(path, "".join(json.dumps(r, allow_nan=False) + "\n" for r in records))
            return records
    if text and not text.endswith("\n"):  # a complete record without its newline: finish the line
        atomic_write_text(path, text + "\n")
    return records


def _append_log(path: Path, record: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record, allow_nan=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _write_report(out: Path, engine) -> None:
    rows = [{"unit": r.unit, "n_tensors": r.n_tensors, "n_values": r.n_values, "identical": r.identical,
             "searched": r.unit in engine.space.units, **{f"rel_norm:{k}": v for k, v in r.relative_norm.items()},
             **{f"cosine:{k}": v for k, v in r.cosine.items()}} for r in engine.report]
    import pandas as pd

    frame = pd.DataFrame(rows)
    atomic_save(out / "pool_report.csv", lambda p: frame.to_csv(p, index=False))


def pareto_front(points: list[dict], tasks: list[str]) -> list[dict]:
    """Trials whose per-task scores no other trial beats on every task (higher Dice is better). Tasks some trial
    lacks (racing that stopped before every configuration met every task) are left out of the comparison."""
    tasks = [t for t in tasks if all(t in p["scores"] for p in points)]
    if not tasks:
        return [max(points, key=lambda p: sum(p["scores"].values()) / len(p["scores"]))] if points else []
    front = []
    for p in points:
        dominated = any(all(q["scores"][t] >= p["scores"][t] for t in tasks) and
                        any(q["scores"][t] > p["scores"][t] for t in tasks) for q in points if q is not p)
        if not dominated:
            front.append(p)
    return front


def _finish(config, out: Path, engine, trials: list[dict], tasks: list[str], wall_s: float, settings, *,
            n_resumed: int = 0) -> SearchResult:
    import pandas as pd

    from medmix.merging.apply import write_merged_folder
    from medmix.merging.recipe import MergeRecipe, merge_state_dict, validate_recipe
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
    trials_frame = pd.DataFrame(rows)
    atomic_save(out / "trials.csv", lambda p: trials_frame.to_csv(p, index=False))
    pareto_frame = pd.DataFrame([{"trial": t["trial"], "mean_dice": t["mean_dice"], **{f"dice:{k}": v for k, v in
                  t["scores"].items()}} for t in front])
    atomic_save(out / "pareto.csv", lambda p: pareto_frame.to_csv(p, index=False))
    unit_recipes = engine.space.unit_recipes(best["config"])
    setup = config.setup
    recipe = MergeRecipe(setup.arch, [{"name": n, "path": p} for n, p in setup.pool], dict(setup.units),
                         base_recipe(len(setup.pool)), unit_recipes, setup.preprocessing, setup.seed)
    recipe = validate_recipe(recipe)  # the whole recipe before anything of it is written
    recipe.save(out / "best_recipe.yaml")
    evals = [t["eval_s"] for t in trials]
    optimiser = [t["ask_s"] + t["tell_s"] for t in trials]
    # The busy fraction is this session's: trials resumed from the log ran under another wall clock.
    fresh = [t["eval_s"] for t in trials[n_resumed:]]
    timings = {"wall_s": wall_s, "n_trials": len(trials), "n_trials_this_session": len(fresh),
               "eval_s_total": sum(evals),
               "busy_fraction": sum(fresh) / wall_s if fresh and wall_s > 0 else None,
               "eval_s_mean": sum(evals) / len(evals), "optimiser_s_mean": sum(optimiser) / len(optimiser),
               "optimiser_s_max": max(optimiser), "merge_s_mean": sum(t["merge_s"] for t in trials) / len(trials),
               "strategy": settings.facade, "optimiser_process": settings.optimiser_process}
    waits = [t["wait_s"] for t in trials[n_resumed:] if "wait_s" in t]
    if waits:  # how long the loop waited for a proposal (the device may still have had queued trials)
        timings["proposal_wait_s_mean"] = sum(waits) / len(waits)
    single_models = {}
    for t in trials:
        if t["origin"] == "warm start" and t["budget"] in (None, engine.calibration.total_slices):
            single_models.setdefault(json.dumps(t["config"], sort_keys=True), t)
    summary = {"best_trial": best["trial"], "best_mean_dice": best["mean_dice"], "best_scores": best["scores"],
               "tasks": tasks, "protocol": dict(config.setup.protocol), "pareto_trials": [t["trial"] for t in front],
               "timings": timings}
    atomic_write_text(out / "search_summary.json", json.dumps(summary, indent=2))
    state = merge_state_dict(engine.pool, recipe)
    search_record = {"best_trial": best["trial"], "calibration_scores": best["scores"],
                     "protocol": dict(config.setup.protocol)}
    # best/ is built beside the run folder's other files and renamed into place; on a resumed search it replaces
    # the previous best/ of this same (locked, fingerprinted) run folder, never anything else.
    write_merged_folder(state, recipe, out / "best", engine.pool, {"search": search_record},
                        model_provenance={"search": {"protocol": dict(config.setup.protocol)}}, overwrite=True)
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
    atomic_save(out / "best_so_far.png", lambda p: fig.savefig(p, format="png", metadata={"Software": None}))
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


"""Build a leaderboard from a long results table: rankings, statistics, significance, stability, subgroups.

How the pieces combine (reference.md §5):

1. Per task and metric, rank the algorithms with the chosen scheme (`medmix.leaderboard.ranking`).
2. Per task, combine the metrics by mean rank (re-ranked, ties "min"): the task's rank.
3. Overall, the rank score of an algorithm is its mean rank over every task × metric; the overall rank ranks
   that score (lower is better, ties "min"). Per metric, the mean rank over tasks gives the metric's overall rank.
4. Next to it, consensus rankings over the same task × metric rankings (`medmix.leaderboard.consensus`: mean
   tie-averaged rank as challengeR's consensus, median, Borda, pairwise majority, Kemeny).

`compat="challenger"` computes every step with challengeR's conventions (`medmix.leaderboard.conventions`):
then steps 2 and 3 average tie-averaged ranks, i.e. the overall rank is challengeR's euclidean consensus.

Missing cases (an algorithm without a value for a case that another algorithm has):

- aggregate-then-rank: the missing case counts as the metric's worst value, recorded per task and metric:
  0 for overlap metrics (Dice, IoU, NSD and their slice-wise forms, whose worst possible value is 0); for every
  other metric (distances, custom metrics) the worst value observed for that task and metric over all
  algorithms (the largest for lower-is-better metrics, the smallest otherwise); `missing_values={"bahd": 50.0}`
  sets it explicitly;
- rank-then-aggregate: the worst rank, max + 1 (max = the number of algorithms that have the case);
- test-then-rank: the missing case counts as the same worst value before the pairwise tests, and an algorithm
  with no value at all on a task ranks after every algorithm that has one.
The significance map (`pairwise`) tests the values as they are, each pair over the cases both algorithms have;
a pair with no common case gets p = NaN (n_pairs 0, not significant) and stays out of the Holm family of its
task × metric.
Statistics (mean ± SD, median [IQR], CI) describe the values an algorithm has; `n_missing` counts the rest.
Every missing case is listed in `Leaderboard.missing`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.errors import InputError, UnknownNameError
from medmix.leaderboard.consensus import consensus_table
from medmix.leaderboard.conventions import Conventions, get_conventions
from medmix.leaderboard.io import SLICEWISE_SUFFIX, LeaderboardInput, read_inputs
from medmix.leaderboard.ranking import SCHEME_TITLES, SCHEMES, check_scheme, mean_rank, pairwise_pvalues, \
    scheme_scores
from medmix.leaderboard.stability import OVERALL, MetricTable, Stability, bootstrap_stability
from medmix.leaderboard.stats import bootstrap_mean_ci, describe, holm, kendall_tau

DEFAULT_METRICS = ("dice", "bahd")
CI_LEVEL = 0.95


@dataclass(frozen=True)
class MetricInfo:
    """A metric as the leaderboard uses it: the key in the tables and the registered metadata of its base."""

    key: str  # e.g. "dice", "bahd", "nsd:tolerance_mm=2", "dice_slicewise"
    name: str  # registered base name
    higher_is_better: bool
    units: str
    kind: str

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


def resolve_metric(text: str, available: Sequence[str] = ()) -> MetricInfo:
    """Metric key → MetricInfo. Direction comes from the registry (custom `@medmix.metric` metrics included);
    options after ':' keep the base's direction; `<name>_slicewise` is the slice-wise form of `<name>`."""
    from medmix.metrics.registry import METRICS, get_metric, list_metrics

    list_metrics()  # built-ins and entry-point plugins are registered before the membership test below
    text = text.strip()
    from medmix.evaluation.interactive import INTERACTIVE_METRICS

    if text in INTERACTIVE_METRICS and text not in METRICS:  # NoC, AUC: scores of an iterative run, not of a mask
        units = "clicks" if text.startswith("noc") and not text.endswith("_failed") else ""
        return MetricInfo(key=text, name=text, higher_is_better=INTERACTIVE_METRICS[text], units=units,
                          kind="interactive")
    head, sep, options = text.partition(":")
    base = head
    slicewise = head.endswith(SLICEWISE_SUFFIX) and head not in METRICS
    if slicewise:
        base = head[: -len(SLICEWISE_SUFFIX)]
    spec = get_metric(base)  # unknown → did-you-mean error
    key = text
    if text not in available:
        from medmix.metrics.engine import parse_metric

        normalised = parse_metric(base + sep + options).key
        name, s, opts = normalised.partition(":")
        key = name + (SLICEWISE_SUFFIX if slicewise else "") + s + opts
    kind = spec.kind
    return MetricInfo(key=key, name=spec.name, higher_is_better=spec.higher_is_better, units=spec.units, kind=kind)


def worst_value(metric: MetricInfo, observed: np.ndarray) -> float:
    """The value a missing case counts as under aggregate-then-rank (see the module docstring)."""
    if metric.kind == "overlap" and metric.higher_is_better:
        return 0.0
    observed = observed[np.isfinite(observed)]
    if observed.size == 0:
        return float("nan")
    return float(observed.min() if metric.higher_is_better else observed.max())


@dataclass
class Leaderboard:
    """Everything a leaderboard shows; `write(out_dir)` renders it (Markdown, CSV, JSON, HTML, PNG plots).

    Tables (pandas DataFrames, long form):
    - overall: algorithm, rank, rank_score, and per metric `<m>_mean_rank`, `<m>_rank`, `<m>_mean_over_tasks`;
    - task_ranks: task, algorithm, rank, rank_score (mean of the task's metric ranks);
    - metric_ranks: task, metric, algorithm, score, rank (the scheme's score per task × metric);
    - statistics: task, metric, algorithm, n, n_missing, mean, sd, median, q25, q75, ci_low, ci_high;
    - pairwise: task, metric, algorithm, versus, n_pairs, p_value, p_holm, significant (Holm, α), i.e. whether
      `algorithm` is significantly better than `versus`;
    - missing: task, metric, algorithm, n_missing, cases, fill_value;
    - subgroups: task, variable, group, n_cases, algorithm, metric, n, mean, median;
    - schemes: algorithm, then the overall rank under each scheme;
    - scheme_ranks: scope (a task or "overall"), scheme, algorithm, rank (the line plot across schemes);
    - consensus: algorithm, method, score, rank (consensus over the task × metric rankings of the chosen scheme).
    """

    algorithms: list[str]
    tasks: list[str]
    metrics: list[MetricInfo]
    scheme: str
    seed: int
    n_bootstrap: int
    alpha: float
    values: dict[tuple[str, str], pd.DataFrame]
    fill_values: dict[tuple[str, str], float]
    overall: pd.DataFrame
    task_ranks: pd.DataFrame
    metric_ranks: pd.DataFrame
    statistics: pd.DataFrame
    pairwise: pd.DataFrame
    missing: pd.DataFrame
    subgroups: pd.DataFrame
    schemes: pd.DataFrame
    scheme_tau: dict[str, float]
    stability: Stability | None
    conventions: Conventions
    scheme_ranks: pd.DataFrame
    consensus: pd.DataFrame
    sources: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_values: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def costs(self) -> dict[str, dict]:
        """algorithm → its run's cost block (parameters, ms_per_slice, peak_memory_mb, device), where known."""
        out = {}
        for source in self.sources:
            if source.cost and len(source.algorithms) == 1:
                out[source.algorithms[0]] = source.cost
        return out

    def order(self) -> list[str]:
        """Algorithms best first (ties keep input order)."""
        return list(self.overall.sort_values(["rank"], kind="stable")["algorithm"])

    def task_order(self, task: str) -> list[str]:
        rows = self.task_ranks[self.task_ranks["task"] == task]
        return list(rows.sort_values(["rank"], kind="stable")["algorithm"])

    def settings(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "scheme_title": SCHEME_TITLES[self.scheme],
            "metrics": [{"key": m.key, "name": m.name, "higher_is_better": m.higher_is_better,
                         "units": m.units} for m in self.metrics],
            "alpha": self.alpha,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "ties": "min" if self.conventions.tie_decimals is None else
                    f"min (scores equal to {self.conventions.tie_decimals} decimals tie)",
            "compat": self.conventions.name,
            "conventions": {"wilcoxon": self.conventions.wilcoxon, "win": "p <= alpha" if
                            self.conventions.win_inclusive else "p < alpha",
                            "missing_case_rank": self.conventions.missing_case_rank,
                            "combine": self.conventions.combine},
            "ci": f"{CI_LEVEL:.0%} percentile bootstrap of the mean over cases",
            "missing": {
                "aggregate_then_rank": "missing case = the metric's worst value (0 for overlap metrics, else the "
                                       "worst value observed for the task and metric, unless set)",
                "rank_then_aggregate": "missing case = worst rank (max + 1)",
                "test_then_rank": "pairwise tests over the cases both algorithms have",
                "explicit_values": dict(self.missing_values),
            },
        }

    def write(self, out_dir, *, plots: bool = True, figure_formats: Sequence[str] = ("png",)) -> list[Path]:
        """Write leaderboard.md/.csv/.json/.html, the detail CSVs, one grand-challenge metrics.json per algorithm
        and (with `plots`) the figures as PNG and/or SVG (`figure_formats`)."""
        from medmix.leaderboard.render import write_all

        self.files = write_all(self, Path(out_dir), plots=plots, figure_formats=tuple(figure_formats))
        return self.files


def _select_metrics(data: LeaderboardInput, metrics: Sequence[str] | None) -> tuple[list[MetricInfo], list[str]]:
    available = list(dict.fromkeys(data.table["metric"]))
    explicit = metrics is not None
    requested = list(metrics) if explicit else list(DEFAULT_METRICS)
    if not requested:
        raise InputError("no metric selected; pass --metric NAME (e.g. dice, bahd).")
    infos, warnings = [], []
    for text in requested:
        info = resolve_metric(text, available)
        if info.key not in available:
            if explicit:
                raise InputError(f"metric {info.key!r} is not in the inputs; they hold: {', '.join(available)}.")
            warnings.append(f"default metric {info.key!r} is not in the inputs; ranking without it.")
            continue
        if info.key in [m.key for m in infos]:
            continue
        infos.append(info)
    if not infos:
        raise InputError(f"none of the default metrics ({', '.join(DEFAULT_METRICS)}) is in the inputs; choose with "
                         f"--metric from: {', '.join(available)}.")
    return infos, warnings


def compute_leaderboard(
    data,
    *,
    metrics: Sequence[str] | None = None,
    scheme: str = "aggregate_mean",
    seed: int = 0,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    missing_values: Mapping[str, float] | None = None,
    tasks: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    compat: str | Conventions = "medmix",
) -> Leaderboard:
    """Compute a leaderboard (nothing is written). `data`: a `LeaderboardInput`, or inputs for `read_inputs`.
    compat: "medmix" (default) or "challenger" (challengeR's conventions, `medmix.leaderboard.conventions`)."""
    check_scheme(scheme)
    conventions = get_conventions(compat)
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1), got {alpha}.")
    if n_bootstrap < 0:
        raise InputError(f"n_bootstrap must be ≥ 0, got {n_bootstrap}.")
    if not isinstance(data, LeaderboardInput):
        data = read_inputs(data, list(names) if names is not None else None)
    infos, warnings = _select_metrics(data, metrics)
    warnings = [*data.warnings, *warnings]
    keys = [m.key for m in infos]
    explicit_missing = {}
    for key, value in (missing_values or {}).items():
        info = resolve_metric(key, keys)
        if info.key not in keys:
            raise InputError(f"missing value given for {key!r}, which is not a ranked metric ({', '.join(keys)}).")
        explicit_missing[info.key] = float(value)

    table = data.table[data.table["metric"].isin(keys)]
    algorithms = list(data.algorithms)
    all_tasks = list(dict.fromkeys(table["task"]))
    if tasks:
        unknown = [t for t in tasks if t not in all_tasks]
        if unknown:
            raise UnknownNameError("task", unknown[0], all_tasks)
        all_tasks = [t for t in all_tasks if t in set(tasks)]
    if not all_tasks:
        raise InputError(f"no task has any of the metrics {', '.join(keys)}.")
    if OVERALL in all_tasks:
        raise InputError(f"a task is named {OVERALL!r}, which the leaderboard reserves for the overall ranking; "
                         "rename it in the inputs.")

    values: dict[tuple[str, str], pd.DataFrame] = {}
    fill: dict[tuple[str, str], float] = {}
    by_key = {m.key: m for m in infos}
    grouped = {key: rows for key, rows in table.groupby(["task", "metric"], sort=False)}
    task_names = []
    for task in all_tasks:
        for metric in infos:
            rows = grouped.get((task, metric.key))
            if rows is None:
                continue
            cases = list(dict.fromkeys(rows["case"]))
            wide = rows.pivot(index="case", columns="algorithm", values="value").reindex(index=cases,
                                                                                         columns=algorithms)
            wide.columns.name = None
            values[(task, metric.key)] = wide
            observed = wide.to_numpy(dtype=float)
            fill[(task, metric.key)] = explicit_missing.get(metric.key, worst_value(metric, observed))
        if any(t == task for t, _ in values):
            task_names.append(task)
        absent = [m.key for m in infos if (task, m.key) not in values]
        if absent and len(absent) < len(infos):
            warnings.append(f"task {task!r} has no {', '.join(absent)}; its rank uses the other metric(s).")

    def ranks_for(which: str) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        return {key: scheme_scores(wide.to_numpy(dtype=float), by_key[key[1]].higher_is_better, which,
                                   missing_value=fill[key], alpha=alpha, conventions=conventions)
                for key, wide in values.items()}

    chosen = ranks_for(scheme)
    metric_rows, task_rows = [], []
    task_full: dict[str, np.ndarray] = {}
    for task in task_names:
        stacked = []
        for metric in infos:
            if (task, metric.key) not in chosen:
                continue
            score, rank = chosen[(task, metric.key)]
            stacked.append(rank)
            for i, algo in enumerate(algorithms):
                metric_rows.append({"task": task, "metric": metric.key, "algorithm": algo, "score": float(score[i]),
                                    "rank": int(rank[i])})
        score, rank = mean_rank(np.stack(stacked), conventions)
        task_full[task] = rank
        for i, algo in enumerate(algorithms):
            task_rows.append({"task": task, "algorithm": algo, "rank": int(rank[i]), "rank_score": float(score[i])})
    metric_ranks = pd.DataFrame(metric_rows)
    task_ranks = pd.DataFrame(task_rows)

    statistics = _statistics(values, algorithms, seed, n_bootstrap)
    overall = _overall(chosen, infos, algorithms, statistics, conventions)
    task_full[OVERALL] = overall["rank"].to_numpy(dtype=float)

    schemes, scheme_tau, scheme_rows = {"algorithm": algorithms}, {}, []
    for name in SCHEMES:
        ranks = chosen if name == scheme else ranks_for(name)
        _, rank = mean_rank(np.stack([r for _, r in ranks.values()]), conventions)
        schemes[name] = rank.astype(int)
        for task in task_names:
            _, task_rank = mean_rank(np.stack([r for (t, _), (_, r) in ranks.items() if t == task]), conventions)
            scheme_rows += [{"scope": task, "scheme": name, "algorithm": a, "rank": int(x)}
                            for a, x in zip(algorithms, task_rank)]
        scheme_rows += [{"scope": OVERALL, "scheme": name, "algorithm": a, "rank": int(x)}
                        for a, x in zip(algorithms, rank)]
    for name in SCHEMES:
        scheme_tau[name] = kendall_tau(schemes[name], schemes[scheme])

    stability = None
    if n_bootstrap > 0:
        tables = {}
        for task in task_names:
            # one case list per task (the union over metrics), so a draw resamples the same cases for every metric
            keys_here = [m.key for m in infos if (task, m.key) in values]
            cases = list(dict.fromkeys(c for key in keys_here for c in values[(task, key)].index))
            tables[task] = {key: MetricTable(values[(task, key)].reindex(cases).to_numpy(dtype=float),
                                             by_key[key].higher_is_better, fill[(task, key)])
                            for key in keys_here}
        stability = bootstrap_stability(tables, algorithms, scheme, full_ranks=task_full, n_bootstrap=n_bootstrap,
                                        seed=seed, alpha=alpha, conventions=conventions)

    return Leaderboard(
        algorithms=algorithms, tasks=task_names, metrics=infos, scheme=scheme, seed=seed, n_bootstrap=n_bootstrap,
        alpha=alpha, values=values, fill_values=fill, overall=overall, task_ranks=task_ranks,
        metric_ranks=metric_ranks, statistics=statistics, pairwise=_pairwise(values, by_key, alpha, conventions),
        missing=_missing(values, fill, scheme), subgroups=_subgroups(data.subgroups, values, task_names, infos),
        schemes=pd.DataFrame(schemes), scheme_tau=scheme_tau, stability=stability, sources=data.sources,
        warnings=warnings, missing_values=explicit_missing, conventions=conventions,
        scheme_ranks=pd.DataFrame(scheme_rows, columns=["scope", "scheme", "algorithm", "rank"]),
        consensus=consensus_table(np.stack([r for _, r in chosen.values()]), algorithms),
    )


def _statistics(values, algorithms, seed: int, n_bootstrap: int) -> pd.DataFrame:
    # A stream of its own, so the CIs do not shift when the stability bootstrap changes (and vice versa).
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    n_ci = n_bootstrap if n_bootstrap > 0 else 1000
    rows = []
    for (task, metric), wide in values.items():
        for algo in algorithms:
            column = wide[algo].to_numpy(dtype=float)
            stats = describe(column)
            low, high = bootstrap_mean_ci(column, rng, n_ci, CI_LEVEL)
            rows.append({"task": task, "metric": metric, "algorithm": algo, "n": stats["n"],
                         "n_missing": int(np.isnan(column).sum()), "mean": stats["mean"], "sd": stats["sd"],
                         "median": stats["median"], "q25": stats["q25"], "q75": stats["q75"], "ci_low": low,
                         "ci_high": high})
    return pd.DataFrame(rows)


def _overall(chosen, infos: list[MetricInfo], algorithms: list[str], statistics: pd.DataFrame,
             conventions: Conventions) -> pd.DataFrame:
    score, rank = mean_rank(np.stack([r for _, r in chosen.values()]), conventions)
    overall = pd.DataFrame({"algorithm": algorithms, "rank": rank.astype(int), "rank_score": score})
    for metric in infos:
        ranks = [r for (task, key), (_, r) in chosen.items() if key == metric.key]
        m_score, m_rank = mean_rank(np.stack(ranks), conventions)
        overall[f"{metric.key}_mean_rank"] = m_score
        overall[f"{metric.key}_rank"] = m_rank.astype(int)
        means = statistics[statistics["metric"] == metric.key].groupby("algorithm", sort=False)["mean"].mean()
        overall[f"{metric.key}_mean_over_tasks"] = [float(means.get(a, np.nan)) for a in algorithms]
    return overall


def _pairwise(values, by_key, alpha: float, conventions: Conventions) -> pd.DataFrame:
    rows = []
    for (task, metric), wide in values.items():
        array = wide.to_numpy(dtype=float)
        p = pairwise_pvalues(array, by_key[metric].higher_is_better, wilcoxon=conventions.wilcoxon)
        adjusted = holm(p)
        present = np.isfinite(array)
        algos = list(wide.columns)
        for i, a in enumerate(algos):
            for j, b in enumerate(algos):
                if i == j:
                    continue
                rows.append({"task": task, "metric": metric, "algorithm": a, "versus": b,
                             "n_pairs": int((present[:, i] & present[:, j]).sum()), "p_value": float(p[i, j]),
                             "p_holm": float(adjusted[i, j]),
                             "significant": bool(adjusted[i, j] <= alpha if conventions.win_inclusive
                                                 else adjusted[i, j] < alpha)})
    return pd.DataFrame(rows, columns=["task", "metric", "algorithm", "versus", "n_pairs", "p_value", "p_holm",
                                       "significant"])


def _missing(values, fill, scheme: str) -> pd.DataFrame:
    rows = []
    for (task, metric), wide in values.items():
        for algo in wide.columns:
            gone = wide.index[wide[algo].isna()]
            if len(gone):
                rows.append({"task": task, "metric": metric, "algorithm": algo, "n_missing": len(gone),
                             "n_cases": len(wide), "cases": " ".join(map(str, gone)),
                             "fill_value": fill[(task, metric)]})
    return pd.DataFrame(rows, columns=["task", "metric", "algorithm", "n_missing", "n_cases", "cases",
                                       "fill_value"])


def _group_key(variable: str, group: str):
    from medmix.leaderboard.io import DIAMETER_BINS_MM, diameter_bin

    if variable == "reference greatest dimension":
        order = ["no lesion", *[diameter_bin(e) for e in DIAMETER_BINS_MM], diameter_bin(1e9)]
        return (0, order.index(group) if group in order else len(order), group)
    return (1, 0, group)


def _subgroups(subgroups: pd.DataFrame, values, tasks: list[str], infos: list[MetricInfo]) -> pd.DataFrame:
    columns = ["task", "variable", "group", "n_cases", "algorithm", "metric", "n", "mean", "median"]
    rows = []
    if subgroups is None or not len(subgroups):
        return pd.DataFrame(rows, columns=columns)
    for task in tasks:
        sub = subgroups[subgroups["task"] == task]
        for variable in dict.fromkeys(sub["variable"]):
            var_rows = sub[sub["variable"] == variable]
            groups = sorted(dict.fromkeys(var_rows["group"]), key=lambda g: _group_key(variable, g))
            for group in groups:
                cases = set(var_rows.loc[var_rows["group"] == group, "case"])
                for metric in infos:
                    wide = values.get((task, metric.key))
                    if wide is None:
                        continue
                    part = wide[wide.index.isin(cases)]
                    for algo in wide.columns:
                        column = part[algo].to_numpy(dtype=float)
                        stats = describe(column)
                        rows.append({"task": task, "variable": variable, "group": group, "n_cases": len(part),
                                     "algorithm": algo, "metric": metric.key, "n": stats["n"],
                                     "mean": stats["mean"], "median": stats["median"]})
    return pd.DataFrame(rows, columns=columns)


def build_leaderboard(
    inputs,
    out_dir=None,
    *,
    metrics: Sequence[str] | None = DEFAULT_METRICS,
    scheme: str = "aggregate_mean",
    seed: int = 0,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    names: Sequence[str] | None = None,
    missing_values: Mapping[str, float] | None = None,
    tasks: Sequence[str] | None = None,
    plots: bool = True,
    compat: str = "medmix",
    figure_formats: Sequence[str] = ("png",),
) -> Leaderboard:
    """Rank evaluation runs (or long CSVs) and, with `out_dir`, write the leaderboard files there.

    inputs: run folders, long CSVs (task, case, algorithm, metric, value), cases.csv files or long DataFrames.
    metrics: metric keys ranked together (default Dice + bAHD; `dice_slicewise` = MedSAMix's slice-wise Dice);
    a default metric the inputs lack is skipped with a warning, an explicitly requested one is an error.
    scheme: "aggregate_mean", "aggregate_median", "rank_then_aggregate" or "test_then_rank".
    seed, n_bootstrap: the stability bootstrap and the CIs (same seed → same files). alpha: significance level.
    names: one algorithm name per run folder. missing_values: metric → value a missing case counts as under
    aggregate-then-rank. tasks: only these tasks. compat: "medmix" or "challenger" (challengeR's conventions).
    plots, figure_formats: write the figures, as "png" and/or "svg".
    """
    lenient = metrics is None or tuple(metrics) == DEFAULT_METRICS
    board = compute_leaderboard(inputs, metrics=None if lenient else metrics, scheme=scheme, seed=seed,
                                n_bootstrap=n_bootstrap, alpha=alpha, missing_values=missing_values, tasks=tasks,
                                names=names, compat=compat)
    if out_dir is not None:
        board.write(out_dir, plots=plots, figure_formats=figure_formats)
    return board

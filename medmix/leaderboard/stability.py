"""Ranking stability: bootstrap the cases, re-rank every draw, summarise the rank distributions.

Each draw resamples the cases of every task with replacement (independently per task; the same resample for
all metrics of a task, so metrics stay paired), re-ranks each task × metric with the leaderboard's scheme,
combines metrics within a task by mean rank, and the whole leaderboard by the mean rank over tasks and metrics,
exactly as the full ranking does. Missing cases keep the scheme's treatment (a resampled missing case is still
missing). Everything is vectorised over draws: values[idx] has shape (draws, cases, algorithms).

Reported per algorithm and scope (each task and "overall"): the full-data rank, the median bootstrap rank and
its 2.5–97.5% interval (numpy "linear" quantiles), and per scope the distribution of Kendall's τ-b between
each draw's ranking and the full ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from medmix.leaderboard.conventions import MEDMIX, Conventions
from medmix.leaderboard.ranking import mean_rank, scheme_scores
from medmix.leaderboard.stats import kendall_tau_rows

OVERALL = "overall"


@dataclass(frozen=True)
class MetricTable:
    """One task × metric as the bootstrap needs it."""

    values: np.ndarray  # cases × algorithms, NaN = missing; every metric of a task has the same case rows
    higher_is_better: bool
    missing_value: float | None  # aggregate schemes' fill value


@dataclass
class Stability:
    """Bootstrap rank distributions. `ranks[scope]` is (n_bootstrap, k); `tau[scope]` is (n_bootstrap,);
    `metric_ranks[(task, metric)]` is (n_bootstrap, k), each metric's own rank in every draw."""

    algorithms: list[str]
    scopes: list[str]  # task names, then "overall"
    n_bootstrap: int
    seed: int
    full_ranks: dict[str, np.ndarray]
    ranks: dict[str, np.ndarray]
    tau: dict[str, np.ndarray]
    metric_ranks: dict[tuple[str, str], np.ndarray]

    def rank_summary(self) -> pd.DataFrame:
        """scope, algorithm, rank, median_rank, rank_q025, rank_q975, share_best (fraction of draws ranked 1)."""
        rows = []
        for scope in self.scopes:
            q = np.percentile(self.ranks[scope], [2.5, 50.0, 97.5], axis=0)
            for i, algo in enumerate(self.algorithms):
                rows.append({"scope": scope, "algorithm": algo, "rank": int(self.full_ranks[scope][i]),
                             "median_rank": float(q[1, i]), "rank_q025": float(q[0, i]),
                             "rank_q975": float(q[2, i]),
                             "share_best": float(np.mean(self.ranks[scope][:, i] == 1))})
        return pd.DataFrame(rows)

    def tau_summary(self) -> pd.DataFrame:
        """scope, n_defined, mean, median, tau_q025, tau_q975 of Kendall's τ against the full ranking."""
        rows = []
        for scope in self.scopes:
            tau = self.tau[scope]
            tau = tau[np.isfinite(tau)]
            if tau.size:
                q = np.percentile(tau, [2.5, 50.0, 97.5])
                rows.append({"scope": scope, "n_defined": int(tau.size), "mean": float(tau.mean()),
                             "median": float(q[1]), "tau_q025": float(q[0]), "tau_q975": float(q[2])})
            else:
                rows.append({"scope": scope, "n_defined": 0, "mean": np.nan, "median": np.nan, "tau_q025": np.nan,
                             "tau_q975": np.nan})
        return pd.DataFrame(rows)


def bootstrap_stability(tables: dict[str, dict[str, MetricTable]], algorithms: list[str], scheme: str, *,
                        full_ranks: dict[str, np.ndarray], n_bootstrap: int = 1000, seed: int = 0,
                        alpha: float = 0.05, chunk: int = 250, conventions: Conventions = MEDMIX) -> Stability:
    """Bootstrap `tables` (task → metric → MetricTable) `n_bootstrap` times with `np.random.default_rng(seed)`.

    `full_ranks` maps each task and "overall" to the full-data ranking (for Kendall's τ). Draws are generated
    task by task in the order of `tables`, so results depend only on the inputs and the seed. `chunk` bounds
    memory (draws processed at once); it does not change the result.
    """
    rng = np.random.default_rng(seed)
    k = len(algorithms)
    indices = {}
    for task, metrics in tables.items():
        n_cases = {table.values.shape[0] for table in metrics.values()}
        if len(n_cases) != 1:
            raise ValueError(f"task {task!r}: the metrics' tables must share one case list (rows), got {n_cases}.")
        n = n_cases.pop()
        indices[task] = rng.integers(0, n, size=(n_bootstrap, n))
    task_ranks = {task: np.empty((n_bootstrap, k)) for task in tables}
    overall = np.empty((n_bootstrap, k))
    per_metric = {(task, key): np.empty((n_bootstrap, k)) for task, metrics in tables.items() for key in metrics}
    for start in range(0, n_bootstrap, chunk):
        stop = min(start + chunk, n_bootstrap)
        all_ranks = []
        for task, metrics in tables.items():
            idx = indices[task][start:stop]
            metric_ranks = []
            for key, table in metrics.items():
                _, rank = scheme_scores(table.values[idx], table.higher_is_better, scheme,
                                        missing_value=table.missing_value, alpha=alpha, conventions=conventions)
                per_metric[(task, key)][start:stop] = rank
                metric_ranks.append(rank)
            stacked = np.stack(metric_ranks, axis=-2)  # (draws, metrics, k)
            task_ranks[task][start:stop] = mean_rank(stacked, conventions)[1]
            all_ranks.append(stacked)
        overall[start:stop] = mean_rank(np.concatenate(all_ranks, axis=-2), conventions)[1]
    ranks = {**task_ranks, OVERALL: overall}
    tau = {scope: kendall_tau_rows(r, full_ranks[scope]) for scope, r in ranks.items()}
    return Stability(algorithms=list(algorithms), scopes=[*tables, OVERALL], n_bootstrap=n_bootstrap, seed=seed,
                     full_ranks={s: np.asarray(full_ranks[s]) for s in ranks}, ranks=ranks, tau=tau,
                     metric_ranks=per_metric)

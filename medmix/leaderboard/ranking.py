"""Ranking schemes (reference.md §5): pure functions of a cases × algorithms table of one task and one metric.

Input: `values`, a wide table (pandas DataFrame with algorithms as columns, or an array) of shape
(n_cases, n_algorithms), NaN where an algorithm has no value for a case; `higher_is_better` from the metric's
registered metadata. Rank 1 is best; ties share the best rank of their group ("min": 1, 1, 3).

Schemes and how each treats a missing case:

- `aggregate_mean` / `aggregate_median` (aggregate-then-rank): the mean (median) over cases, then rank.
  A missing case counts as `missing_value` (the caller's "worst value": 0 for overlap metrics, otherwise the
  worst value observed for the task and metric; see `medmix.leaderboard.build`). Score = that mean (median).
- `rank_then_aggregate`: rank the algorithms within each case; an algorithm missing the case gets the worst
  rank, max + 1 where max is the number of algorithms that have the case; score = mean rank over cases, then
  rank the scores (lower mean rank is better).
- `test_then_rank`: for every ordered pair (i, j), a one-sided paired Wilcoxon signed-rank test of "i is
  better than j"; score = number of significant wins at `alpha` (uncorrected, as in challengeR's test-then-rank;
  Holm is applied to the significance map, not to the ranking), rank by wins, more wins better. A missing case
  counts as `missing_value` (the worst value, as in the aggregate schemes) before testing when it is given;
  without it each pair uses the cases both have. Either way an algorithm with no value at all on the task ranks
  after every algorithm that has one (tied with the other absent ones), whatever the power of the test: with
  no common case nobody could win against it, and it would tie with the others (or share rank 1 when too few
  cases make any win possible).

Every function also accepts leading batch axes (values of shape (..., n_cases, n_algorithms)), which the
bootstrap uses to re-rank thousands of resampled case sets at once. `conventions` (`medmix.leaderboard.conventions`)
switches the choices where challengeR differs (its Wilcoxon, the rank of a missing case, exact ties, win at p ≤ α).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from medmix.errors import UnknownNameError
from medmix.leaderboard.conventions import MEDMIX, Conventions

SCHEMES = ("aggregate_mean", "aggregate_median", "rank_then_aggregate", "test_then_rank")
SCHEME_TITLES = {
    "aggregate_mean": "aggregate-then-rank (mean)",
    "aggregate_median": "aggregate-then-rank (median)",
    "rank_then_aggregate": "rank-then-aggregate (mean case rank)",
    "test_then_rank": "test-then-rank (significant one-sided Wilcoxon wins)",
}


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise UnknownNameError("ranking scheme", scheme, SCHEMES)
    return scheme


def rank_scores(scores, *, higher_is_better: bool, tie_decimals: int | None = MEDMIX.tie_decimals) -> np.ndarray:
    """Ranks along the last axis, 1 = best, ties "min"; NaN scores rank last (tied).

    Scores equal to `tie_decimals` decimals tie (medmix: 10, so equal values summed in a different order still
    tie); None ties only exactly equal scores (challengeR)."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, dtype=float)
    key = -scores if higher_is_better else scores
    if tie_decimals is not None:
        key = np.round(key, tie_decimals)
    key = np.where(np.isnan(key), np.inf, key)
    return rankdata(key, method="min", axis=-1).astype(float)


def case_ranks(values, higher_is_better: bool, conventions: Conventions = MEDMIX) -> np.ndarray:
    """Per-case ranks (…, n_cases, k): 1 = best, ties "min". A missing case gets the worst rank: medmix, the
    number of algorithms present + 1; challengeR, the highest rank present + 1 (its rankNA2; 1 in an empty case)."""
    ranks = rank_scores(values, higher_is_better=higher_is_better, tie_decimals=conventions.tie_decimals)
    if conventions.missing_case_rank == "max_rank_plus_one":
        missing = np.isnan(np.asarray(values, dtype=float))
        if missing.any():
            top = np.where(missing, 0.0, ranks).max(axis=-1, keepdims=True)
            ranks = np.where(missing, top + 1.0, ranks)
    return ranks


def average_ties(ranks) -> np.ndarray:
    """"min" ranks → tie-averaged ranks along the last axis (1, 1, 3 → 1.5, 1.5, 3)."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(ranks, dtype=float), method="average", axis=-1)


def _as_array(values) -> tuple[np.ndarray, list | None]:
    columns = list(values.columns) if hasattr(values, "columns") else None
    return np.asarray(values, dtype=float), columns


def fill_missing(values: np.ndarray, missing_value: float | None) -> np.ndarray:
    """Missing cells → `missing_value`, except in rows no algorithm has (those stay NaN and are ignored)."""
    holes = np.isnan(values) & ~np.isnan(values).all(axis=-1, keepdims=True)
    if not holes.any():
        return values
    if missing_value is None:
        raise ValueError("values have missing cases: pass missing_value (the metric's worst value).")
    return np.where(holes, float(missing_value), values)


def _case_mean(x: np.ndarray, how: str = "mean") -> np.ndarray:
    """Mean (median) over cases (axis -2), skipping cases that are NaN for every algorithm."""
    if not np.isnan(x).any():
        return x.mean(axis=-2) if how == "mean" else np.median(x, axis=-2)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a task × metric without any case: NaN
        return np.nanmean(x, axis=-2) if how == "mean" else np.nanmedian(x, axis=-2)


def scheme_scores(values, higher_is_better: bool, scheme: str, *, missing_value: float | None = None,
                  alpha: float = 0.05, conventions: Conventions = MEDMIX) -> tuple[np.ndarray, np.ndarray]:
    """(score, rank) per algorithm, each of shape (…, k), for one of `SCHEMES`.

    Scores: the aggregated metric value (aggregate schemes), the mean case rank (rank-then-aggregate) or the
    number of significant wins (test-then-rank). A case (row) that no algorithm has is ignored.
    """
    values, _ = _as_array(values)
    check_scheme(scheme)
    if scheme in ("aggregate_mean", "aggregate_median"):
        filled = fill_missing(values, missing_value)
        score = _case_mean(filled, "mean" if scheme == "aggregate_mean" else "median")
        return score, rank_scores(score, higher_is_better=higher_is_better, tie_decimals=conventions.tie_decimals)
    if scheme == "rank_then_aggregate":
        ranks = case_ranks(values, higher_is_better, conventions)
        empty = np.isnan(values).all(axis=-1, keepdims=True)
        score = _case_mean(np.where(empty, np.nan, ranks) if empty.any() else ranks)
        return score, rank_scores(score, higher_is_better=False, tie_decimals=conventions.tie_decimals)
    absent = np.isnan(values).all(axis=-2)  # (…, k): no value at all on this task (in this bootstrap draw)
    tested = fill_missing(values, missing_value) if missing_value is not None else values
    wins = significant_wins(tested, higher_is_better, alpha=alpha, conventions=conventions)
    # NaN ranks last (tied): absent algorithms come after every present one, however few cases there are.
    return wins, rank_scores(np.where(absent, np.nan, wins), higher_is_better=True)


def pairwise_pvalues(values, higher_is_better: bool, *, wilcoxon: str = "auto") -> np.ndarray:
    """p[…, i, j]: one-sided paired Wilcoxon p-value of "i better than j" over the cases both have.

    NaN on the diagonal and for a pair with no common case (no test, so it stays out of a Holm family); p = 1
    for a pair whose common cases all have zero difference (a test without evidence; R gives NaN there).
    `wilcoxon`: "auto" (scipy's method="auto") or "normal_cc" (R's exact=FALSE; `stats.wilcoxon_one_sided`).
    """
    from medmix.leaderboard.stats import oriented_differences, wilcoxon_one_sided

    values, _ = _as_array(values)
    *batch, n, k = values.shape
    p = np.full((*batch, k, k), np.nan)
    if k < 2:
        return p
    iu, ju = np.triu_indices(k, 1)
    diffs = oriented_differences(values[..., iu], values[..., ju], higher_is_better)  # (…, n, pairs)
    diffs = np.moveaxis(diffs, -2, -1).reshape(-1, n)  # rows = (batch…, pair)
    forward, backward = wilcoxon_one_sided(diffs, wilcoxon)
    untested = ~np.isfinite(diffs).any(axis=-1)
    forward, backward = np.where(untested, np.nan, forward), np.where(untested, np.nan, backward)
    forward, backward = forward.reshape(*batch, len(iu)), backward.reshape(*batch, len(iu))
    p[..., iu, ju] = forward
    p[..., ju, iu] = backward
    return p


def significant_wins(values, higher_is_better: bool, *, alpha: float = 0.05, conventions: Conventions = MEDMIX
                     ) -> np.ndarray:
    """Number of algorithms each one beats with p < alpha (challengeR: p ≤ alpha), one-sided paired Wilcoxon,
    shape (…, k)."""
    p = np.nan_to_num(pairwise_pvalues(values, higher_is_better, wilcoxon=conventions.wilcoxon), nan=1.0)
    wins = p <= alpha if conventions.win_inclusive else p < alpha
    return np.sum(wins, axis=-1).astype(float)


@dataclass(frozen=True)
class TaskRanking:
    """One task × metric ranked by one scheme: per-algorithm score and rank (arrays of length k)."""

    algorithms: list[str]
    scheme: str
    score: np.ndarray
    rank: np.ndarray

    def as_frame(self):
        import pandas as pd

        return pd.DataFrame({"score": self.score, "rank": self.rank.astype(int)}, index=self.algorithms)

    def order(self) -> list[str]:
        """Algorithms best first (ties in input order)."""
        return [self.algorithms[i] for i in np.argsort(self.rank, kind="stable")]


def rank_task(values, higher_is_better: bool, scheme: str = "aggregate_mean", *,
              missing_value: float | None = None, alpha: float = 0.05, conventions: Conventions = MEDMIX
              ) -> TaskRanking:
    """Rank the algorithms (columns) of one task × metric table with `scheme` (see the module docstring)."""
    array, columns = _as_array(values)
    if array.ndim != 2:
        raise ValueError(f"values must be 2-D (cases × algorithms), got shape {array.shape}.")
    algorithms = columns if columns is not None else [str(i) for i in range(array.shape[1])]
    score, rank = scheme_scores(array, higher_is_better, scheme, missing_value=missing_value, alpha=alpha,
                                conventions=conventions)
    return TaskRanking(algorithms, scheme, score, rank)


def aggregate_then_rank(values, higher_is_better: bool, *, aggregate: str = "mean",
                        missing_value: float | None = None) -> TaskRanking:
    if aggregate not in ("mean", "median"):
        raise UnknownNameError("aggregate", aggregate, ("mean", "median"))
    return rank_task(values, higher_is_better, f"aggregate_{aggregate}", missing_value=missing_value)


def rank_then_aggregate(values, higher_is_better: bool) -> TaskRanking:
    return rank_task(values, higher_is_better, "rank_then_aggregate")


def test_then_rank(values, higher_is_better: bool, *, alpha: float = 0.05, missing_value: float | None = None
                   ) -> TaskRanking:
    return rank_task(values, higher_is_better, "test_then_rank", alpha=alpha, missing_value=missing_value)


test_then_rank.__test__ = False  # not a pytest test despite the name


def mean_rank(ranks, conventions: Conventions = MEDMIX) -> tuple[np.ndarray, np.ndarray]:
    """Combine rankings: ranks of shape (…, m, k) (m tasks and/or metrics) → (mean rank, rank of it), (…, k).

    medmix averages the "min" ranks; challengeR's consensus (method "euclidean") averages tie-averaged ranks."""
    ranks = np.asarray(ranks, dtype=float)
    if conventions.combine == "mean_average_rank":
        ranks = average_ties(ranks)
    score = ranks.mean(axis=-2)
    return score, rank_scores(score, higher_is_better=False, tie_decimals=conventions.tie_decimals)

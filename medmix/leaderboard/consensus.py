"""Consensus rankings across tasks (rank aggregation): pure functions of a (rankings × algorithms) rank matrix.

Each row is one ranking (a task × metric, ranks 1 = best, ties "min"); the result is one score and one rank per
algorithm (rank 1 = best, ties "min"). Methods:

- "euclidean": mean of the tie-averaged ranks (1, 1, 3 → 1.5, 1.5, 3). challengeR's `consensus(method =
  "euclidean")` (relations' Euclidean consensus, whose rank scores are exactly this mean); lower is better.
- "median": median of the tie-averaged ranks; robust to a task where an algorithm fails; lower is better.
- "borda": mean over rankings of the number of algorithms ranked at least as well (itself included), i.e. the
  "max" rank; relations' "Borda" method on weak orders, as challengeR's `consensus(method = "Borda")`; lower is
  better. (relations' "Copeland" on rankings orders exactly like "euclidean", so it is not offered twice.)
- "pairwise_majority": Copeland's rule on the pairwise majority: a beats b when more rankings put a ahead of b
  than b ahead of a; score = wins − losses; higher is better.
- "kemeny": the order that minimises the total Kendall distance to the rankings (a tied pair against a strict
  one costs ½), found exactly by enumerating the k! orders for k ≤ `KEMENY_MAX_ALGORITHMS`; score = position in
  that order, averaged over the optimal orders when there are several (so algorithms they swap can tie). NaN for
  more algorithms (NP-hard; not guessed).
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from medmix.errors import UnknownNameError
from medmix.leaderboard.ranking import average_ties, rank_scores

CONSENSUS_METHODS = ("euclidean", "median", "borda", "pairwise_majority", "kemeny")
CONSENSUS_TITLES = {
    "euclidean": "mean tie-averaged rank (challengeR's euclidean consensus)",
    "median": "median tie-averaged rank",
    "borda": "Borda (mean worst tied rank)",
    "pairwise_majority": "Copeland on pairwise majority (wins − losses)",
    "kemeny": "Kemeny (fewest pairwise disagreements)",
}
HIGHER_IS_BETTER = {"pairwise_majority"}
KEMENY_MAX_ALGORITHMS = 8


def _preferences(ranks: np.ndarray) -> np.ndarray:
    """ahead[a, b] = number of rankings with a strictly ahead of b, plus ½ per ranking where they tie."""
    r = ranks[:, :, None], ranks[:, None, :]
    return (r[0] < r[1]).sum(axis=0) + 0.5 * (r[0] == r[1]).sum(axis=0) - 0.5 * np.eye(ranks.shape[1]) * len(ranks)


def _kemeny(ranks: np.ndarray) -> np.ndarray:
    k = ranks.shape[1]
    if k > KEMENY_MAX_ALGORITHMS:
        return np.full(k, np.nan)
    ahead = _preferences(ranks)
    orders = np.array(list(permutations(range(k))))  # (k!, k)
    position = np.argsort(orders, axis=1)  # position[o, a]
    before = position[:, :, None] < position[:, None, :]  # (k!, a, b): a before b in the order
    cost = np.where(before, ahead.T[None], 0.0).sum(axis=(1, 2))  # rankings that put b ahead of a
    best = np.flatnonzero(np.isclose(cost, cost.min()))
    return (position[best] + 1.0).mean(axis=0)


def consensus_scores(ranks, method: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """(score, rank) per algorithm for rankings `ranks` of shape (m, k); see the module docstring."""
    if method not in CONSENSUS_METHODS:
        raise UnknownNameError("consensus method", method, CONSENSUS_METHODS)
    ranks = np.asarray(ranks, dtype=float)
    if ranks.ndim != 2 or ranks.shape[0] == 0:
        raise ValueError(f"ranks must be (rankings × algorithms) with at least one ranking, got {ranks.shape}.")
    if method == "euclidean":
        score = average_ties(ranks).mean(axis=0)
    elif method == "median":
        score = np.median(average_ties(ranks), axis=0)
    elif method == "borda":
        score = (ranks[:, None, :] <= ranks[:, :, None]).sum(axis=2).mean(axis=0)
    elif method == "pairwise_majority":
        ahead = _preferences(ranks)
        score = (np.sign(ahead - ahead.T)).sum(axis=1).astype(float)
    else:
        score = _kemeny(ranks)
    return score, rank_scores(score, higher_is_better=method in HIGHER_IS_BETTER)


def consensus_table(ranks, algorithms, methods=CONSENSUS_METHODS):
    """Long table (algorithm, method, score, rank) of every method, algorithms in input order."""
    import pandas as pd

    rows = []
    for method in methods:
        score, rank = consensus_scores(ranks, method)
        for algo, s, r in zip(algorithms, score, rank):
            rows.append({"algorithm": algo, "method": method, "score": float(s),
                         "rank": int(r) if np.isfinite(s) else None})
    return pd.DataFrame(rows, columns=["algorithm", "method", "score", "rank"])

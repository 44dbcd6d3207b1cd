"""Ranking conventions: medmix's defaults and challengeR's (reference.md §11), as one frozen object that every
ranking function takes.

`--compat challenger` switches to challengeR 1.0.5's conventions, so that per-task ranks, p-values and the consensus
equal what challengeR computes on the same data (checked against the real package by
`bench/challenger_side_by_side.py`). What differs from medmix's default, and why medmix keeps its own default:

- Wilcoxon test: challengeR calls R's `wilcox.test(exact=FALSE)`, the normal approximation with continuity
  correction, for every n. medmix uses scipy's method="auto" (the exact null distribution for small samples; the
  exact permutation distribution with ties or zeros and n ≤ 13): for the 10–30 cases of a typical task the normal
  approximation is off by up to a factor of ~2 in p near α, and a win at p = 0.049 against one at 0.051 decides a
  rank.
- Significant win: challengeR counts p ≤ α, medmix p < α (the usual definition of a level-α test).
- Rank of a missing case in rank-then-aggregate: challengeR gives (highest rank present in the case) + 1, so with
  ties among the present algorithms a missing case can rank ahead of an algorithm that has a value; medmix gives
  (number of algorithms present) + 1, always behind every present one.
- Ties: challengeR ties only exactly equal values; medmix ties values equal to 10 decimals, so equal sums added
  in a different order still tie.
- Combining rankings (a task's metrics, then all task × metric rankings): challengeR's consensus averages
  tie-averaged ranks (`consensus(method = "euclidean")`); medmix's rank score averages the "min" ranks it shows.
- Unchanged in both: test-then-rank counts uncorrected p-values (Holm only in the significance map); the
  bootstrap is medmix's (cases drawn more than once count as often as drawn, which challengeR's bootstrap of
  rank-then-aggregate and test-then-rank does not do).
"""

from __future__ import annotations

from dataclasses import dataclass

from medmix.errors import UnknownNameError


@dataclass(frozen=True)
class Conventions:
    """How rankings are computed. Fields are the choices that differ between medmix and challengeR."""

    name: str
    wilcoxon: str  # "auto" (scipy method="auto") or "normal_cc" (normal approximation, continuity correction)
    win_inclusive: bool  # a win is p ≤ α (True) or p < α (False)
    missing_case_rank: str  # "present_plus_one" (medmix) or "max_rank_plus_one" (challengeR's rankNA2)
    tie_decimals: int | None  # round scores to this many decimals before ranking; None = exact equality
    combine: str  # "mean_min_rank" (medmix) or "mean_average_rank" (challengeR's euclidean consensus)


MEDMIX = Conventions(name="medmix", wilcoxon="auto", win_inclusive=False, missing_case_rank="present_plus_one",
                     tie_decimals=10, combine="mean_min_rank")
CHALLENGER = Conventions(name="challenger", wilcoxon="normal_cc", win_inclusive=True,
                         missing_case_rank="max_rank_plus_one", tie_decimals=None, combine="mean_average_rank")
COMPAT = {"medmix": MEDMIX, "challenger": CHALLENGER}


def get_conventions(name: str | Conventions) -> Conventions:
    """'medmix' or 'challenger' (or a Conventions object, returned as is)."""
    if isinstance(name, Conventions):
        return name
    if name not in COMPAT:
        raise UnknownNameError("compatibility mode", name, tuple(COMPAT))
    return COMPAT[name]

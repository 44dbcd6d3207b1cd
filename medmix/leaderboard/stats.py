"""Statistics for leaderboards: descriptives, bootstrap CIs, paired one-sided Wilcoxon, Holm, Kendall's τ.

All functions are pure (arrays in, arrays out). Conventions:

- SD uses ddof=1; IQR is numpy's "linear" 25th–75th percentile; the 95% CI of the mean is the percentile
  bootstrap over cases.
- `wilcoxon_greater(d)` is the one-sided paired Wilcoxon signed-rank test "d > 0", row by row, with NaN meaning
  "case not available". It returns exactly the p-value of `scipy.stats.wilcoxon(d_row[~nan],
  alternative="greater")` (zero_method="wilcox": zero differences dropped; method="auto": exact null
  distribution when there are no ties or zeros and n ≤ 50, exact sign-flip permutation distribution when there
  are ties or zeros and n ≤ 13, normal approximation with tie correction and no continuity correction
  otherwise), which the tests check. It is a vectorised re-implementation because scipy's permutation path
  costs ~0.5 s per call (n = 12 with ties) and a bootstrap needs thousands of tests. One deviation: when no
  non-zero difference is left, p = 1 (no evidence), where scipy returns NaN for n > 13.
- `medmix.leaderboard.ranking.pairwise_pvalues` applies it to every ordered pair of algorithms: p[i, j] for
  "i is better than j", the metric's direction taken into account; NaN for a pair with no common case.
- `holm` is the Holm–Bonferroni step-down adjustment over the finite p-values (NaN: no test, not in the family).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def describe(values: np.ndarray) -> dict[str, float]:
    """n, mean, sd (ddof=1; 0 for one value), median, q25, q75 of the finite values (NaN for none)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        nan = float("nan")
        return {"n": 0, "mean": nan, "sd": nan, "median": nan, "q25": nan, "q75": nan}
    q25, q75 = np.percentile(values, [25, 75])
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "median": float(np.median(values)),
        "q25": float(q25),
        "q75": float(q75),
    }


def bootstrap_mean_ci(values: np.ndarray, rng: np.random.Generator, n_bootstrap: int = 1000,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of `values` (1-D, NaN ignored); (NaN, NaN) with no value."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    idx = rng.integers(0, values.size, size=(n_bootstrap, values.size))
    means = values[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def holm(pvalues) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, same shape as the input; NaN entries are ignored (and stay NaN).

    With the m finite p-values sorted ascending, p_adj(k) = max over i ≤ k of min(1, (m − i + 1)·p(i)).
    """
    p = np.asarray(pvalues, dtype=float)
    flat = p.ravel()
    out = np.full(flat.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(flat))
    m = finite.size
    if m:
        order = finite[np.argsort(flat[finite], kind="stable")]
        scaled = np.minimum(1.0, (m - np.arange(m)) * flat[order])
        out[order] = np.maximum.accumulate(scaled)
    return out.reshape(p.shape)


def kendall_tau(a, b) -> float:
    """Kendall's τ-b between two rankings (scipy.stats.kendalltau); NaN when either is constant."""
    from scipy.stats import kendalltau

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(kendalltau(a, b).statistic)


def kendall_tau_rows(ranks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of each row of `ranks` (B × k) against `reference` (k,), vectorised; NaN when undefined.

    Equal to `scipy.stats.kendalltau(row, reference)` (tested); used for thousands of bootstrap rankings.
    """
    ranks = np.asarray(ranks, dtype=float)
    reference = np.asarray(reference, dtype=float)
    k = reference.size
    iu, ju = np.triu_indices(k, 1)
    sa = np.sign(ranks[:, iu] - ranks[:, ju])
    sb = np.sign(reference[iu] - reference[ju])
    concordance = (sa * sb).sum(axis=1)
    pairs_a = np.count_nonzero(sa, axis=1).astype(float)
    pairs_b = float(np.count_nonzero(sb))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = concordance / np.sqrt(pairs_a * pairs_b)
    tau[(pairs_a == 0) | (pairs_b == 0)] = np.nan
    return tau


# --- paired one-sided Wilcoxon signed-rank test ------------------------------------------------------------------

@lru_cache(maxsize=64)
def _exact_sf_table(n: int) -> np.ndarray:
    """sf[k] = P(T+ ≥ k) for the signed-rank statistic with ranks 1..n (no ties), k = 0..n(n+1)/2 + 1."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    sf = np.concatenate([np.cumsum(counts[::-1])[::-1], [0.0]])
    return sf / counts.sum()


def _subset_sum_tail(doubled_ranks: np.ndarray) -> np.ndarray:
    """tail[row, t] = fraction of sign patterns whose sum of (doubled, integer) ranks is ≥ t (one extra 0 column).

    Rows hold the doubled ranks of the non-zero differences and 0 elsewhere (entries that do not count). This is
    the exact permutation null of the signed-rank statistic with tied (mid-)ranks. Rows with the same multiset
    of ranks share one computation (bootstrap resamples repeat tie patterns).
    """
    patterns, inverse = np.unique(np.sort(doubled_ranks, axis=1), axis=0, return_inverse=True)
    rows, cols = patterns.shape
    total = int(patterns.sum(axis=1).max(initial=0))
    counts = np.zeros((rows, total + 1))
    counts[:, 0] = 1.0
    positions = np.arange(total + 1)
    for c in range(cols):
        shift = patterns[:, c]
        if not np.any(shift):
            continue
        src = positions[None, :] - shift[:, None]
        gathered = np.take_along_axis(counts, np.clip(src, 0, None), axis=1)
        counts = counts + np.where((src >= 0) & (shift[:, None] > 0), gathered, 0.0)
    tail = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]
    tail = np.concatenate([tail, np.zeros((rows, 1))], axis=1) / tail[:, :1]
    return tail[inverse.ravel()]


def wilcoxon_one_sided(d, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """One-sided paired Wilcoxon signed-rank p-values for "d > 0" and for "d < 0", per row of `d` (B × n; NaN = no
    pair). The second equals `wilcoxon_greater(-d)`; both come from one pass (shared ranks and null distribution).

    method "auto": scipy's method="auto" (module docstring). "normal_cc": the normal approximation with tie
    correction and continuity correction for every n, as R's `wilcox.test(paired=TRUE, exact=FALSE)` (and scipy's
    method="approx", correction=True) computes it; challengeR's test.
    """
    from scipy.special import ndtr
    from scipy.stats import rankdata

    d = np.asarray(d, dtype=float)
    one = d.ndim == 1
    d = np.atleast_2d(d)
    rows, cols = d.shape
    p_greater, p_less = np.ones(rows), np.ones(rows)
    if cols == 0:
        return (p_greater[0], p_less[0]) if one else (p_greater, p_less)
    valid = np.isfinite(d)
    n_valid = valid.sum(axis=1)
    nonzero = valid & (d != 0)
    count = nonzero.sum(axis=1)
    n_zero = n_valid - count
    absd = np.where(nonzero, np.abs(d), np.inf)  # dropped entries rank after every real one
    rank_avg = rankdata(absd, method="average", axis=1)
    rank_min = rankdata(absd, method="min", axis=1)
    rank_max = rankdata(absd, method="max", axis=1)
    ties = np.where(nonzero, rank_max - rank_min + 1, 1.0)
    has_ties = np.any(ties > 1, axis=1)
    r_plus = np.where(nonzero & (d > 0), rank_avg, 0.0).sum(axis=1)
    r_minus = np.where(nonzero & (d < 0), rank_avg, 0.0).sum(axis=1)

    live = count > 0
    if method not in ("auto", "normal_cc"):
        raise ValueError(f"method must be 'auto' or 'normal_cc', got {method!r}.")
    exact = live & (n_valid <= 50) & ~has_ties & (n_zero == 0) & (method == "auto")
    permutation = live & ~exact & (n_valid <= 13) & (method == "auto")
    asymptotic = live & ~exact & ~permutation
    continuity = 0.5 if method == "normal_cc" else 0.0

    for n in np.unique(count[exact]):
        sel = exact & (count == n)
        table = _exact_sf_table(int(n))
        p_greater[sel] = table[np.floor(r_plus[sel]).astype(int)]
        p_less[sel] = table[np.floor(r_minus[sel]).astype(int)]
    if np.any(permutation):
        doubled = np.where(nonzero[permutation], np.rint(2 * rank_avg[permutation]), 0).astype(np.int64)
        tail = _subset_sum_tail(doubled)
        index = np.arange(tail.shape[0])
        last = tail.shape[1] - 1
        p_greater[permutation] = tail[index, np.clip(np.rint(2 * r_plus[permutation]).astype(np.int64), 0, last)]
        p_less[permutation] = tail[index, np.clip(np.rint(2 * r_minus[permutation]).astype(np.int64), 0, last)]
    if np.any(asymptotic):
        n = count[asymptotic].astype(float)
        tie_term = np.where(nonzero[asymptotic], ties[asymptotic] ** 2 - 1.0, 0.0).sum(axis=1)
        mean = n * (n + 1.0) * 0.25
        se = np.sqrt((n * (n + 1.0) * (2.0 * n + 1.0) - tie_term / 2.0) / 24.0)
        # "auto": no continuity correction (scipy's default, correction=False); "normal_cc": R's correct=TRUE
        p_greater[asymptotic] = ndtr(-(r_plus[asymptotic] - mean - continuity) / se)
        p_less[asymptotic] = ndtr(-(r_minus[asymptotic] - mean - continuity) / se)
    p_greater, p_less = np.clip(p_greater, 0.0, 1.0), np.clip(p_less, 0.0, 1.0)
    return (p_greater[0], p_less[0]) if one else (p_greater, p_less)


def wilcoxon_greater(d) -> np.ndarray:
    """One-sided paired Wilcoxon signed-rank p-values for "d > 0", one per row of `d` (B × n; NaN = no pair).

    Equals `scipy.stats.wilcoxon(row[~isnan(row)], alternative="greater").pvalue` for every row (see the module
    docstring for the method choice), except that a row with no non-zero difference gets p = 1.
    A 1-D `d` returns a 0-d array.
    """
    return wilcoxon_one_sided(d)[0]


def oriented_differences(x: np.ndarray, y: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Per-case differences that are positive when x is better than y."""
    return (x - y) if higher_is_better else (y - x)

"""Intraclass correlation coefficients with their F-based confidence intervals (Shrout & Fleiss 1979; McGraw &
Wong 1996), as pingouin.intraclass_corr computes them.

From the two-way ANOVA of an (n cases × k raters) table: MSR (between cases, n − 1 df), MSC (between raters,
k − 1 df), MSE (residual, (n − 1)(k − 1) df) and MSW = (SSC + SSE) / (n (k − 1)) (within cases):

| form   | model (McGraw & Wong)                    | value                                          |
|--------|------------------------------------------|------------------------------------------------|
| ICC1_1 | one-way random, single rater             | (MSR − MSW) / (MSR + (k − 1) MSW)              |
| ICC2_1 | two-way random, absolute agreement A,1   | (MSR − MSE) / (MSR + (k − 1) MSE + k (MSC − MSE) / n) |
| ICC3_1 | two-way mixed, consistency C,1           | (MSR − MSE) / (MSR + (k − 1) MSE)              |
| ICCx_k | the same, mean of the k raters           | ICC1_k = 1 − MSW/MSR, ICC3_k = 1 − MSE/MSR, ICC2_k as McGraw & Wong |

pingouin labels them ICC(1,1), ICC(A,1), ICC(C,1), ICC(1,k), ICC(A,k), ICC(C,k) (older releases: ICC1, ICC2,
ICC3, ICC1k, ICC2k, ICC3k). Interval ends: ICC1/ICC3 from F = MSR/MSW (or MSR/MSE) and the F quantiles; ICC2 from
the Satterthwaite-approximated df of McGraw & Wong (their table 7).

Limits pingouin leaves as NaN are taken: no residual (MSE = 0, e.g. a constant offset between raters) gives
ICC3 = 1 with interval (1, 1), and ICC2's interval from the df's limit (k − 1) as MSC/MSE → ∞.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import f as f_dist

from medmix.errors import InputError, UnknownNameError

ICC_FORMS = ("ICC1_1", "ICC2_1", "ICC3_1", "ICC1_k", "ICC2_k", "ICC3_k")


def _single(f_ratio: float, k: int) -> float:
    # (F − 1) / (F + k − 1), written so that F = ∞ gives 1
    return 1.0 - k / (f_ratio + k - 1.0)


def _average(f_ratio: float) -> float:
    return 1.0 - 1.0 / f_ratio if f_ratio > 0 else -math.inf


def icc(ratings, form: str = "ICC3_1", *, confidence: float = 0.95) -> tuple[float, float, float]:
    """(ICC, lower, upper end of the two-sided `confidence` interval) of `ratings`, an (n_cases, k_raters) array.

    Forms: see the module docstring (`ICC_FORMS`). Cases (rows) holding a NaN are dropped (listwise, as
    pingouin's nan_policy="omit"). Fewer than 2 complete cases, or a table whose values are all equal (to 1e-12
    relative: float noise is not variance), gives (NaN, NaN, NaN)."""
    if form not in ICC_FORMS:
        raise UnknownNameError("ICC form", str(form), ICC_FORMS)
    if not 0 < confidence < 1:
        raise InputError(f"icc: confidence must lie in (0, 1), got {confidence!r}; e.g. 0.95 for a 95 % interval.")
    table = np.asarray(ratings, dtype=float)
    if table.ndim != 2 or table.shape[1] < 2:
        raise InputError(f"icc: ratings must be an (n_cases, k_raters) array with k ≥ 2, got shape {table.shape}; "
                         "stack one column per rater, e.g. np.column_stack([predicted, reference]).")
    table = table[~np.isnan(table).any(axis=1)]
    n, k = table.shape
    nan = (math.nan, math.nan, math.nan)
    if n < 2:
        return nan
    # equal up to rounding (e.g. PyRadiomics' entropy −log2(1 + ε) of one-bin regions): no variance to share out
    if float(np.ptp(table)) <= 1e-12 * max(1.0, float(np.abs(table).max())):
        return nan
    grand = table.mean()
    row_means, col_means = table.mean(axis=1), table.mean(axis=0)
    ss_rows = k * float(np.sum((row_means - grand) ** 2))
    ss_cols = n * float(np.sum((col_means - grand) ** 2))
    ss_err = float(np.sum((table - row_means[:, None] - col_means[None, :] + grand) ** 2))
    df_rows, df_err, df_within = n - 1, (n - 1) * (k - 1), n * (k - 1)
    msr, msc, mse = ss_rows / df_rows, ss_cols / (k - 1), ss_err / df_err
    msw = (ss_cols + ss_err) / df_within
    alpha = 1.0 - confidence
    q = 1.0 - alpha / 2
    family, raters = form[3], form.split("_")[1]

    if family in "13":
        denominator, df_den = (msw, df_within) if family == "1" else (mse, df_err)
        if msr == 0 and denominator == 0:
            return nan
        f_ratio = msr / denominator if denominator > 0 else math.inf
        f_low = f_ratio / f_dist.ppf(q, df_rows, df_den)
        f_high = f_ratio * f_dist.ppf(q, df_den, df_rows)
        f_low, f_high = float(f_low), float(f_high)
        if raters == "1":
            return _single(f_ratio, k), _single(f_low, k), _single(f_high, k)
        return _average(f_ratio), _average(f_low), _average(f_high)

    # ICC2 (McGraw & Wong case 2A)
    value_denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if value_denominator == 0:
        return nan
    value = (msr - mse) / value_denominator
    if mse > 0:
        fj = msc / mse
        a = k * value * fj + n * (1 + (k - 1) * value) - k * value
        b = df_rows * k**2 * value**2 * fj**2 + (n * (1 + (k - 1) * value) - k * value) ** 2
        df_v = df_err * a**2 / b
    else:
        df_v = df_err / df_rows  # the limit of the Satterthwaite df as MSC/MSE → ∞
    f_up, f_lo = float(f_dist.ppf(q, df_rows, df_v)), float(f_dist.ppf(q, df_v, df_rows))
    common = k * msc + (k * n - k - n) * mse
    low = n * (msr - f_up * mse) / (f_up * common + n * msr)
    high = n * (f_lo * msr - mse) / (common + n * f_lo * msr)
    if raters == "1":
        return value, low, high
    return tuple(r * k / (1 + r * (k - 1)) for r in (value, low, high))  # Spearman–Brown to the k-rater mean

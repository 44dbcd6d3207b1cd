"""Label fusion: several members' masks (or probability maps) of the same pixels combined into one mask.

Pure numpy functions of stacked arrays, the first axis the members: `mean_probability` (mean of probabilities,
thresholded), `majority_vote` (per-pixel vote of binary masks) and `staple` (binary STAPLE, Warfield, Zou &
Wells, IEEE TMI 23(7), 2004). `medmix.models.ensemble` wraps them as models.

STAPLE follows ITK's `STAPLEImageFilter` (what SimpleITK's `sitk.STAPLE` runs), checked against it in
tests/test_ensemble_fusion.py:

- start: the posterior W is the members' vote fraction per pixel, so the first M-step estimates each member's
  sensitivity p_j and specificity q_j from the vote (no separate p/q initialisation enters the result);
- prior: the fixed prior foreground probability is the mean foreground fraction of the members' masks, i.e. the
  mean vote fraction over all pixels (ITK's default, ConfidenceWeight 1);
- iteration: an M-step (p, q from W) then an E-step (W from p, q and the prior);
- stop: when no member's p or q changed by more than `tolerance` (1e-7: ITK's squared change ≤ 1e-14) between two
  iterations, or after `max_iterations` (100; SimpleITK's default is unlimited, and 100 is far more than the EM
  needs on masks of this kind);
- the fused mask is W ≥ 0.5 (the caller thresholds; `staple` returns W).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from medmix.errors import InputError

#: Majority vote: what a pixel with exactly half of the members voting for it becomes (even member counts only).
TIE_RULES = ("background", "foreground")

STAPLE_MAX_ITERATIONS = 100
STAPLE_TOLERANCE = 1e-7


class StapleResult(NamedTuple):
    """What `staple` estimates; unpacks as (posterior, sensitivity, specificity, iterations)."""

    posterior: np.ndarray  # float64, the masks' per-member shape: P(true foreground | members' labels)
    sensitivity: np.ndarray  # float64 (n_members,): p_j; NaN when no pixel is foreground (all members empty)
    specificity: np.ndarray  # float64 (n_members,): q_j; NaN when no pixel is background (all members full)
    iterations: int  # EM iterations run (ITK's GetElapsedIterations() is one less when it converged)


def _as_masks(masks, where: str) -> np.ndarray:
    """`masks` as a bool array (n_members, ...), refusing what is not binary."""
    arr = np.asarray(masks)
    if arr.ndim < 2 or arr.shape[0] < 1:
        raise InputError(f"{where}: expected masks stacked as (n_members, ...) with at least one member and one "
                         f"pixel axis, got an array of shape {arr.shape}.")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
        raise InputError(f"{where}: expected binary masks (bool or 0/1), got dtype {arr.dtype} with values "
                         f"{np.unique(arr)[:6].tolist()}; threshold probability maps first (or use "
                         "mean_probability).")
    return arr.astype(bool)


def mean_probability(maps, threshold: float = 0.5) -> np.ndarray:
    """Bool mask where the members' mean foreground probability is > `threshold`.

    maps: (n_members, ...) floats in [0, 1]; the mean is taken in the maps' own float dtype (float32 maps give
    what averaging float32 probabilities gives). Returns a bool array of shape maps.shape[1:].
    """
    arr = np.asarray(maps)
    if arr.ndim < 2 or arr.shape[0] < 1 or arr.dtype.kind not in "fiub":
        raise InputError(f"mean_probability: expected probability maps stacked as (n_members, ...), got an array of "
                         f"shape {arr.shape} and dtype {arr.dtype}.")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise InputError("mean_probability: expected probabilities in [0, 1] (no NaN), got values in "
                         f"[{np.nanmin(arr)}, {np.nanmax(arr)}]; pass sigmoid(logits), not logits.")
    if not 0 < threshold < 1:
        raise InputError(f"mean_probability: expected 0 < threshold < 1, got {threshold!r}.")
    return arr.mean(axis=0) > threshold


def vote_fraction(masks) -> np.ndarray:
    """Float32 fraction of the members (axis 0 of bool/0-1 `masks`) voting foreground at each pixel."""
    arr = _as_masks(masks, "vote_fraction")
    return (arr.sum(axis=0) / arr.shape[0]).astype(np.float32)


def majority_vote(masks, *, ties: str = "background") -> np.ndarray:
    """Bool mask of the pixels that more than half of the members mark foreground.

    masks: (n_members, ...) bool or 0/1. ties: with an even member count a pixel marked by exactly half of them
    is background by default ("background"), or foreground ("foreground"); odd counts have no ties. Unanimous
    members give their mask back.
    """
    if ties not in TIE_RULES:
        raise InputError(f"majority_vote: ties must be one of {', '.join(TIE_RULES)}, got {ties!r}.")
    arr = _as_masks(masks, "majority_vote")
    votes = 2 * arr.sum(axis=0, dtype=np.int64)  # twice the votes: compare with the member count in integers
    n = arr.shape[0]
    return votes > n if ties == "background" else votes >= n


def _patterns(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patterns (n, m) bool, pixel → pattern index (P,), pixels per pattern (m,) float64) of flat (n, P) masks.

    STAPLE's W and its sums depend on a pixel only through its members' labels, so the EM runs on the at most
    2**n distinct label patterns weighted by their pixel counts: the same result at a cost independent of P.
    """
    n = flat.shape[0]
    if n <= 12:
        codes = np.zeros(flat.shape[1], dtype=np.int64)
        for j in range(n):
            codes |= flat[j].astype(np.int64) << j
        counts = np.bincount(codes, minlength=1 << n).astype(np.float64)
        patterns = ((np.arange(1 << n)[None, :] >> np.arange(n)[:, None]) & 1).astype(bool)
        return patterns, codes, counts
    patterns, inverse, counts = np.unique(flat, axis=1, return_inverse=True, return_counts=True)
    return patterns, inverse.reshape(-1), counts.astype(np.float64)


def staple(masks, *, max_iterations: int = STAPLE_MAX_ITERATIONS, tolerance: float = STAPLE_TOLERANCE
           ) -> StapleResult:
    """Binary STAPLE of `masks` (n_members, ...) bool or 0/1: the posterior foreground probability W per pixel
    and each member's sensitivity and specificity, estimated jointly by EM over all pixels given.

    Conventions (ITK's, see the module docstring): W starts at the vote fraction; the prior is the mean foreground
    fraction of the members' masks, held fixed; stop when every |Δp_j|, |Δq_j| ≤ `tolerance` or after
    `max_iterations`. The fused mask is ``posterior >= 0.5``. A pixel where the estimates leave no evidence either
    way (both likelihoods 0, members with p or q exactly 0/1 disagreeing; ITK gives NaN there) gets the prior.
    All members empty: W = 0, sensitivities NaN, specificities 1, 0 iterations; all full: W = 1, sensitivities 1,
    specificities NaN.
    """
    arr = _as_masks(masks, "staple")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, (int, np.integer)) or max_iterations < 1:
        raise InputError(f"staple: max_iterations must be an integer ≥ 1, got {max_iterations!r}.")
    if not tolerance >= 0:
        raise InputError(f"staple: tolerance must be ≥ 0, got {tolerance!r}.")
    n, shape = arr.shape[0], arr.shape[1:]
    patterns, inverse, counts = _patterns(arr.reshape(n, -1))
    w = patterns.mean(axis=0)  # the vote fraction of each pattern
    prior = float((w * counts).sum() / counts.sum())
    nan = np.full(n, np.nan)
    if prior == 0.0:
        return StapleResult(np.zeros(shape), nan, np.ones(n), 0)
    if prior == 1.0:
        return StapleResult(np.ones(shape), np.ones(n), nan, 0)
    last_p = last_q = None
    p = q = nan
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        fg, bg = w * counts, (1.0 - w) * counts  # expected true-foreground / true-background pixels per pattern
        fg_total, bg_total = fg.sum(), bg.sum()
        if fg_total <= 0 or bg_total <= 0:  # W collapsed to all 0 or all 1: p or q is undefined, W is final
            p = patterns @ fg / fg_total if fg_total > 0 else nan
            q = (~patterns) @ bg / bg_total if bg_total > 0 else nan
            iterations -= 1
            break
        p = patterns @ fg / fg_total
        q = (~patterns) @ bg / bg_total
        alpha = np.where(patterns, p[:, None], 1.0 - p[:, None]).prod(axis=0)
        beta = np.where(patterns, 1.0 - q[:, None], q[:, None]).prod(axis=0)
        numerator = prior * alpha
        denominator = numerator + (1.0 - prior) * beta
        w = np.divide(numerator, denominator, out=np.full_like(numerator, prior), where=denominator > 0)
        if last_p is not None and max(np.abs(p - last_p).max(), np.abs(q - last_q).max()) <= tolerance:
            break
        last_p, last_q = p, q
    return StapleResult(w[inverse].reshape(shape), np.asarray(p, dtype=np.float64),
                        np.asarray(q, dtype=np.float64), iterations)


__all__ = ["STAPLE_MAX_ITERATIONS", "STAPLE_TOLERANCE", "StapleResult", "TIE_RULES", "majority_vote",
           "mean_probability", "staple", "vote_fraction"]

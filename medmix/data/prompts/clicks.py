"""Simulated corrective clicks and the interactive scores built on them (reference.md §10).

The click rule is RITM's (`Clicker`, the field's standard): FN = reference ∧ ¬prediction, FP = prediction ∧
¬reference; the Euclidean distance transform of each, on the mask padded by one background pixel (the image
border counts as boundary), with pixels already clicked set to 0; d_FN, d_FP their maxima. The click is positive
iff d_FN > d_FP (a tie gives a negative click), at the first pixel in raster (row-major) order of the image the
model is shown where the chosen transform equals its maximum. No error left to click (both maxima 0) gives None.

Interactive scores, per case, from its IoU / Dice after every click (index 0 = the start prompt alone when it is
a box; a point start is click 1):
- NoC@τ: the first click index whose IoU ≥ τ; the cap when never reached (a failure).
- Dice AUC: the trapezoid area under Dice against click index over the run's rounds (its range is [0, rounds]).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from medmix.data.prompts.points import padded_edt
from medmix.errors import InputError

NOC_THRESHOLDS = (0.85, 0.90)


class Click(NamedTuple):
    """A simulated click: x = column, y = row of the slice (pixel indices), positive = a foreground click."""

    x: int
    y: int
    positive: bool


def next_click(pred, gt, clicked=None) -> Click | None:
    """The next corrective click for prediction `pred` of reference `gt` (2-D masks of one shape), by RITM's rule
    (module docstring). clicked: (x, y) pairs already clicked, which are never clicked again. None when the
    prediction has no error left to click."""
    p = np.asarray(pred) != 0
    g = np.asarray(gt) != 0
    if p.ndim != 2 or p.shape != g.shape:
        raise InputError(f"next_click: expected two 2-D masks of one shape, got {p.shape} and {g.shape}.")
    fn_dt = padded_edt(g & ~p)
    fp_dt = padded_edt(p & ~g)
    for x, y in clicked if clicked is not None else ():
        fn_dt[int(y), int(x)] = 0.0
        fp_dt[int(y), int(x)] = 0.0
    d_fn, d_fp = float(fn_dt.max()), float(fp_dt.max())
    if d_fn == 0.0 and d_fp == 0.0:
        return None
    positive = d_fn > d_fp
    chosen = fn_dt if positive else fp_dt
    row, col = np.unravel_index(int(np.argmax(chosen)), chosen.shape)  # argmax: first maximum in raster order
    return Click(int(col), int(row), bool(positive))


def noc(iou_by_click, threshold: float, cap: int, first_click: int = 0) -> tuple[int, bool]:
    """(number of clicks, failed): the first click index (counting from `first_click`) whose IoU ≥ `threshold`,
    at most `cap`; (cap, True) when no click up to the cap reaches it."""
    for offset, value in enumerate(np.asarray(iou_by_click, dtype=float)):
        index = first_click + offset
        if index > cap:
            break
        if value >= threshold:
            return index, False
    return int(cap), True


def curve_auc(values) -> float:
    """Trapezoid area under a metric-vs-click-index curve sampled at consecutive click indices (unit spacing)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return 0.0
    return float(np.sum((v[1:] + v[:-1]) / 2.0))


__all__ = ["Click", "NOC_THRESHOLDS", "curve_auc", "next_click", "noc"]

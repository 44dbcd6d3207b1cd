"""Validation of masks and spacings at the edge of the metric engine."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medmix.errors import InputError


def to_numpy(x, name: str) -> np.ndarray:
    """numpy view of a numpy array, torch tensor (any device) or nested sequence."""
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as exc:  # e.g. ragged lists
        raise InputError(f"{name}: cannot read as an array ({exc}).") from exc


def as_binary_mask(x, name: str) -> np.ndarray:
    """Boolean mask from a bool/0-1 array; anything else is an `InputError` naming `name`."""
    arr = to_numpy(x, name)
    if arr.ndim not in (2, 3):
        got = "a scalar" if arr.ndim == 0 else f"{arr.ndim}D with shape {arr.shape}"
        raise InputError(f"{name}: expected a 2D or 3D mask, got {got}.")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name}: expected a numeric or boolean mask, got dtype {arr.dtype}.")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise InputError(f"{name}: mask contains NaN values; masks must hold only 0 and 1.")
    mask = arr != 0
    if not np.array_equal(mask, arr == 1):
        values = np.unique(arr)
        shown = ", ".join(str(v) for v in values[:6]) + (", …" if values.size > 6 else "")
        raise InputError(
            f"{name}: expected a binary mask (0/1 or bool), got values {{{shown}}}. "
            "For a label map pass labels=… (per-label results) or threshold probabilities first."
        )
    return mask


def as_label_map(x, name: str) -> np.ndarray:
    """Integer label map; float arrays are accepted only when they hold whole numbers."""
    arr = to_numpy(x, name)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise InputError(f"{name}: label map contains NaN values.")
        if not np.array_equal(arr, np.round(arr)):
            raise InputError(f"{name}: label map holds non-integer values; expected integer label ids.")
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise InputError(f"{name}: expected an integer label map, got dtype {arr.dtype}.")
    return arr


def as_spacing(spacing, ndim: int, name: str = "spacing") -> tuple[float, ...]:
    """Per-axis spacing in mm in array axis order; None means 1 per axis (distances in voxels)."""
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, (int, float, np.integer, np.floating)):
        values: Sequence = (float(spacing),) * ndim
    else:
        values = [float(v) for v in to_numpy(spacing, name).ravel()]
    if len(values) != ndim:
        raise InputError(
            f"{name}: got {len(values)} values {tuple(values)} for a {ndim}D mask; give one spacing per array "
            "axis, in array axis order (nibabel: header.get_zooms()[:ndim])."
        )
    for v in values:
        if not math.isfinite(v) or v <= 0:
            raise InputError(f"{name}: every spacing must be a positive finite number in mm, got {tuple(values)}.")
    return tuple(float(v) for v in values)


def check_same_shape(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise InputError(
            f"pred and gt must have the same shape, got pred {pred.shape} and gt {gt.shape}. "
            "Resample the prediction onto the reference grid first."
        )

"""Intensity handling before a model sees an image: every kind maps to float32 in [0, 255].

Kinds (a task card's `intensity` block, `IntensitySpec` here):
- "ct_window" (level, width in HU): values at level − width/2 and below → 0, level + width/2 and above → 255,
  linear in between. MedSAM pre-windows CT at level 40 / width 400.
- "percentile" (low, high in percent; defaults 0.5 / 99.5): clip to those percentiles, then stretch to [0, 255].
  `scope="nonzero"` (default) takes the percentiles over the voxels that are not exactly 0 (MRI background and
  skull-stripped templates are exactly 0 and would otherwise drag the low percentile to 0); `scope="all"` over
  every voxel. An RGB image (trailing axis of 3) is handled with one pair of percentiles over all channels, so its
  colour balance is kept; "nonzero" then means pixels where any channel is non-zero.
- "minmax": (x − min) / (max − min) · 255 over the whole image (a constant image gives all zeros).
- "none": pass-through for images already on a 0–255 scale (8-bit RGB fundus photographs): uint8 stays as is,
  a float image whose maximum is ≤ 1 is scaled by 255 (a [0, 1] export), anything else must already lie in
  [0, 255] or an `InputError` says to pick another kind.
- "medsamix": MedSAMix's released pipeline (reference.md §3a), for every 3-D modality, CT included (no window):
  in float64, clip at the 0.5th / 99.5th percentiles over all voxels (numpy "linear"), z-score (mean, population
  SD), min–max to [0, 1] as (x − min) / (max − min + 1e-5), × 255 and truncate to an integer (the uint8 cast of
  its slice loader). Values are the integers 0 … 254 (the 1e-5 keeps the maximum below 255), as float32.

NaN voxels (rare, from broken conversions) are set to the lowest output value, 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from medmix.errors import ConfigError, InputError

INTENSITY_KINDS = ("ct_window", "percentile", "minmax", "none", "medsamix")
PERCENTILE_SCOPES = ("nonzero", "all")


@dataclass(frozen=True)
class IntensitySpec:
    """How to map raw intensities to [0, 255]; see the module docstring. Unused fields keep their defaults."""

    kind: str = "none"
    level: float | None = None
    width: float | None = None
    low: float = 0.5
    high: float = 99.5
    scope: str = "nonzero"

    def __post_init__(self):
        if self.kind not in INTENSITY_KINDS:
            raise ConfigError(f"intensity.kind: expected one of {', '.join(INTENSITY_KINDS)}, got {self.kind!r}.")
        if self.kind == "ct_window":
            for name in ("level", "width"):
                value = getattr(self, name)
                if not _is_number(value):
                    raise ConfigError(f"intensity.{name}: a ct_window needs a number (HU), got {value!r}.")
            if self.width <= 0:
                raise ConfigError(f"intensity.width: must be > 0 HU, got {self.width!r}.")
        if self.kind == "percentile":
            if not (_is_number(self.low) and _is_number(self.high) and 0 <= self.low < self.high <= 100):
                raise ConfigError(
                    f"intensity.low/high: expected percentiles with 0 ≤ low < high ≤ 100, got {self.low!r} / "
                    f"{self.high!r}."
                )
            if self.scope not in PERCENTILE_SCOPES:
                raise ConfigError(
                    f"intensity.scope: expected one of {', '.join(PERCENTILE_SCOPES)}, got {self.scope!r}."
                )

    def to_dict(self) -> dict:
        if self.kind == "ct_window":
            return {"kind": self.kind, "level": self.level, "width": self.width}
        if self.kind == "percentile":
            return {"kind": self.kind, "low": self.low, "high": self.high, "scope": self.scope}
        return {"kind": self.kind}


def as_intensity_spec(spec: IntensitySpec | Mapping | None) -> IntensitySpec:
    """An `IntensitySpec` from itself, a mapping such as {"kind": "ct_window", "level": 40, "width": 400}, or None
    (pass-through)."""
    if spec is None:
        return IntensitySpec()
    if isinstance(spec, IntensitySpec):
        return spec
    if isinstance(spec, Mapping):
        allowed = {"kind", "level", "width", "low", "high", "scope"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ConfigError(f"intensity: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}.")
        return IntensitySpec(**dict(spec))
    raise InputError(f"intensity: expected an IntensitySpec or a mapping, got {type(spec).__name__}.")


def apply_intensity(image, spec: IntensitySpec | Mapping | None) -> np.ndarray:
    """`image` (any shape, grey or RGB with a trailing axis of 3) mapped to float32 in [0, 255] per `spec`.

    The input is not modified. See the module docstring for each kind's definition and the percentile scope.
    """
    spec = as_intensity_spec(spec)
    data = np.asarray(image)
    if data.dtype.kind not in "biuf":
        raise InputError(f"image: expected a numeric array, got dtype {data.dtype}.")
    if spec.kind == "none":
        return _passthrough(data)
    if spec.kind == "medsamix":
        return medsamix_intensity(data)
    x = data.astype(np.float64, copy=False)
    if spec.kind == "ct_window":
        lo = spec.level - spec.width / 2.0
        hi = spec.level + spec.width / 2.0
    elif spec.kind == "minmax":
        lo, hi = _finite_range(x)
    else:
        values = x
        if spec.scope == "nonzero":
            nonzero = x != 0 if x.ndim < 3 or x.shape[-1] != 3 else np.any(x != 0, axis=-1, keepdims=True)
            values = x[np.broadcast_to(nonzero, x.shape)]
        values = values[np.isfinite(values)]
        if values.size == 0:
            return np.zeros(x.shape, dtype=np.float32)
        lo, hi = np.percentile(values, [spec.low, spec.high])
    return _stretch(x, float(lo), float(hi))


def medsamix_intensity(volume) -> np.ndarray:
    """MedSAMix's intensity pipeline on a whole volume (see the module docstring): float32 integers 0 … 254.

    Reproduces its `clip_percentiles` → `z_score_normalization` → `min_max_normalize_with_clipping(clip=False)`
    → `× 255` → `uint8` steps operation for operation, so the values are equal, not just close. A constant volume
    (SD 0) gives NaN there; here it gives all zeros.
    """
    x = np.asarray(volume, dtype=np.float64)
    low, high = np.percentile(x, 0.5), np.percentile(x, 99.5)
    x = np.clip(x, low, high)
    std = np.std(x)
    if not std > 0:
        return np.zeros(x.shape, dtype=np.float32)
    x = (x - np.mean(x)) / std
    x = (x - x.min()) / (x.max() - x.min() + 1e-5)
    return np.trunc(x * 255).astype(np.float32)


def _stretch(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if not hi > lo:
        # A constant image (or a percentile range of zero width): everything at or above lo is "bright".
        out = np.where(x > lo, 255.0, 0.0)
    else:
        out = (x - lo) * (255.0 / (hi - lo))
    out = np.nan_to_num(out, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(out, 0.0, 255.0).astype(np.float32)


def _finite_range(x: np.ndarray) -> tuple[float, float]:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return 0.0, 0.0
    return float(finite.min()), float(finite.max())


def _passthrough(data: np.ndarray) -> np.ndarray:
    if data.dtype == np.uint8 or data.dtype == np.bool_:
        return data.astype(np.float32) * (255.0 if data.dtype == np.bool_ else 1.0)
    x = np.nan_to_num(data.astype(np.float64), nan=0.0)
    if x.size == 0:
        return x.astype(np.float32)
    top, bottom = float(x.max()), float(x.min())
    if data.dtype.kind == "f" and bottom >= 0.0 and top <= 1.0:
        x = x * 255.0
    elif bottom < 0.0 or top > 255.0:
        raise InputError(
            f"intensity kind 'none' expects values on a 0–255 scale, got [{bottom:g}, {top:g}]; use kind "
            "'minmax', 'percentile' or 'ct_window' in the task card."
        )
    return x.astype(np.float32)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(
        value
    )

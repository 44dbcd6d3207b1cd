"""Point prompts from a reference mask (reference.md §10). Points are (x, y) = (column, row) pixel indices of the
2-D slice, labels 1 (foreground) / 0 (background), as SAM takes them.

- `center_point`: the foreground pixel farthest from the background: the argmax of the Euclidean distance
  transform of the mask padded by one pixel of background (so the image border counts as background); ties go to
  the first pixel in raster (row-major) order.
- `random_points`: `positive` distinct foreground pixels drawn uniformly, then `negative` distinct pixels from a
  band of `band_px` pixels around the object (8-connected dilation minus the slice's foreground; anywhere outside
  the foreground when the band is empty). Fewer are returned when fewer pixels exist. The generator is the
  caller's (seeded per seed, case and slice), so the same inputs give the same points in any process.
"""

from __future__ import annotations

import numpy as np

from medmix.errors import InputError


def padded_edt(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel of a 2-D mask to the nearest background pixel, the image border counting
    as background (the mask is padded by one background pixel before the transform). Zero outside the mask."""
    from scipy import ndimage

    plane = np.asarray(mask, dtype=bool)
    if not plane.any():
        return np.zeros(plane.shape, dtype=np.float64)
    return ndimage.distance_transform_edt(np.pad(plane, 1))[1:-1, 1:-1]


def center_point(mask2d) -> np.ndarray | None:
    """(x, y) float64 of the foreground pixel farthest from the background (see the module docstring), or None
    for an empty mask."""
    plane = _plane(mask2d, "center_point")
    if not plane.any():
        return None
    row, col = np.unravel_index(int(np.argmax(padded_edt(plane))), plane.shape)
    return np.array([col, row], dtype=np.float64)


def random_points(object_mask, slice_foreground, positive: int, negative: int, band_px: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(points (n, 2) float64 x, y; labels (n,) int64): positives from `object_mask`, then negatives from the band
    around it outside `slice_foreground` (see the module docstring)."""
    from scipy import ndimage

    obj = _plane(object_mask, "random_points")
    fg = _plane(slice_foreground, "random_points")
    pos = _draw(np.flatnonzero(obj), positive, rng)
    band = ndimage.binary_dilation(obj, structure=np.ones((3, 3), bool), iterations=int(band_px)) & ~fg
    if not band.any():
        band = ~fg
    neg = _draw(np.flatnonzero(band), negative, rng)
    flat = np.concatenate([pos, neg])
    rows, cols = np.unravel_index(flat, obj.shape)
    points = np.stack([cols, rows], axis=1).astype(np.float64).reshape(-1, 2)
    labels = np.concatenate([np.ones(len(pos), np.int64), np.zeros(len(neg), np.int64)])
    return points, labels


def _draw(candidates: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    if k <= 0 or candidates.size == 0:
        return np.zeros(0, dtype=np.int64)
    return candidates[rng.choice(candidates.size, size=min(int(k), candidates.size), replace=False)]


def _plane(mask2d, who: str) -> np.ndarray:
    plane = np.asarray(mask2d) != 0
    if plane.ndim != 2:
        raise InputError(f"{who}: expected a 2D mask, got shape {plane.shape}.")
    return plane


__all__ = ["center_point", "padded_edt", "random_points"]

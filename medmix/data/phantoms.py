"""Small deterministic phantom cases (numpy only) for the embedded demo, smoke tests and docs.

Each case is a prediction/reference pair built from analytic shapes placed in mm coordinates (voxel centres),
so the same geometry holds whatever the spacing. They cover the situations the metrics disagree on: slight
over-segmentation on an anisotropic CT grid, a small far-away false positive (HD explodes, Dice barely moves),
several lesions, a missed lesion (one empty mask), both masks empty, a 2D label map, and a plain shift with
known values. All arrays are at most 96 voxels per side and build in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhantomCase:
    """One built-in case.

    pred, gt: uint8 arrays of equal shape (0/1 masks, or label ids when `labels` is set). spacing: mm per array
    axis, array axis order. labels: the label ids to score for a label map, or None for a binary pair.
    """

    name: str
    pred: np.ndarray
    gt: np.ndarray
    spacing: tuple[float, ...]
    description: str
    labels: tuple[int, ...] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.gt.shape)


def _grid_mm(shape: Sequence[int], spacing: Sequence[float]) -> list[np.ndarray]:
    """Open mesh of voxel-centre coordinates in mm, one array per axis."""
    return [
        (np.arange(n, dtype=float) * s).reshape([-1 if a == i else 1 for a in range(len(shape))])
        for i, (n, s) in enumerate(zip(shape, spacing))
    ]


def ellipsoid(
    shape: Sequence[int], spacing: Sequence[float], centre_mm: Sequence[float], radii_mm: Sequence[float]
) -> np.ndarray:
    """Boolean ellipsoid (ellipse in 2D): voxels whose centre satisfies Σ((x−c)/r)² ≤ 1, all in mm."""
    total = np.zeros(tuple(shape), dtype=float)
    for coord, c, r in zip(_grid_mm(shape, spacing), centre_mm, radii_mm):
        total = total + ((coord - c) / r) ** 2
    return total <= 1.0


def box(shape: Sequence[int], start: Sequence[int], stop: Sequence[int]) -> np.ndarray:
    """Boolean box of voxels [start, stop) per axis."""
    mask = np.zeros(tuple(shape), dtype=bool)
    mask[tuple(slice(a, b) for a, b in zip(start, stop))] = True
    return mask


def _u8(mask: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(mask, dtype=np.uint8)


def organ_overseg() -> PhantomCase:
    spacing = (0.8, 0.8, 2.5)
    shape = (80, 80, 32)
    centre = (32.0, 32.0, 40.0)
    gt = ellipsoid(shape, spacing, centre, (22.0, 16.0, 30.0))
    pred = ellipsoid(shape, spacing, centre, (22.8, 16.8, 32.5))  # ~1 voxel in-plane, 1 slice out of plane
    return PhantomCase(
        "organ_overseg", _u8(pred), _u8(gt), spacing,
        "organ-like ellipsoid on an anisotropic CT grid (0.8×0.8×2.5 mm); prediction over-segments by ~0.8 mm "
        "in-plane and ~2.5 mm along the slice axis",
    )


def lesion_far_fp() -> PhantomCase:
    spacing = (1.0, 1.0, 1.0)
    shape = (64, 64, 48)
    gt = ellipsoid(shape, spacing, (20.0, 20.0, 20.0), (7.0, 7.0, 7.0))
    pred = ellipsoid(shape, spacing, (20.0, 20.0, 20.0), (6.5, 6.5, 6.5)) | box(shape, (54, 54, 40), (56, 56, 42))
    return PhantomCase(
        "lesion_far_fp", _u8(pred), _u8(gt), spacing,
        "7 mm-radius lesion, slightly under-segmented, plus a 2×2×2-voxel false positive ~50 mm away: Dice and "
        "bAHD barely move, HD jumps",
    )


def multi_lesion() -> PhantomCase:
    spacing = (1.0, 1.0, 2.0)
    shape = (64, 64, 32)
    gt = (
        ellipsoid(shape, spacing, (16.0, 16.0, 20.0), (6.0, 6.0, 6.0))
        | ellipsoid(shape, spacing, (44.0, 20.0, 30.0), (4.0, 4.0, 4.0))
        | ellipsoid(shape, spacing, (30.0, 48.0, 40.0), (3.0, 3.0, 4.0))
    )
    pred = (
        ellipsoid(shape, spacing, (16.0, 16.0, 20.0), (6.0, 6.0, 6.0))
        | ellipsoid(shape, spacing, (45.0, 21.0, 30.0), (4.0, 4.0, 4.0))  # shifted by 1 mm in-plane
        | ellipsoid(shape, spacing, (30.0, 48.0, 40.0), (2.0, 2.0, 2.0))  # small lesion under-segmented
    )
    return PhantomCase(
        "multi_lesion", _u8(pred), _u8(gt), spacing,
        "three lesions (radii 6, 4 and 3 mm) on a 1×1×2 mm grid: one exact, one shifted by 1 mm, the smallest "
        "under-segmented",
    )


def missed_lesion() -> PhantomCase:
    spacing = (1.0, 1.0, 1.0)
    shape = (48, 48, 48)
    gt = ellipsoid(shape, spacing, (24.0, 24.0, 24.0), (5.0, 5.0, 5.0))
    pred = np.zeros(shape, dtype=bool)
    return PhantomCase(
        "missed_lesion", _u8(pred), _u8(gt), spacing,
        "5 mm-radius lesion the prediction misses entirely (empty prediction): overlap 0, distances = image "
        "diagonal, flagged empty_pred",
    )


def both_empty() -> PhantomCase:
    shape = (32, 32, 16)
    empty = np.zeros(shape, dtype=np.uint8)
    return PhantomCase(
        "both_empty", empty, empty.copy(), (1.0, 1.0, 3.0),
        "tumour-free case, nothing predicted: overlap 1, distances 0 (BraTS/KiTS convention), flagged both empty",
    )


def fundus_disc_cup() -> PhantomCase:
    spacing = (1.0, 1.0)  # nominal: 1 mm per pixel
    shape = (96, 96)
    disc_gt = ellipsoid(shape, spacing, (48.0, 48.0), (30.0, 27.0))
    cup_gt = ellipsoid(shape, spacing, (48.0, 50.0), (14.0, 12.0))
    disc_pred = ellipsoid(shape, spacing, (48.0, 48.0), (31.5, 28.0))
    cup_pred = ellipsoid(shape, spacing, (49.0, 52.0), (12.0, 11.0))
    gt = np.where(cup_gt, 2, np.where(disc_gt, 1, 0))
    pred = np.where(cup_pred, 2, np.where(disc_pred, 1, 0))
    return PhantomCase(
        "fundus_disc_cup", _u8(pred), _u8(gt), spacing,
        "2D fundus-like label map (96×96, nominal 1 mm pixels): 1 = neuroretinal rim (disc minus cup), 2 = optic "
        "cup; the predicted disc is slightly large, the cup small and off-centre",
        labels=(1, 2),
    )


def shifted_cube() -> PhantomCase:
    spacing = (1.5, 1.0, 1.0)
    shape = (32, 32, 32)
    gt = box(shape, (8, 8, 8), (24, 24, 24))
    pred = box(shape, (10, 8, 8), (26, 24, 24))
    return PhantomCase(
        "shifted_cube", _u8(pred), _u8(gt), spacing,
        "16-voxel cube shifted by 2 voxels along axis 0 (1.5 mm spacing): Dice = 14/16 = 0.875, HD = HD95 = 3 mm",
    )


_BUILDERS = (organ_overseg, lesion_far_fp, multi_lesion, missed_lesion, both_empty, fundus_disc_cup, shifted_cube)


def builtin_cases() -> list[PhantomCase]:
    """The built-in phantom cases, in a fixed order (deterministic: no randomness)."""
    return [build() for build in _BUILDERS]

"""Seeded multi-lesion cases for the lesion-wise tests: label maps with ellipsoid lesions of mixed size."""

from __future__ import annotations

import numpy as np


def ellipsoids(shape, n, rng, labels=(1, 2, 3), radius=(1.0, 4.5)) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    for _ in range(n):
        centre = [rng.integers(2, s - 2) if s > 4 else 0 for s in shape]
        radii = rng.uniform(*radius, size=len(shape))
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1
        out[inside] = rng.choice(labels)
    return out


def glioma_case(seed: int, shape=(28, 36, 32)):
    """(pred, gt, spacing): a GT with 6–10 lesions; the prediction shifted, with lesions dropped and FPs added."""
    rng = np.random.default_rng(seed)
    gt = ellipsoids(shape, int(rng.integers(6, 11)), rng)
    pred = np.roll(gt, tuple(int(s) for s in rng.integers(-1, 2, size=3)), axis=(0, 1, 2))
    drop = ellipsoids(shape, 2, rng, labels=(1,), radius=(3.0, 6.0)) > 0
    pred[drop] = 0
    extra = ellipsoids(shape, int(rng.integers(1, 4)), rng, radius=(1.0, 3.0))
    pred[extra > 0] = extra[extra > 0]
    spacing = tuple(float(s) for s in rng.choice([0.7, 0.9, 1.0, 1.3, 2.0], size=3))
    return pred, gt, spacing


def edge_cases():
    """name → (pred, gt, spacing): the situations the definitions treat specially."""
    z = np.zeros((16, 18, 20), np.uint8)
    one = z.copy()
    one[3:7, 3:7, 3:7] = 1
    far = z.copy()
    far[10:14, 12:16, 13:17] = 1
    joined_gt = z.copy()  # two GT lesions 2 voxels apart: joined by a 3-voxel dilation
    joined_gt[3:7, 3:7, 3:7] = 1
    joined_gt[3:7, 3:7, 9:13] = 1
    serving_pred = z.copy()  # one prediction bridging both lesions
    serving_pred[3:7, 3:7, 4:12] = 1
    small_gt = one.copy()
    small_gt[12, 14, 15] = 1  # 1 voxel lesion under every volume threshold
    touching_pred = z.copy()  # no overlap, but within 1 voxel of the lesion
    touching_pred[8:10, 3:7, 3:7] = 1
    return {
        "empty": (z, z, (1.0, 1.0, 1.0)),
        "only_fp": (one, z, (1.0, 1.2, 0.8)),
        "only_fn": (z, one, (1.0, 1.2, 0.8)),
        "joined_by_dilation": (serving_pred, joined_gt, (1.0, 1.0, 1.0)),
        "one_prediction_two_lesions": (serving_pred, one + np.roll(one, 7, axis=2), (0.9, 1.0, 1.1)),
        "under_threshold": (one, small_gt, (1.0, 1.0, 1.0)),
        "touching_without_overlap": (touching_pred, one, (1.0, 1.0, 1.0)),
        "fp_and_fn": (far, one, (1.0, 1.0, 2.0)),
    }

"""The seeded CT-sized benchmark case of issue 2: 512×512×160 voxels, spacing 0.8×0.8×2.5 mm (array axis order),
one irregular ~3 cm lesion and an imperfect prediction with a small far-away false positive."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SHAPE = (512, 512, 160)
SPACING_MM = (0.8, 0.8, 2.5)


def irregular_blob(rng, box_shape, spacing_mm, radius_mm, roughness=0.25):
    """A star-shaped blob: a sphere whose radius varies smoothly with direction."""
    grid = np.stack(np.meshgrid(*[(np.arange(n) - n / 2) * s for n, s in zip(box_shape, spacing_mm)],
                                indexing="ij"))
    r = np.sqrt((grid ** 2).sum(0)) + 1e-9
    noise = ndimage.gaussian_filter(rng.standard_normal(box_shape), sigma=[6 / s for s in spacing_mm])
    noise /= np.abs(noise).max() + 1e-9
    return r <= radius_mm * (1 + roughness * noise)


def make_case(seed: int = 0):
    """(pred, gt, spacing_mm) as boolean arrays."""
    rng = np.random.default_rng(seed)
    box = (60, 60, 20)  # 48 × 48 × 50 mm around the lesion
    lesion = irregular_blob(rng, box, SPACING_MM, radius_mm=15.0)
    gt = np.zeros(SHAPE, bool)
    origin = (230, 260, 70)
    gt[tuple(slice(o, o + b) for o, b in zip(origin, box))] = lesion
    # Prediction: another smooth perturbation of the same lesion (under- and over-segmentation), shifted 1 voxel.
    wobble = irregular_blob(rng, box, SPACING_MM, radius_mm=15.5, roughness=0.2)
    pred = np.zeros(SHAPE, bool)
    shifted = tuple(slice(o + d, o + d + b) for o, b, d in zip(origin, box, (1, 0, 0)))
    pred[shifted] = wobble & ndimage.binary_dilation(lesion, iterations=2)
    pred[60:63, 80:83, 20:22] = True  # small false positive ~20 cm away
    return pred, gt, SPACING_MM

"""Connected-component instances: the one code path for lesions (lesion-wise metrics and staging).

Components are labelled by `scipy.ndimage.label`, so instance ids follow raster order (C order) of each
component's first voxel; every caller that needs an order relies on that.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medmix.errors import InputError

NEIGHBOURHOODS = {2: {4: 1, 8: 2}, 3: {6: 1, 18: 2, 26: 3}}
"""Neighbourhood size → scipy connectivity rank, per dimensionality."""


def connectivity_rank(connectivity: int | None, ndim: int) -> int:
    """scipy's connectivity rank for a neighbourhood size (None: full connectivity, 26 in 3D, 8 in 2D)."""
    if connectivity is None:
        return ndim
    allowed = NEIGHBOURHOODS.get(ndim)
    if allowed is None:
        raise InputError(f"connected components need a 2D or 3D mask, got {ndim}D.")
    if isinstance(connectivity, bool) or connectivity not in allowed:
        raise InputError(
            f"connectivity: expected a neighbourhood size for a {ndim}D mask, one of "
            f"{', '.join(map(str, allowed))} (None means {max(allowed)}), got {connectivity!r}."
        )
    return allowed[connectivity]


def components(mask: np.ndarray, connectivity: int | None = None) -> tuple[np.ndarray, int]:
    """Label the connected components of a boolean mask: (uint32 label map, 0 = background; count).

    `cc3d` (connected-components-3d, ~5× faster than scipy on a BraTS volume, and what panoptica uses) gives the
    same numbering as `scipy.ndimage.label` on C-ordered arrays: raster order of each component's first voxel.
    """
    import cc3d

    rank = connectivity_rank(connectivity, mask.ndim)
    size = {v: k for k, v in NEIGHBOURHOODS[mask.ndim].items()}[rank]
    labels, count = cc3d.connected_components(np.ascontiguousarray(mask, dtype=bool), connectivity=size,
                                              return_N=True, out_dtype=np.uint32)
    return labels, int(count)


def crop_to_union(a: np.ndarray, b: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Both masks cut to the bounding box of their union grown by `margin` voxels (clipped to the image).

    Labelling, dilation by up to margin − 1 steps, and surfaces (the image border counts as background) give the
    same results on the crop as on the whole image; component numbering keeps its raster order.
    """
    box = []
    for axis in range(a.ndim):
        other = tuple(x for x in range(a.ndim) if x != axis)
        hits = np.flatnonzero(a.any(axis=other) | b.any(axis=other))
        if hits.size == 0:
            return a, b
        box.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + 1 + margin, a.shape[axis])))
    box = tuple(box)
    return a[box], b[box]


def dilate(mask: np.ndarray, iterations: int, connectivity: int | None = None) -> np.ndarray:
    """Binary dilation by `iterations` steps of the given neighbourhood (BraTS 2023: 18 in 3D, i.e. rank 2)."""
    if iterations <= 0:
        return mask.copy()
    structure = ndimage.generate_binary_structure(mask.ndim, connectivity_rank(connectivity, mask.ndim))
    return ndimage.binary_dilation(mask, structure=structure, iterations=iterations)


def instance_stats(labels: np.ndarray, count: int, margin: int = 0) -> tuple[np.ndarray, list[tuple[slice, ...]]]:
    """Voxel count of every id 0..count and the bounding box of every instance 1..count (grown by `margin`, clipped
    to the image). `labels` numbers its instances 1..count without gaps, as `components` does."""
    sizes = np.bincount(labels.ravel(), minlength=count + 1).astype(np.int64, copy=False)
    boxes = [tuple(slice(max(b.start - margin, 0), min(b.stop + margin, n)) for b, n in zip(box, labels.shape))
             for box in ndimage.find_objects(labels, max_label=count)] if count else []
    return sizes, boxes

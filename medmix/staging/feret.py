"""Greatest lesion dimension: maximum Feret diameters and connected-component lesions (reference.md §2).

Conventions:
- "corners" (default): every foreground voxel is a box of size `spacing` around its centre and the diameter is the
  largest distance between two corners of foreground voxels, i.e. the physical extent of the voxelised object. A
  10-voxel bar measures √(10² + 1² + 1²) = 10.0995 mm at spacing 1.
- "centres": the largest distance between two foreground voxel centres. It under-reads the extent by about one voxel
  (the same bar measures 9.0 mm) and so flips T categories near thresholds; offered for comparison with tools that
  measure between centres.

Algorithm: the largest distance within a point set is attained between two vertices of its convex hull, and no
voxel whose 2·ndim face neighbours are all foreground can hold a hull vertex (for any direction, a face neighbour
lies further along it). So the candidates are the centres or corners of surface voxels only; the diameter is the
largest pairwise distance among the vertices of their convex hull (`scipy.spatial.ConvexHull`). Collinear or
coplanar candidate sets are projected onto the affine subspace they span before the hull is taken (their rank is
computed exactly on integer lattice coordinates); every distance is measured on the original coordinates in mm.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medmix.errors import InputError
from medmix.metrics.inputs import as_binary_mask, as_spacing
from medmix.metrics.instances import components

CONVENTIONS = ("corners", "centres")
FERET_MODES = ("3d", "in_slice")

# Below this many candidate points all pairs are cheaper than a hull (and need no degenerate-case handling).
_ALL_PAIRS_MAX_POINTS = 128
# Pairwise distances are computed in blocks of at most this many entries to bound memory.
_BLOCK_ENTRIES = 2_000_000



@dataclass(frozen=True)
class Lesion:
    """One connected component of a tumour mask.

    `label` is the component's index in `scipy.ndimage.label` numbering (1-based, raster order of its first voxel);
    `greatest_dimension_mm` is its maximum Feret diameter (3D or longest in-slice, per the call that made it).
    """

    label: int
    voxel_count: int
    volume_mm3: float
    greatest_dimension_mm: float


def max_feret_diameter(mask, spacing=None, convention: str = "corners") -> float:
    """Maximum Feret diameter (greatest dimension in any direction) of a 2D or 3D binary mask, in mm.

    mask: bool or 0/1 array (2D or 3D; numpy, torch or nested lists); all foreground voxels count together, call
    `lesions` for per-component diameters. spacing: per-axis voxel size in mm, array axis order (None: 1, so the
    result is in voxels). convention: "corners" (voxel extent, default) or "centres" (between voxel centres).
    An empty mask returns 0.0; a single voxel returns its diagonal ("corners") or 0.0 ("centres").
    """
    mask = _as_mask(mask, "mask", ndims=(2, 3))
    spacing_mm = as_spacing(spacing, mask.ndim)
    _check_convention(convention)
    return _feret(mask, spacing_mm, convention)


def longest_in_slice_diameter(mask, spacing=None, axis: int = 0, convention: str = "corners") -> float:
    """RECIST-style longest diameter in mm: the largest 2D Feret diameter over the slices of a 3D mask along `axis`.

    Each slice perpendicular to `axis` (the slice axis, e.g. z) is measured on its own with the in-plane spacing
    (`spacing` without `axis`). Same conventions as `max_feret_diameter`; note that reference.md TV-8's 10.0 mm is
    the "centres" value (the same ellipsoid measures √130 = 11.40 mm in-slice between corners). Empty mask: 0.0.
    """
    mask = _as_mask(mask, "mask", ndims=(3,), hint="For a 2D mask the in-slice diameter is max_feret_diameter(mask).")
    spacing_mm = as_spacing(spacing, 3)
    axis = _check_axis(axis, 3)
    _check_convention(convention)
    return _in_slice(mask, spacing_mm, axis, convention)


def lesions(
    mask,
    spacing=None,
    connectivity: int | None = None,
    *,
    feret: str = "3d",
    slice_axis: int = 0,
    convention: str = "corners",
) -> list[Lesion]:
    """Connected components of a binary mask as `Lesion` records, largest voxel count first (ties: lower label).

    connectivity: neighbourhood size, 26 (default), 18 or 6 in 3D; 8 (default) or 4 in 2D. The default is full
    connectivity so that a lesion touching itself only along an edge or a corner, as thin or obliquely cut
    tumours do, is counted once rather than split into several (which would change HCC's multiplicity).
    feret: "3d" (maximum Feret diameter, default, AJCC's greatest dimension) or "in_slice" (longest diameter in a
    slice along `slice_axis`, 3D masks only). convention: see `max_feret_diameter`. Empty mask: [].
    """
    mask = _as_mask(mask, "mask", ndims=(2, 3))
    spacing_mm = as_spacing(spacing, mask.ndim)
    _check_convention(convention)
    measure = _diameter_function(feret, mask.ndim, slice_axis, convention)
    labels, count = components(mask, connectivity)
    if count == 0:
        return []
    voxel_counts = np.bincount(labels.ravel(), minlength=count + 1)
    voxel_mm3 = math.prod(spacing_mm)
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        component = labels[box] == index
        found.append(
            Lesion(
                label=index,
                voxel_count=int(voxel_counts[index]),
                volume_mm3=float(voxel_counts[index]) * voxel_mm3,
                greatest_dimension_mm=measure(component, spacing_mm),
            )
        )
    found.sort(key=lambda lesion: (-lesion.voxel_count, lesion.label))
    return found


# --- validation ------------------------------------------------------------------------------------------------


def _as_mask(x, name: str, ndims: tuple[int, ...], hint: str = "") -> np.ndarray:
    mask = as_binary_mask(x, name)
    if mask.ndim not in ndims:
        wanted = " or ".join(f"{n}D" for n in ndims)
        raise InputError(f"{name}: expected a {wanted} mask, got {mask.ndim}D with shape {mask.shape}. {hint}".strip())
    return mask


def _check_choice(value, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"{what}: expected one of {', '.join(map(repr, choices))}, got {value!r}.{hint}")


def _check_convention(convention) -> None:
    _check_choice(convention, CONVENTIONS, "convention")


def _check_axis(axis, ndim: int, name: str = "axis") -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise InputError(f"{name}: expected an array axis in 0..{ndim - 1} (the slice axis), got {axis!r}.")
    return int(axis) % ndim


def _diameter_function(feret: str, ndim: int, slice_axis: int, convention: str):
    """`f(component_mask, spacing_mm) -> mm` for a validated `feret` mode."""
    _check_choice(feret, FERET_MODES, "feret")
    if feret == "3d":
        return lambda component, spacing_mm: _feret(component, spacing_mm, convention)
    if ndim != 3:
        raise InputError(
            f"feret='in_slice' needs a 3D mask, got a {ndim}D one. A 2D mask is a single slice: use feret='3d'."
        )
    axis = _check_axis(slice_axis, 3, "slice_axis")
    return lambda component, spacing_mm: _in_slice(component, spacing_mm, axis, convention)


# --- computation (inputs already validated) ----------------------------------------------------------------------


def _crop(mask: np.ndarray) -> np.ndarray | None:
    """The mask cropped to its bounding box, or None if it is empty."""
    coords = np.nonzero(mask)
    if coords[0].size == 0:
        return None
    return mask[tuple(slice(int(c.min()), int(c.max()) + 1) for c in coords)]


def _feret(mask: np.ndarray, spacing_mm: tuple[float, ...], convention: str) -> float:
    crop = _crop(mask)
    if crop is None:
        return 0.0
    # Outside the crop is background, hence border_value=0: the crop's border voxels are surface voxels.
    face = ndimage.generate_binary_structure(crop.ndim, 1)
    surface = crop & ~ndimage.binary_erosion(crop, structure=face, border_value=0)
    centres = np.argwhere(surface)
    if convention == "centres":
        lattice = centres
        step_mm = np.asarray(spacing_mm)
    else:
        # Corners in half-voxel units: centre 2·i, corners 2·i ± 1 on every axis.
        offsets = np.array(np.meshgrid(*[(-1, 1)] * crop.ndim, indexing="ij")).reshape(crop.ndim, -1).T
        lattice = np.unique((2 * centres[:, None, :] + offsets[None, :, :]).reshape(-1, crop.ndim), axis=0)
        step_mm = np.asarray(spacing_mm) / 2.0
    return _diameter_of_points(lattice, lattice * step_mm)


def _diameter_of_points(lattice: np.ndarray, points_mm: np.ndarray) -> float:
    """Largest pairwise distance (mm) of `points_mm`; `lattice` holds the same points as integers (for the rank)."""
    if len(points_mm) <= _ALL_PAIRS_MAX_POINTS:
        return _max_distance(points_mm)
    rank = int(np.linalg.matrix_rank((lattice - lattice[0]).astype(float)))
    if rank == 0:
        return 0.0
    coords = points_mm
    if rank < points_mm.shape[1]:
        # Collinear or coplanar: Qhull needs full-dimensional input, so work in the spanned subspace.
        centred = points_mm - points_mm.mean(axis=0)
        basis = np.linalg.svd(centred, full_matrices=False)[2][:rank]
        coords = centred @ basis.T
    if rank == 1:
        along = coords[:, 0]
        vertices = np.array([np.argmin(along), np.argmax(along)])
    else:
        from scipy.spatial import ConvexHull, QhullError

        try:
            vertices = ConvexHull(coords).vertices
        except QhullError:  # should not happen after the rank reduction; stay exact if it does
            vertices = np.arange(len(coords))
    return _max_distance(points_mm[vertices])


def _max_distance(points: np.ndarray) -> float:
    """Largest Euclidean distance between two rows of `points` (0.0 for fewer than two), all pairs, in blocks."""
    n = len(points)
    if n < 2:
        return 0.0
    rows = max(1, _BLOCK_ENTRIES // n)
    best = 0.0
    for start in range(0, n, rows):
        block = points[start : start + rows]
        squared = ((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
        best = max(best, float(squared.max()))
    return math.sqrt(best)


def _in_slice(mask: np.ndarray, spacing_mm: tuple[float, ...], axis: int, convention: str) -> float:
    crop = _crop(mask)
    if crop is None:
        return 0.0
    slices = np.moveaxis(crop, axis, 0)
    plane_mm = tuple(s for a, s in enumerate(spacing_mm) if a != axis)
    # Measure slices in decreasing order of their bounding-box diagonal, an upper bound on their diameter, and stop
    # once no remaining slice can beat the best so far.
    bounds = []
    for index, plane in enumerate(slices):
        rows, cols = np.nonzero(plane)
        if rows.size == 0:
            continue
        extent = np.array([rows.max() - rows.min() + 1, cols.max() - cols.min() + 1], dtype=float)
        if convention == "centres":
            extent -= 1
        bounds.append((math.hypot(*(extent * plane_mm)), index))
    bounds.sort(reverse=True)
    best = 0.0
    for bound, index in bounds:
        if bound <= best:
            break
        best = max(best, _feret(slices[index], plane_mm, convention))
    return best

"""Whether two images lie on the same voxel grid, and putting a prediction stored in another axis order or
orientation back onto its reference's grid (no resampling). Used by `medmix score` (refuse, with the fix) and by
`medmix evaluate --predictions` (reorient, with a note)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medmix.errors import InputError


def onto_reference_grid(array: np.ndarray, affine, ref_shape: Sequence[int], ref_affine, *, where: str,
                        atol_mm: float = 1e-3, allow_placeholder: bool = True) -> tuple[np.ndarray, str | None]:
    """`array` (voxels on `affine`'s grid) expressed on the reference grid (`ref_shape`, `ref_affine`).

    Same grid: (array, None). The same voxels in another axis order and/or with flipped axes (a RAS-canonical or
    LPS copy of the reference): (array permuted/flipped onto the reference, no resampling; a note saying so). With
    `allow_placeholder`, an affine that holds only the reference's spacing (diag(spacing), origin 0: written from an
    array and its spacing, as `save_mask` does without an affine) on the reference's shape: (array, a note), compared
    in array order as a file without an affine is. Anything else (another shape after reorientation, another spacing
    or direction, an origin off by more than `atol_mm`): an `InputError` naming `where`, both affines and the fix.
    """
    from nibabel.orientations import aff2axcodes, apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

    ref_shape = tuple(int(v) for v in ref_shape)
    affine, ref = np.asarray(affine, dtype=float), np.asarray(ref_affine, dtype=float)
    if array.shape == ref_shape and np.allclose(affine, ref, atol=atol_mm, rtol=0):
        return array, None
    moved, moved_affine, reoriented = array, affine, ""
    if array.ndim == len(ref_shape) and array.ndim in (2, 3):
        volume = array if array.ndim == 3 else array[..., None]
        try:
            ornt = ornt_transform(io_orientation(affine), io_orientation(ref))
        except Exception:  # a singular affine has no orientation
            ornt = None
        if ornt is not None and (array.ndim == 3 or int(ornt[2, 0]) == 2):  # 2D: the slice normal stays put
            moved = apply_orientation(volume, ornt)
            moved = moved if array.ndim == 3 else moved[..., 0]
            moved_affine = affine @ inv_ornt_aff(ornt, volume.shape)
            if not np.array_equal(ornt, [[i, 1] for i in range(3)]):
                reoriented = " after matching axis order and flips"
    if moved.shape == ref_shape and np.allclose(moved_affine, ref, atol=atol_mm, rtol=0):
        codes = "".join(aff2axcodes(affine)[: array.ndim]), "".join(aff2axcodes(ref)[: array.ndim])
        return np.ascontiguousarray(moved), (
            f"is stored in another axis order / orientation than the reference case (axis codes {codes[0]} → "
            f"{codes[1]}); it was reoriented onto the reference grid (axes permuted and flipped, no resampling)")
    ref_spacing = np.linalg.norm(ref[:3, :3], axis=0)
    if (allow_placeholder and array.shape == ref_shape
            and np.allclose(affine, np.diag([*ref_spacing, 1.0]), atol=atol_mm, rtol=0)):
        return array, (f"has a placeholder affine {_fmt_matrix(affine)} (the spacing only, origin 0: written from an "
                       "array without the reference's orientation and origin); it was compared in array order, as a "
                       "prediction without an affine (.npy) is")
    details = [f"shape {moved.shape} vs {ref_shape}"] if moved.shape != ref_shape else []
    spacing, ref_spacing = np.linalg.norm(moved_affine[:3, :3], axis=0)[: array.ndim], ref_spacing[: array.ndim]
    if not np.allclose(spacing, ref_spacing, atol=atol_mm, rtol=0):
        details.append(f"spacing {tuple(round(float(v), 4) for v in spacing)} vs "
                       f"{tuple(round(float(v), 4) for v in ref_spacing)} mm")
    shift = float(np.linalg.norm(moved_affine[:3, 3] - ref[:3, 3]))
    if shift > atol_mm:
        details.append(f"origin off by {shift:.4g} mm")
    raise InputError(
        f"{where}: lies on another voxel grid than the reference case ({'; '.join(details) or 'other directions'}"
        f"{reoriented}; tolerance {atol_mm} mm): its affine {_fmt_matrix(affine)}, shape {array.shape} vs the "
        f"reference's {_fmt_matrix(ref)}, shape {ref_shape}. Resample the prediction onto the reference grid "
        "(nearest neighbour for masks, e.g. nibabel.processing.resample_from_to(pred_img, ref_img, order=0)), or, if "
        "only its header is wrong, copy the reference affine into it."
    )


def check_same_grid(a, b, atol: float = 1e-3) -> None:
    """Raise `InputError` unless `a` and `b` (`medmix.data.io.LoadedImage`s) share a shape and (when both have
    one) affine and spacing."""
    if a.affine is not None and b.affine is not None and (
            a.shape != b.shape or not np.allclose(a.affine, b.affine, atol=atol, rtol=0)):
        try:
            _, note = onto_reference_grid(a.array, a.affine, b.shape, b.affine, where=str(a.path), atol_mm=atol,
                                          allow_placeholder=False)
        except InputError:
            note = None
        if note is not None:
            codes = note[note.index("(axis codes") + 1: note.index(")")]
            raise InputError(
                f"{str(a.path)!r} holds the same voxel grid as {str(b.path)!r} but in another axis order or "
                f"orientation ({codes}; shapes {a.shape} and {b.shape}); scores compare arrays voxel by voxel, so "
                "reorient it onto the reference first (nibabel: from nibabel.orientations import io_orientation, "
                "ornt_transform; pred_img.as_reoriented(ornt_transform(io_orientation(pred_img.affine), "
                "io_orientation(gt_img.affine)))). `medmix evaluate --predictions` does this by itself."
            )
    if a.shape != b.shape:
        raise InputError(
            f"{str(a.path)!r} has shape {a.shape} but {str(b.path)!r} has shape {b.shape}; they must lie on the "
            "same voxel grid. Resample the prediction onto the reference grid first (e.g. nibabel.processing."
            "resample_from_to(pred_img, gt_img, order=0), nearest neighbour for masks)."
        )
    if a.affine is not None and b.affine is not None and not np.allclose(a.affine, b.affine, atol=atol, rtol=0):
        raise InputError(
            f"{str(a.path)!r} and {str(b.path)!r} have the same shape {a.shape} but different affines (tolerance "
            f"{atol}): {_fmt_matrix(a.affine)} vs {_fmt_matrix(b.affine)}. They are not on the same world grid; "
            "resample the prediction onto the reference (nibabel.processing.resample_from_to(pred_img, gt_img, "
            "order=0)), or, if the header is simply wrong, copy the reference affine into the prediction."
        )
    if a.spacing is not None and b.spacing is not None and not np.allclose(a.spacing, b.spacing, atol=atol, rtol=0):
        raise InputError(
            f"{str(a.path)!r} has spacing {a.spacing} mm but {str(b.path)!r} has {b.spacing} mm; they must lie "
            "on the same voxel grid. Resample one onto the other, or pass the correct spacing explicitly."
        )


def _fmt_matrix(m: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.4g}" for v in row) + "]" for row in np.asarray(m)) + "]"

"""One entry point for the volume formats the releases ship: NIfTI, MGH/MGZ (nibabel), MetaImage and NRRD (own
readers). Every reader returns the array in nibabel's array order and the 4×4 voxel→world affine in NIfTI's RAS
frame, so a converter can write `array` with `affine` and keep the release's geometry unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmix.errors import InputError

#: File endings this module reads, longest first.
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".mgz", ".mgh", ".mhd", ".mha", ".nrrd", ".nhdr")


@dataclass
class Volume:
    """array: voxels (spatial axes first, then channels if any); affine: 4×4 voxel→world (RAS, mm)."""

    array: np.ndarray
    affine: np.ndarray
    path: Path

    @property
    def spacing(self) -> tuple[float, ...]:
        """mm per spatial array axis (norms of the affine's columns)."""
        zooms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return tuple(float(z) for z in zooms[: min(self.array.ndim, 3)])


def volume_suffix(path: str | Path) -> str | None:
    name = Path(path).name.lower()
    return next((s for s in VOLUME_SUFFIXES if name.endswith(s)), None)


def strip_suffix(name: str) -> str:
    """File name without its volume suffix ('a.nii.gz' → 'a')."""
    suffix = volume_suffix(name)
    return name[: -len(suffix)] if suffix else name


def read_volume(path: str | Path) -> Volume:
    """Read a NIfTI (.nii/.nii.gz), MGH (.mgz/.mgh), MetaImage (.mhd/.mha) or NRRD (.nrrd/.nhdr) volume.

    NIfTI/MGH: nibabel's array (`dataobj`, so integer data stays integer) and affine, as stored; a trailing
    singleton axis beyond the third is dropped. MetaImage/NRRD: see those modules (x-fastest files, transposed
    to nibabel's order; LPS → RAS).
    """
    p = Path(path)
    suffix = volume_suffix(p)
    if suffix is None:
        raise InputError(f"{str(p)!r}: unsupported volume format; expected one of {', '.join(VOLUME_SUFFIXES)}.")
    if not p.is_file():
        raise InputError(f"{str(p)!r}: no such file.")
    if suffix in (".mhd", ".mha"):
        from medmix.data.prepare.metaimage import read_metaimage

        mi = read_metaimage(p)
        return Volume(array=mi.array, affine=mi.affine, path=p)
    if suffix in (".nrrd", ".nhdr"):
        from medmix.data.prepare.nrrd import read_nrrd

        nr = read_nrrd(p)
        return Volume(array=nr.array, affine=nr.affine, path=p)
    import nibabel as nib

    if suffix in (".nii.gz", ".nii"):
        from medmix.data.io import check_nifti_zooms

        check_nifti_zooms(p, repr(str(p)), "; then prepare the dataset again")
    try:
        img = nib.load(str(p))
        array = np.asanyarray(img.dataobj)
        affine = np.asarray(img.affine, dtype=float)
    except Exception as exc:  # nibabel raises many types for bad files (ImageFileError, EOFError, zlib.error…)
        raise InputError(f"{str(p)!r}: cannot read it ({type(exc).__name__}: {exc}); the file is corrupt or "
                         "truncated; download it again.") from exc
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return Volume(array=np.asarray(array), affine=affine, path=p)

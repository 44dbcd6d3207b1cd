"""Reading and writing masks: NIfTI (.nii, .nii.gz), NumPy (.npz, .npy) and PNG.

Every array comes back in **array axis order** with its spacing (mm per array axis) in the same order:
nibabel's `header.get_zooms()[:ndim]` for NIfTI, an optional `spacing` array inside an .npz, none for .npy
and PNG. Every failure is an `InputError` that names the file and says how to fix it. nibabel and PIL are
imported only by the functions that read or write those formats.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmix.atomic import atomic_save
from medmix.errors import InputError

#: Extension → format name, longest first so ".nii.gz" wins over ".gz".
_FORMATS = ((".nii.gz", "nifti"), (".nii", "nifti"), (".npz", "npz"), (".npy", "npy"), (".png", "png"))
#: Keys tried, in order, when an .npz holds several arrays and no `key=` is given.
NPZ_MASK_KEYS = ("mask", "seg", "label", "arr_0")
#: Keys in an .npz that hold metadata, not the mask.
_NPZ_META_KEYS = ("spacing", "affine")
_SUPPORTED = ".nii, .nii.gz, .npz, .npy, .png"
_CONVERT_HINT = (
    "Convert it to one of those first (e.g. SimpleITK: sitk.WriteImage(sitk.ReadImage(path), 'mask.nii.gz'))."
)


@dataclass
class LoadedImage:
    """A mask read from disk.

    array: the voxels, 2D or 3D, in array axis order. spacing: mm per array axis (same order), or None when the
    file carries none (PNG, NPY, NPZ without a 'spacing' entry). affine: 4×4 voxel→world matrix or None.
    """

    array: np.ndarray
    spacing: tuple[float, ...] | None
    affine: np.ndarray | None
    path: Path
    format: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim


def detect_format(path: str | Path, name: str = "mask") -> str:
    """'nifti', 'npz', 'npy' or 'png' from the file name; anything else is an `InputError`."""
    name = Path(path).name.lower()
    for ext, fmt in _FORMATS:
        if name.endswith(ext):
            return fmt
    raise InputError(
        f"{_label(name, path)}: unsupported file type {Path(path).suffix or '(no extension)'!r}; medmix reads "
        f"{_SUPPORTED}. {_CONVERT_HINT}"
    )


def _label(name: str, path: str | Path) -> str:
    return f"{name} file {str(path)!r}"


def load_mask(path: str | Path, *, name: str = "mask", key: str | None = None) -> LoadedImage:
    """Read a mask or label map from .nii/.nii.gz, .npz, .npy or .png.

    name: what the file is ("pred", "gt", …), used in error messages. key: the array to take from an .npz
    (default: the only array, else the first of 'mask', 'seg', 'label', 'arr_0'). PNG: greyscale only; a 0/255
    or 0/1 image becomes a 0/1 mask, a palette or other greyscale image keeps its values as label ids. NaN or
    infinite values are refused.
    """
    p = Path(path).expanduser()
    where = _label(name, path)
    fmt = detect_format(p, name)
    if not p.exists():
        raise InputError(f"{where}: no such file. Check the path (relative paths start at {os.getcwd()!r}).")
    if p.is_dir():
        raise InputError(f"{where}: is a directory, expected a mask file ({_SUPPORTED}).")
    if p.stat().st_size == 0:
        raise InputError(f"{where}: the file is empty (0 bytes); it was probably not fully written. Re-export it.")
    if key is not None and fmt != "npz":
        raise InputError(f"{where}: key={key!r} only applies to .npz archives, but this is a {fmt} file.")

    if fmt == "npz":
        array, spacing, affine = _read_npz(p, where, key)
    else:
        reader = {"nifti": _read_nifti, "npy": _read_npy, "png": _read_png}[fmt]
        array, spacing, affine = reader(p, where)

    array = _squeeze_trailing(array)
    if array.ndim not in (2, 3):
        raise InputError(
            f"{where}: expected a 2D or 3D mask, got an array of shape {array.shape}. "
            "Save one mask per file (split channels or time points first)."
        )
    if array.dtype.kind not in "biuf":
        raise InputError(f"{where}: expected a numeric or boolean mask, got dtype {array.dtype}.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = "NaN" if np.isnan(array).any() else "infinite"
        raise InputError(
            f"{where}: contains {bad} values; a mask must hold 0/1 or integer label ids. "
            "Replace them (e.g. np.nan_to_num(a, nan=0)) and save the file again."
        )
    if spacing is not None:
        spacing = _check_spacing(spacing, array.ndim, where)
    return LoadedImage(array=array, spacing=spacing, affine=affine, path=p, format=fmt)


def _squeeze_trailing(array: np.ndarray) -> np.ndarray:
    """Drop trailing singleton axes down to 2D (X×Y×Z×1 → 3D; a single slice stored as X×Y×1 → 2D).

    A one-slice volume is scored as a 2D image: in 3D every voxel of it would touch the border and count as
    surface, which is not what a 2D mask means.
    """
    while array.ndim > 2 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


def _check_spacing(spacing, ndim: int, where: str) -> tuple[float, ...]:
    try:
        values = [float(v) for v in np.asarray(spacing, dtype=float).ravel()]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: spacing {spacing!r} is not a list of numbers.") from exc
    if len(values) != ndim:
        raise InputError(
            f"{where}: spacing has {len(values)} values {tuple(values)} but the mask is {ndim}D; store one "
            "spacing per array axis (mm, array axis order) or pass the spacing explicitly."
        )
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(f"{where}: spacing must be positive finite mm per axis, got {tuple(values)}.")
    return tuple(values)


def _read_nifti(p: Path, where: str):
    import nibabel as nib

    try:
        img = nib.load(str(p))
        array = np.asanyarray(img.dataobj)
        zooms = img.header.get_zooms()
        affine = np.asarray(img.affine, dtype=float)
    except Exception as exc:  # nibabel raises many types for bad files (ImageFileError, EOFError, zlib.error…)
        raise InputError(
            f"{where}: cannot read it as NIfTI ({type(exc).__name__}: {exc}). The file is corrupt, truncated or "
            "not NIfTI despite its extension; re-export it (e.g. nibabel.save or SimpleITK.WriteImage)."
        ) from exc
    array = _squeeze_trailing(np.asarray(array))
    # Zooms are stored as float32: show 0.8, not 0.800000011920929.
    spacing = tuple(float(str(np.float32(z))) for z in zooms[: array.ndim])
    return array, spacing, affine


def _read_npz(p: Path, where: str, key: str | None):
    try:
        with np.load(p, allow_pickle=False) as archive:
            data = {k: archive[k] for k in archive.files}
    except Exception as exc:
        raise InputError(
            f"{where}: cannot read it as a NumPy .npz archive ({type(exc).__name__}: {exc}). Re-save it with "
            "np.savez_compressed(path, mask=array, spacing=spacing_mm)."
        ) from exc
    candidates = [k for k in data if k not in _NPZ_META_KEYS]
    if key is not None:
        if key not in data:
            raise InputError(f"{where}: no array named {key!r}; the archive holds {sorted(data)}. Pick one of those.")
        chosen = key
    elif len(candidates) == 1:
        chosen = candidates[0]
    else:
        chosen = next((k for k in NPZ_MASK_KEYS if k in data), None)
        if chosen is None:
            held = sorted(data) or "no arrays"
            raise InputError(
                f"{where}: cannot tell which array is the mask; the archive holds {held}. Store it under 'mask' "
                f"(or one of {list(NPZ_MASK_KEYS)}), or pass key=…."
            )
    spacing = data.get("spacing")
    affine = data.get("affine")
    if affine is not None:
        affine = np.asarray(affine, dtype=float)
        if affine.shape != (4, 4):
            raise InputError(f"{where}: 'affine' must be a 4×4 matrix, got shape {affine.shape}.")
    return data[chosen], spacing, affine


def _read_npy(p: Path, where: str):
    try:
        array = np.load(p, allow_pickle=False)
    except Exception as exc:
        raise InputError(
            f"{where}: cannot read it as a NumPy .npy array ({type(exc).__name__}: {exc}). Re-save it with "
            "np.save(path, array)."
        ) from exc
    return array, None, None


def _read_png(p: Path, where: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as img:
            img.load()
            mode = img.mode
            array = np.array(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(
            f"{where}: cannot read it as PNG ({type(exc).__name__}: {exc}). The file is corrupt or not a PNG; "
            "re-export it."
        ) from exc
    if mode == "1":
        return array.astype(np.uint8), None, None
    if mode == "P":  # palette image: the indices are the label ids
        return array.astype(np.uint8), None, None
    if array.ndim == 3:  # LA, RGB, RGBA: drop alpha; colour must be grey
        colour = array[..., :1] if mode in ("LA", "La") else array[..., :3]
        if colour.shape[-1] == 3 and not (
            np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(colour[..., 0], colour[..., 2])
        ):
            raise InputError(
                f"{where}: is a colour ({mode}) PNG, but a mask must be greyscale or a palette image. Save the "
                "mask as an 8-bit greyscale PNG (0/255 or label ids) or convert colours to ids first."
            )
        array = colour[..., 0]
    values = np.unique(array)
    if np.isin(values, (0, 255)).all() or np.isin(values, (0, 1)).all():
        return (array != 0).astype(np.uint8), None, None
    return array, None, None


def check_same_grid(a: LoadedImage, b: LoadedImage, atol: float = 1e-3) -> None:
    """Raise `InputError` unless `a` and `b` share a shape and (when both have one) affine and spacing."""
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


def save_mask(
    path: str | Path,
    array,
    spacing: Sequence[float] | None = None,
    affine: np.ndarray | None = None,
) -> Path:
    """Write a mask to .nii/.nii.gz, .npz, .npy or .png (atomically: temp file then rename). Returns the path.

    NIfTI: affine defaults to diag(spacing, 1); spacing (mm, array axis order) also sets the header zooms.
    NPZ: stored under 'mask', with 'spacing' and 'affine' when given. PNG: 2D only; a 0/1 mask is written as
    0/255, a label map keeps its ids (8-bit, or 16-bit above 255); PNG carries no spacing.
    """
    p = Path(path).expanduser()
    fmt = detect_format(p, "output")
    arr = np.asarray(array)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if spacing is not None:
        spacing = _check_spacing(spacing, arr.ndim, _label("output", p))

    def write(tmp: str) -> None:
        if fmt == "nifti":
            _write_nifti(tmp, arr, spacing, affine)
        elif fmt == "npz":
            extra = {}
            if spacing is not None:
                extra["spacing"] = np.asarray(spacing, dtype=float)
            if affine is not None:
                extra["affine"] = np.asarray(affine, dtype=float)
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, mask=arr, **extra)
        elif fmt == "npy":
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
        else:
            _write_png(tmp, arr, p)

    atomic_save(p, write)
    return p


def _compact_int(arr: np.ndarray) -> np.ndarray:
    """Smallest common integer dtype for whole-number data (NIfTI readers choke on int64)."""
    if arr.dtype.kind == "f":
        if not np.array_equal(arr, np.round(arr)):
            return arr.astype(np.float32)
    if arr.size == 0:
        return arr.astype(np.uint8)
    lo, hi = int(arr.min()), int(arr.max())
    for dtype in (np.uint8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return arr.astype(dtype)
    return arr.astype(np.int64)


def _write_nifti(tmp: Path, arr: np.ndarray, spacing, affine) -> None:
    import nibabel as nib

    if affine is None:
        affine = np.diag([*(spacing or (1.0,) * arr.ndim), *(1.0,) * (4 - arr.ndim)])
    data = _compact_int(arr)
    img = nib.Nifti1Image(data, np.asarray(affine, dtype=float))
    img.header.set_data_dtype(data.dtype)
    if spacing is not None:
        img.header.set_zooms(tuple(spacing))
    nib.save(img, str(tmp))


def _write_png(tmp: Path, arr: np.ndarray, p: Path) -> None:
    from PIL import Image

    if arr.ndim != 2:
        raise InputError(f"output file {str(p)!r}: PNG holds 2D masks only, got shape {arr.shape}; use .nii.gz.")
    if arr.size and (arr.min() < 0 or not np.array_equal(arr, np.round(arr))):
        raise InputError(f"output file {str(p)!r}: PNG holds non-negative integer ids only.")
    values = np.unique(arr)
    if np.isin(values, (0, 1)).all():
        img = Image.fromarray((arr != 0).astype(np.uint8) * 255)
    elif values.max() <= 255:
        img = Image.fromarray(arr.astype(np.uint8))
    elif values.max() <= 65535:
        img = Image.fromarray(arr.astype(np.uint16))
    else:
        raise InputError(f"output file {str(p)!r}: label ids above 65535 do not fit in a PNG; use .nii.gz.")
    img.save(tmp, format="PNG")

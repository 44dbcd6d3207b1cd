"""Reading and writing masks: NIfTI (.nii, .nii.gz), NumPy (.npz, .npy) and PNG.

Every array comes back in **array axis order** with its spacing (mm per array axis) in the same order:
nibabel's `header.get_zooms()[:ndim]` for NIfTI, an optional `spacing` array inside an .npz, none for .npy
and PNG. Every failure is an `InputError` that names the file and says how to fix it. nibabel and PIL are
imported only by the functions that read or write those formats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmix.atomic import atomic_save
from medmix.data.grids import check_same_grid, onto_reference_grid  # noqa: F401  (re-exported: the io API)
from medmix.errors import InputError
from medmix.user_paths import require_dir, require_file  # noqa: F401  (re-exported)

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


def load_mask(path: str | Path, *, name: str = "mask", key: str | None = None, spacing_hint: str = "",
              ignore_header_spacing: bool = False) -> LoadedImage:
    """Read a mask or label map from .nii/.nii.gz, .npz, .npy or .png.

    name: what the file is ("pred", "gt", …), used in error messages. key: the array to take from an .npz
    (default: the only array, else the first of 'mask', 'seg', 'label', 'arr_0'). PNG: greyscale only; a 0/255
    or 0/1 image becomes a 0/1 mask, a palette or other greyscale image keeps its values as label ids. NaN or
    infinite values are refused, and so is a header spacing that is zero, negative or not finite (NIfTI pixdim,
    an .npz 'spacing'), unless `ignore_header_spacing` (the caller has the spacing from elsewhere; `spacing` is
    then None); spacing_hint ends that refusal (e.g. " or pass --spacing").
    """
    where = _label(name, path)
    p = require_file(path, where, f"a mask file ({_SUPPORTED})")
    fmt = detect_format(p, name)
    if key is not None and fmt != "npz":
        raise InputError(f"{where}: key={key!r} only applies to .npz archives, but this is a {fmt} file.")

    if fmt == "npz":
        array, spacing, affine = _read_npz(p, where, key)
    elif fmt == "nifti":
        array, spacing, affine = _read_nifti(p, where, spacing_hint=spacing_hint,
                                             check_spacing=not ignore_header_spacing)
    else:
        reader = {"npy": _read_npy, "png": _read_png}[fmt]
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
    if ignore_header_spacing:
        spacing = None
    elif spacing is not None:
        spacing = _check_spacing(spacing, array.ndim, where, hint=spacing_hint)
    return LoadedImage(array=array, spacing=spacing, affine=affine, path=p, format=fmt)


def _squeeze_trailing(array: np.ndarray) -> np.ndarray:
    """Drop trailing singleton axes down to 2D (X×Y×Z×1 → 3D; a single slice stored as X×Y×1 → 2D).

    A one-slice volume is scored as a 2D image: in 3D every voxel of it would touch the border and count as
    surface, which is not what a 2D mask means.
    """
    while array.ndim > 2 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


def _check_spacing(spacing, ndim: int, where: str, hint: str = "") -> tuple[float, ...]:
    try:
        values = [float(v) for v in np.asarray(spacing, dtype=float).ravel()]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: spacing {spacing!r} is not a list of numbers.") from exc
    if len(values) != ndim:
        raise InputError(
            f"{where}: spacing has {len(values)} values {tuple(values)} but the mask is {ndim}D; store one "
            "spacing per array axis (mm, array axis order) or pass the spacing explicitly."
        )
    for axis, v in enumerate(values):
        if not (math.isfinite(v) and v > 0):
            raise InputError(f"{where}: spacing {tuple(values)} has {v:g} along array axis {axis}; spacing must be a "
                             f"positive finite number of mm per axis. Fix the stored spacing{hint}.")
    return tuple(values)


def _read_nifti(p: Path, where: str, *, spacing_hint: str = "", check_spacing: bool = True):
    """(array, spacing, affine) of a NIfTI; spacing = header zooms of the array's axes (after dropping trailing
    singleton axes). A zero or non-finite pixdim is refused (naming the axis) unless `check_spacing` is False:
    nibabel would replace a zero by 1 mm without a word, and every distance would be silently wrong."""
    import nibabel as nib

    if check_spacing:
        check_nifti_zooms(p, where, spacing_hint)
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


def check_nifti_zooms(p: Path, where: str, hint: str = "") -> None:
    """Refuse a NIfTI whose stored pixdim is zero or non-finite along an array axis (trailing singleton axes
    aside): nibabel reads a zero as 1 mm without a word, and every distance would be silently wrong."""
    raw = _raw_nifti_dims_and_zooms(Path(p))
    if raw is None:
        return
    shape, zooms = raw
    ndim = len(shape)
    while ndim > 2 and shape[ndim - 1] == 1:
        ndim -= 1
    for axis, z in enumerate(zooms[:ndim]):
        if not (math.isfinite(z) and z != 0):
            raise InputError(
                f"{where}: the header gives spacing {z:g} along array axis {axis} (pixdim[{axis + 1}] = "
                f"{z:g}; pixdim[1:{ndim + 1}] = {', '.join(f'{v:g}' for v in zooms[:ndim])}); spacing must "
                "be a positive number of mm (nibabel would silently read it as 1 mm). Fix the header "
                "(nibabel: img.header.set_zooms(spacing_mm); SimpleITK: img.SetSpacing(spacing_mm)) and save "
                f"the file again{hint}."
            )


def _raw_nifti_dims_and_zooms(p: Path) -> tuple[list[int], list[float]] | None:
    """dim[1:dim[0]+1] and pixdim[1:dim[0]+1] exactly as stored (nibabel's loader replaces zero pixdims by 1);
    None when the header cannot be parsed (nib.load then says why)."""
    try:
        import nibabel as nib
        from nibabel.openers import ImageOpener

        with ImageOpener(str(p)) as handle:
            block = handle.read(540)
        sizes = {int.from_bytes(block[:4], order) for order in ("little", "big")}
        klass = nib.Nifti1Header if 348 in sizes else nib.Nifti2Header if 540 in sizes else None
        if klass is None:
            return None
        header = klass(block[: klass.template_dtype.itemsize], check=False)
        n = int(header["dim"][0])
        if not 1 <= n <= 7:
            return None
        return [int(d) for d in header["dim"][1:n + 1]], [float(z) for z in header["pixdim"][1:n + 1]]
    except Exception:
        return None


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

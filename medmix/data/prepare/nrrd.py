"""A small NRRD reader (.nrrd with attached data, or .nhdr + detached data file), numpy and the standard library.

NRRD lists `sizes` fastest axis first, like MetaImage, so the C-order array has the axes reversed; this reader
transposes them so that `array[i, j, k]` is voxel (i, j, k) of the file, i.e. **nibabel's array order**, with the
spacing per array axis in the same order. `space directions` (one vector per axis, already scaled by the
spacing) and `space origin` give the voxel→world affine, converted to NIfTI's RAS frame from the declared
`space` (left-posterior-superior is negated in x and y, as ITK and 3D Slicer do). A non-spatial axis (direction
`none`, e.g. a vector or list axis) is moved to the end as channels.

Encodings: raw, gzip/gz, bzip2/bz2, ascii/text/txt. Types: every NRRD type name (signed char … double).
Fields `endian`, `line skip`, `byte skip` (−1 = data at the end), `data file` (single detached file) and
`spacings` (when there are no space directions) are honoured; key:=value pairs and comments are ignored.
"""

from __future__ import annotations

import bz2
import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medmix.errors import InputError

_TYPES = {
    "i1": ("signed char", "int8", "int8_t"),
    "u1": ("uchar", "unsigned char", "uint8", "uint8_t"),
    "i2": ("short", "short int", "signed short", "signed short int", "int16", "int16_t"),
    "u2": ("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"),
    "i4": ("int", "signed int", "int32", "int32_t"),
    "u4": ("uint", "unsigned int", "uint32", "uint32_t"),
    "i8": ("longlong", "long long", "long long int", "signed long long", "signed long long int", "int64",
           "int64_t"),
    "u8": ("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"),
    "f4": ("float",),
    "f8": ("double",),
}
NRRD_TYPES = {name: code for code, names in _TYPES.items() for name in names}

#: World frame of `space` → sign flips that take it to RAS.
_SPACE_TO_RAS = {
    "right-anterior-superior": (1, 1, 1), "ras": (1, 1, 1),
    "left-anterior-superior": (-1, 1, 1), "las": (-1, 1, 1),
    "left-posterior-superior": (-1, -1, 1), "lps": (-1, -1, 1),
    "scanner-xyz": (1, 1, 1), "3d-right-handed": (1, 1, 1),
}


@dataclass
class NrrdImage:
    """An NRRD read from disk: array in file-axis order (nibabel's), spacing in mm per spatial axis, RAS affine."""

    array: np.ndarray
    spacing: tuple[float, ...]
    affine: np.ndarray
    path: Path
    header: dict[str, str] = field(default_factory=dict)


def read_nrrd_header(path: str | Path) -> tuple[dict[str, str], int]:
    """Header fields {field: value} (field names lower-case) and the byte offset where attached data starts."""
    p = Path(path)
    fields: dict[str, str] = {}
    with open(p, "rb") as fh:
        magic = fh.readline()
        if not magic.startswith(b"NRRD000"):
            raise InputError(f"NRRD file {str(p)!r}: does not start with 'NRRD000x'; not an NRRD file.")
        offset = len(magic)
        while True:
            raw = fh.readline()
            offset += len(raw)
            if not raw or raw in (b"\n", b"\r\n"):
                break
            line = raw.decode("latin-1").rstrip("\r\n")
            if line.startswith("#") or ":=" in line:
                continue
            key, sep, value = line.partition(": ")
            if not sep:
                raise InputError(f"NRRD file {str(p)!r}: header line {line[:60]!r} is not 'field: value'.")
            fields[key.strip().lower()] = value.strip()
            if offset > 1 << 20:
                raise InputError(f"NRRD file {str(p)!r}: header longer than 1 MiB; corrupt file?")
    return fields, offset


def read_nrrd(path: str | Path) -> NrrdImage:
    """Read an NRRD volume; see the module docstring for axis order and geometry."""
    p = Path(path)
    where = f"NRRD file {str(p)!r}"
    if not p.is_file():
        raise InputError(f"{where}: no such file.")
    h, data_offset = read_nrrd_header(p)
    try:
        ndim = int(h["dimension"])
        sizes = [int(v) for v in h["sizes"].split()]
        type_name = h["type"].lower()
        encoding = h.get("encoding", "raw").lower()
    except KeyError as exc:
        raise InputError(f"{where}: required field {exc.args[0]!r} is missing.") from None
    except ValueError as exc:
        raise InputError(f"{where}: dimension/sizes are not integers ({exc}).") from None
    if len(sizes) != ndim:
        raise InputError(f"{where}: sizes {sizes} do not match dimension {ndim}.")
    if type_name not in NRRD_TYPES:
        raise InputError(f"{where}: type {type_name!r} is not supported (block types cannot be read).")
    dtype = np.dtype(NRRD_TYPES[type_name])
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">" if h.get("endian", "little").lower() == "big" else "<")
    count = int(np.prod(sizes))

    data = _read_bytes(p, h, data_offset, where)
    if encoding in ("raw",):
        payload = data
    elif encoding in ("gzip", "gz"):
        try:
            payload = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{where}: gzip data does not decompress ({exc}).") from None
    elif encoding in ("bzip2", "bz2"):
        try:
            payload = bz2.decompress(data)
        except (OSError, ValueError) as exc:
            raise InputError(f"{where}: bzip2 data does not decompress ({exc}).") from None
    elif encoding in ("ascii", "text", "txt"):
        payload = None
    else:
        raise InputError(f"{where}: encoding {encoding!r} is not supported (raw, gzip, bzip2, ascii).")

    byte_skip = int(h.get("byte skip", "0"))
    if payload is None:
        flat = np.array(data.decode("latin-1").split(), dtype=dtype.newbyteorder("="))[:count]
    else:
        nbytes = count * dtype.itemsize
        payload = payload[len(payload) - nbytes:] if byte_skip == -1 else payload[byte_skip:]
        if len(payload) < nbytes:
            raise InputError(f"{where}: data holds {len(payload)} bytes, sizes {sizes} of {type_name} need {nbytes}; "
                             "the file is truncated.")
        flat = np.frombuffer(payload, dtype=dtype, count=count)
    if flat.size < count:
        raise InputError(f"{where}: data holds {flat.size} values, sizes {sizes} need {count}.")
    array = flat.astype(dtype.newbyteorder("="), copy=False).reshape(sizes[::-1]).transpose(range(ndim)[::-1])

    directions = _directions(h, ndim, where)
    spatial = [i for i, d in enumerate(directions) if d is not None] if directions else list(range(min(ndim, 3)))
    others = [i for i in range(ndim) if i not in spatial]
    if others:
        array = array.transpose(spatial + others)
    affine = np.eye(4)
    if directions:
        vectors = np.array([directions[i] for i in spatial], dtype=float).T  # columns = axis vectors
        dim = vectors.shape[0]
        affine[:dim, : len(spatial)] = vectors[:, : len(spatial)]
        origin = _vector(h.get("space origin"), where) if "space origin" in h else [0.0] * dim
        affine[:dim, 3] = origin[:dim]
        space = h.get("space", "right-anterior-superior").lower()
        flips = _SPACE_TO_RAS.get(space, (1, 1, 1))
        affine = np.diag([*flips, 1.0]) @ affine
        spacing = tuple(float(np.linalg.norm(vectors[:, i])) for i in range(len(spatial)))
        _check_spacing(spacing, spatial, where, "space directions", h.get("space directions", ""))
    else:
        spacings = h.get("spacings")
        try:
            values = [float(v) for v in spacings.split()] if spacings else [1.0] * ndim
        except ValueError:
            raise InputError(f"{where}: spacings {spacings!r} is not a list of numbers.") from None
        if len(values) != ndim:
            raise InputError(f"{where}: spacings {spacings!r} gives {len(values)} values for {ndim} axes.")
        # NaN marks an axis without spacing: fine on a non-spatial axis, refused on a spatial one.
        _check_spacing(tuple(values[i] for i in spatial), spatial, where, "spacings", spacings)
        spacing = tuple(abs(values[i]) for i in spatial)  # a negative spacing flips the axis (kept in the affine)
        for k, i in enumerate(spatial[:3]):
            affine[k, k] = values[i]
    return NrrdImage(array=array, spacing=spacing, affine=affine, path=p, header=h)


def _check_spacing(spacing, axes, where: str, field: str, text: str) -> None:
    """Refuse a spatial axis whose spacing is zero or not finite (it would reach the metrics as 0 or, before,
    silently as 1 mm)."""
    for axis, value in zip(axes, spacing):
        if not (np.isfinite(value) and value != 0):
            raise InputError(f"{where}: '{field}: {text}' gives spacing {value:g} along axis {axis}; a spatial axis "
                             "needs a non-zero finite spacing in mm. Fix the header (e.g. re-save it with 3D Slicer "
                             "or SimpleITK with the right spacing), then convert again.")


def _read_bytes(p: Path, h: dict[str, str], data_offset: int, where: str) -> bytes:
    detached = h.get("data file") or h.get("datafile")
    line_skip = int(h.get("line skip", h.get("lineskip", "0")))
    if detached:
        if detached.upper().startswith("LIST") or len(detached.split()) > 1:
            raise InputError(f"{where}: data split over several files is not supported; convert it first (e.g. "
                             "SimpleITK: sitk.WriteImage(sitk.ReadImage(path), 'x.nii.gz')).")
        target = p.parent / detached
        if not target.is_file():
            raise InputError(f"{where}: its detached data file {str(target)!r} does not exist.")
        data = target.read_bytes()
    else:
        with open(p, "rb") as fh:
            fh.seek(data_offset)
            data = fh.read()
    for _ in range(line_skip):
        cut = data.find(b"\n")
        data = data[cut + 1:] if cut >= 0 else b""
    return data


def _directions(h: dict[str, str], ndim: int, where: str) -> list | None:
    value = h.get("space directions")
    if value is None:
        return None
    out: list = []
    for token in re.findall(r"\([^)]*\)|none", value, flags=re.IGNORECASE):
        if token.lower() == "none":
            out.append(None)
        else:
            out.append(_vector(token, where))
    if len(out) != ndim:
        raise InputError(f"{where}: space directions {value!r} give {len(out)} vectors for {ndim} axes.")
    return out


def _vector(text: str, where: str) -> list[float]:
    try:
        return [float(v) for v in text.strip().strip("()").split(",")]
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a vector like (1,0,0).") from None

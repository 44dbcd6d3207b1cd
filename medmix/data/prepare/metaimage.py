"""A small MetaImage reader (ITK's .mhd + .raw pair, or single-file .mha), numpy only.

Axis order. MetaImage stores voxels x-fastest: `DimSize = X Y Z` and the raw bytes run along x first. Read as a
C-order numpy array they therefore have shape (Z, Y, X) (what SimpleITK's `GetArrayFromImage` returns). This
reader transposes to (X, Y, Z) so that arrays come out in **nibabel's array order**, and `ElementSpacing`
(given as x y z) is then the spacing per array axis in the same order: voxel (x, y, z) of the file is
`array[x, y, z]`. Extra channels (`ElementNumberOfChannels`) become a trailing axis.

Geometry. `TransformMatrix` lists the direction cosines of axis 0, then axis 1, … (ITK writes the direction matrix
column by column), `Offset` is the world position of voxel 0, both in ITK's LPS world frame. The returned `affine`
is the 4×4 voxel→world matrix in NIfTI's RAS frame (x and y negated), i.e. what nibabel reports after
`SimpleITK.WriteImage(image, "x.nii.gz")`.

Supported header keys: NDims, DimSize, ElementType (MET_CHAR … MET_DOUBLE), ElementNumberOfChannels,
ElementSpacing (or ElementSize), Offset (Position, Origin), TransformMatrix (Rotation, Orientation),
BinaryData, BinaryDataByteOrderMSB (ElementByteOrderMSB, ByteOrderMSB), CompressedData (zlib/deflate via the
standard library), CompressedDataSize, HeaderSize (−1 = data at the end of the file), ElementDataFile (LOCAL, a
file name, `LIST` of slice files, or a printf pattern `name%03d.raw first last step`). Anything else is ignored
(AnatomicalOrientation is informative only, as in ITK).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medmix.errors import InputError

#: MetaIO element types → numpy dtypes (MetaIO's MET_LONG/MET_ULONG are 4 bytes; 64-bit is MET_LONG_LONG).
ELEMENT_TYPES = {
    "MET_CHAR": "i1", "MET_UCHAR": "u1", "MET_SHORT": "i2", "MET_USHORT": "u2", "MET_INT": "i4", "MET_UINT": "u4",
    "MET_LONG": "i4", "MET_ULONG": "u4", "MET_LONG_LONG": "i8", "MET_ULONG_LONG": "u8", "MET_FLOAT": "f4",
    "MET_DOUBLE": "f8",
}
_ALIASES = {
    "elementsize": "elementspacing", "position": "offset", "origin": "offset", "rotation": "transformmatrix",
    "orientation": "transformmatrix", "elementbyteordermsb": "binarydatabyteordermsb",
    "byteordermsb": "binarydatabyteordermsb",
}
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class MetaImage:
    """A MetaImage read from disk.

    array: voxels in (x, y, z[, channel]) order (nibabel's order); spacing: mm per spatial array axis (x, y, z);
    affine: 4×4 voxel→world matrix in RAS (NIfTI convention); header: the raw key/value strings.
    """

    array: np.ndarray
    spacing: tuple[float, ...]
    affine: np.ndarray
    path: Path
    header: dict[str, str] = field(default_factory=dict)


def read_metaimage_header(path: str | Path) -> tuple[dict[str, str], int]:
    """The header as {key: value} (keys as written) and the byte offset just after it (where LOCAL data starts)."""
    p = Path(path)
    header: dict[str, str] = {}
    offset = 0
    with open(p, "rb") as fh:
        while True:
            raw = fh.readline()
            if not raw:
                break
            offset += len(raw)
            line = raw.decode("latin-1").strip()
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise InputError(f"MetaImage file {str(p)!r}: header line {line[:60]!r} is not 'Key = Value'; the file "
                                 "is not a MetaImage header or it is corrupt.")
            header[key.strip()] = value.strip()
            if key.strip().lower() == "elementdatafile":
                break  # by definition the last header key; binary data may follow (.mha)
            if offset > 1 << 20:
                raise InputError(f"MetaImage file {str(p)!r}: no ElementDataFile key in the first MiB.")
    return header, offset


def read_metaimage(path: str | Path) -> MetaImage:
    """Read a .mhd (with its data file) or .mha. See the module docstring for axis order and geometry."""
    p = Path(path)
    where = f"MetaImage file {str(p)!r}"
    if not p.is_file():
        raise InputError(f"{where}: no such file.")
    header, data_offset = read_metaimage_header(p)
    h = {_ALIASES.get(k.lower(), k.lower()): v for k, v in header.items()}

    def need(key: str) -> str:
        if key not in h:
            raise InputError(f"{where}: header has no {key!r} key; cannot read the voxels.")
        return h[key]

    try:
        ndims = int(need("ndims"))
        dims = [int(v) for v in need("dimsize").split()]
    except ValueError as exc:
        raise InputError(f"{where}: NDims/DimSize are not integers ({exc}).") from None
    if len(dims) != ndims or ndims < 2 or min(dims) < 1:
        raise InputError(f"{where}: DimSize {dims} does not match NDims = {ndims}.")
    etype = need("elementtype").upper()
    if etype not in ELEMENT_TYPES:
        raise InputError(f"{where}: ElementType {etype!r} is not supported; expected one of {sorted(ELEMENT_TYPES)}.")
    big_endian = _flag(h.get("binarydatabyteordermsb", "False"))
    dtype = np.dtype(ELEMENT_TYPES[etype]).newbyteorder(">" if big_endian else "<")
    channels = int(h.get("elementnumberofchannels", "1"))
    count = int(np.prod(dims)) * channels
    spacing = _floats(h.get("elementspacing"), ndims, 1.0, where, "ElementSpacing")
    for axis, value in enumerate(spacing):
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"{where}: ElementSpacing = {h.get('elementspacing')!r} gives {value:g} along axis "
                             f"{axis}; spacing must be a positive finite number of mm per axis. Fix the header "
                             "(ElementSpacing x y z), then convert again.")
    offset = _floats(h.get("offset"), ndims, 0.0, where, "Offset")
    matrix = _floats(h.get("transformmatrix"), ndims * ndims, None, where, "TransformMatrix")

    raw = _read_data(p, h, data_offset, count * dtype.itemsize, where)
    binary = _flag(h.get("binarydata", "True"))
    if binary:
        if len(raw) < count * dtype.itemsize:
            raise InputError(f"{where}: the data holds {len(raw)} bytes but DimSize {dims} × {channels} channel(s) of "
                             f"{etype} needs {count * dtype.itemsize}; the data file is truncated or the header wrong.")
        flat = np.frombuffer(raw, dtype=dtype, count=count)
    else:
        flat = np.array(raw.decode("latin-1").split(), dtype=dtype.newbyteorder("="))
        if flat.size < count:
            raise InputError(f"{where}: ASCII data holds {flat.size} values, DimSize needs {count}.")
        flat = flat[:count]
    flat = flat.astype(dtype.newbyteorder("="), copy=False)

    # x runs fastest on disk: C order sees (z, y, x[, c]); transpose the spatial axes to (x, y, z[, c]).
    shape = dims[::-1] + ([channels] if channels > 1 else [])
    array = flat.reshape(shape)
    order = list(range(ndims))[::-1] + ([ndims] if channels > 1 else [])
    array = array.transpose(order)

    direction = np.eye(ndims) if matrix is None else np.asarray(matrix, dtype=float).reshape(ndims, ndims).T
    affine = np.eye(4)
    n3 = min(ndims, 3)
    affine[:n3, :n3] = (direction @ np.diag(spacing))[:n3, :n3]
    affine[:n3, 3] = offset[:n3]
    affine = _LPS_TO_RAS @ affine
    return MetaImage(array=array, spacing=tuple(float(s) for s in spacing), affine=affine, path=p, header=header)


def _flag(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def _floats(value: str | None, n: int, default: float | None, where: str, key: str):
    if value is None:
        return None if default is None else [default] * n
    try:
        values = [float(v) for v in value.split()]
    except ValueError:
        raise InputError(f"{where}: {key} = {value!r} is not a list of numbers.") from None
    if len(values) < n:
        raise InputError(f"{where}: {key} has {len(values)} values, expected {n}.")
    return values[:n]


def _read_data(p: Path, h: dict[str, str], data_offset: int, nbytes: int, where: str) -> bytes:
    spec = h.get("elementdatafile")
    if spec is None:
        raise InputError(f"{where}: header has no ElementDataFile key.")
    compressed = _flag(h.get("compresseddata", "False"))
    header_size = int(h.get("headersize", "0"))
    if spec.upper() == "LOCAL":
        with open(p, "rb") as fh:
            fh.seek(data_offset)
            data = fh.read()
        return _payload(data, compressed, h, header_size, nbytes, where)
    if spec.upper().startswith("LIST"):
        files = _list_files(p, data_offset)
    elif "%" in spec:
        files = _pattern_files(p, spec, where)
    else:
        files = [p.parent / spec]
    if len(files) > 1 and compressed:
        raise InputError(f"{where}: compressed data split over several files is not supported; convert it with "
                         "SimpleITK (sitk.WriteImage(sitk.ReadImage(path), 'x.nii.gz')).")
    chunks = []
    for f in files:
        if not f.is_file():
            raise InputError(f"{where}: its data file {str(f)!r} (ElementDataFile) does not exist; keep the .mhd and "
                             "its .raw/.zraw side by side.")
        chunks.append(f.read_bytes())
    if len(files) == 1:
        return _payload(chunks[0], compressed, h, header_size, nbytes, where)
    return b"".join(chunks)


def _payload(data: bytes, compressed: bool, h: dict[str, str], header_size: int, nbytes: int, where: str) -> bytes:
    if compressed:
        size = int(h.get("compresseddatasize", "0") or 0)
        blob = data[:size] if size > 0 else data
        try:
            # wbits 47: accept a zlib or a gzip stream, as MetaIO's reader does.
            return zlib.decompressobj(47).decompress(blob)
        except zlib.error as exc:
            raise InputError(f"{where}: CompressedData = True but the data does not inflate with zlib ({exc}); "
                             "the file is corrupt or uses another compression.") from None
    if header_size == -1:
        return data[len(data) - nbytes:] if len(data) >= nbytes else data
    return data[header_size:]


def _list_files(p: Path, data_offset: int) -> list[Path]:
    with open(p, "rb") as fh:
        fh.seek(data_offset)
        names = [line.strip() for line in fh.read().decode("latin-1").splitlines() if line.strip()]
    return [p.parent / n for n in names]


def _pattern_files(p: Path, spec: str, where: str) -> list[Path]:
    parts = spec.split()
    try:
        pattern, first, last = parts[0], int(parts[1]), int(parts[2])
        step = int(parts[3]) if len(parts) > 3 else 1
    except (IndexError, ValueError):
        raise InputError(f"{where}: ElementDataFile {spec!r} is not 'pattern first last [step]'.") from None
    if not re.search(r"%\d*d", pattern):
        raise InputError(f"{where}: ElementDataFile pattern {pattern!r} has no %d field.")
    return [p.parent / (pattern % i) for i in range(first, last + 1, step)]

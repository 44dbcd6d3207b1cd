"""The harness layout every prepared dataset is converted into (what `medmix data prepare` writes).

    ROOT/<dataset>/dataset.json          metadata (below)
    ROOT/<dataset>/images/<case>.nii.gz  image: 3D volume, 2D image (RGB as a trailing axis of 3), or 3D volume
                                         with named channels as a trailing axis (x, y, z, C)
    ROOT/<dataset>/labels/<case>.nii.gz  integer label map on the image grid (no channel axis)

dataset.json: {"name", "modality", "channels": "grey"|"rgb"|"multi", "labels": {"<id>": "<name>", ...},
"cases": ["<case>", ...] (sorted), "source": "<release the files came from>", "prepared_by": "medmix <version>",
"format_version": 1}; with "channels": "multi" also "channel_names": ["<name of channel 0>", ...] (e.g. BraTS
["flair", "t1", "t1ce", "t2"]), one per entry of the image's last axis. Case ids are file stems without
`.nii.gz`; the calibration/test split is taken on their sorted order, so converters keep the official case
identifiers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from medmix.atomic import atomic_save, atomic_write_text
from medmix.errors import InputError

FORMAT_VERSION = 1


def dataset_dir(root: str | Path, dataset: str) -> Path:
    return Path(root).expanduser() / dataset


def write_case(root: str | Path, dataset: str, case_id: str, image: np.ndarray, label: np.ndarray,
               affine: np.ndarray | None = None, spacing: tuple[float, ...] | None = None) -> None:
    """Write one case atomically (image as float32 or its integer type, label as the smallest integer type)."""
    import nibabel as nib

    if "/" in case_id or case_id.startswith("."):
        raise InputError(f"case id {case_id!r} must be a plain file stem (no '/', no leading '.').")
    spatial = label.shape
    if image.shape[: len(spatial)] != spatial:
        raise InputError(f"case {case_id!r}: image shape {image.shape} does not match label shape {spatial}.")
    if affine is None:
        affine = np.diag([*(spacing or (1.0,) * 3)[:3], 1.0]) if len(spatial) == 3 else np.eye(4)
        if len(spatial) == 2 and spacing is not None:
            affine = np.diag([spacing[0], spacing[1], 1.0, 1.0])
    base = dataset_dir(root, dataset)
    for sub, array in (("images", image), ("labels", _label_dtype(label))):
        folder = base / sub
        folder.mkdir(parents=True, exist_ok=True)
        data = array if array.dtype.kind in "iub" else array.astype(np.float32)
        img = nib.Nifti1Image(data, affine)
        atomic_save(folder / f"{case_id}.nii.gz", lambda p: nib.save(img, p))


def write_dataset_json(root: str | Path, dataset: str, *, modality: str, labels: dict[int, str], source: str,
                       channels: str = "grey", extra: dict | None = None) -> Path:
    """Write dataset.json listing every case present under images/ (sorted)."""
    from medmix import __version__

    base = dataset_dir(root, dataset)
    cases = sorted(p.name[: -len(".nii.gz")] for p in (base / "images").glob("*.nii.gz"))
    if not cases:
        raise InputError(f"dataset {dataset!r} under {base}: no images were written; nothing to describe.")
    meta = {
        "name": dataset, "modality": modality, "channels": channels,
        "labels": {str(k): v for k, v in sorted(labels.items())}, "cases": cases, "source": source,
        "prepared_by": f"medmix {__version__}", "format_version": FORMAT_VERSION, **(extra or {}),
    }
    path = base / "dataset.json"
    atomic_write_text(path, json.dumps(meta, indent=2))
    return path


def read_dataset_json(root: str | Path, dataset: str) -> dict:
    path = dataset_dir(root, dataset) / "dataset.json"
    if not path.is_file():
        raise InputError(f"dataset {dataset!r}: {path} not found; run `medmix data prepare {dataset} --src … "
                         f"--dst {root}` first.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); re-run `medmix data prepare`.") from exc


def _label_dtype(label: np.ndarray) -> np.ndarray:
    if label.dtype.kind == "f":
        if not np.array_equal(label, np.round(label)):
            raise InputError("label map holds non-integer values.")
        label = label.astype(np.int64)
    top = int(label.max()) if label.size else 0
    low = int(label.min()) if label.size else 0
    if low < 0:
        raise InputError(f"label map holds negative ids (min {low}).")
    return label.astype(np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int32)

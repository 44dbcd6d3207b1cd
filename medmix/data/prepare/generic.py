"""Generic paired volumes: images/<case>.<ext> + labels/<case>.<ext>, matched by file stem.

For datasets without one official layout (the rat organ and rat brain sets) and for any user dataset. Formats:
NIfTI, MGH/MGZ, MetaImage (.mhd/.mha) and NRRD. An nnU-Net channel suffix on the image (`case_0000.nii.gz`) is
dropped when matching. Label names come from `labels=` ({1: "liver"} or "1=liver,2=kidney"); without it each id
seen becomes `label_<id>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from medmix.data.prepare.core import (CaseSource, Job, LoadedCase, PrepareReport, ProgressFn, converter, load_pair,
                                      natural_key, parse_int_list, parse_label_names)
from medmix.data.prepare.readers import strip_suffix, volume_suffix
from medmix.errors import InputError

LAYOUT = """
DATASET/                    (--src)
├── images/                 (or imagesTr/; name it with images_dir=)
│   ├── case01.nii.gz       also .nii, .mgz, .mhd/.mha, .nrrd; 'case01_0000.nii.gz' matches too
│   └── …
└── labels/                 (or labelsTr/; labels_dir=)
    ├── case01.nii.gz       integer label map on the image grid
    └── …
Options: labels='1=name,2=name', modality=, dataset_id=, zero_pad=true (pad numbers in case ids), keep_labels=1,2
"""


def _zero_pad(ids: Sequence[str]) -> dict[str, str]:
    """Pad every digit run to the widest seen at that position so string order equals numeric order."""
    widths: dict[int, int] = {}
    parts = {i: re.split(r"(\d+)", i) for i in ids}
    for tokens in parts.values():
        for k, t in enumerate(tokens):
            if t.isdigit():
                widths[k] = max(widths.get(k, 0), len(t))
    return {i: "".join(t.zfill(widths[k]) if t.isdigit() else t for k, t in enumerate(tokens))
            for i, tokens in parts.items()}


def _load(image: Path, label: Path, keep: Sequence[int] | None) -> LoadedCase:
    case = load_pair(image, label)
    if keep is not None:
        case.label = np.where(np.isin(case.label, list(keep)), case.label, 0)
    return case


def _prepare_pairs(name: str, src: Path, dst: Path, *, overwrite: bool, progress: ProgressFn | None,
                   labels: Mapping[int, str] | str | None, modality: str, dataset_id: str | None, images_dir: str,
                   labels_dir: str, zero_pad: bool, keep_labels: Sequence[int] | None) -> PrepareReport:
    names = parse_label_names(labels)
    keep = parse_int_list(keep_labels, "keep_labels")
    job = Job(name, src, dst, dataset_id=dataset_id)

    def folder(preferred: str, fallback: str) -> Path:
        for cand in (job.src / preferred, job.src / fallback):
            if cand.is_dir():
                return cand
        raise job.layout_error(f"no {preferred}/ folder in {str(job.src)!r}")

    def listing(path: Path, strip_channel: bool) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for p in sorted(path.iterdir()):
            if p.name.startswith(".") or not p.is_file() or volume_suffix(p) is None or p.suffix == ".raw":
                continue
            stem = strip_suffix(p.name)
            if strip_channel:
                stem = re.sub(r"_0000$", "", stem)
            if stem in out:
                raise InputError(f"{path}: two files for case {stem!r} ({out[stem].name}, {p.name}); keep one.")
            out[stem] = p
        return out

    images = listing(folder(images_dir, "imagesTr"), strip_channel=True)
    label_files = listing(folder(labels_dir, "labelsTr"), strip_channel=False)
    pairs = job.pair(images, label_files, image_what=f"files in {images_dir}/", label_what=f"files in {labels_dir}/")
    rename = _zero_pad([p[0] for p in pairs]) if zero_pad else {p[0]: p[0] for p in pairs}
    cases = [CaseSource(rename[cid], {"image": img, "label": lab}, lambda img=img, lab=lab: _load(img, lab, keep),
                        original_id=cid if rename[cid] != cid else None)
             for cid, img, lab in sorted(pairs, key=lambda p: natural_key(p[0]))]
    table = dict(names or {})
    if keep is not None:
        table = {k: table.get(k, f"label_{k}") for k in keep}
    notes = ["generic paired-volume conversion: arrays and affines kept as stored (MetaImage/NRRD transposed to "
             "nibabel order, LPS → RAS)"]
    if names is None:
        notes.append("no label names were given (labels=); ids are named label_<id>")
    return job.run(cases, labels=table, modality=modality, overwrite=overwrite, progress=progress, notes=notes,
                   discover_labels=names is None,
                   options={"labels": {str(k): v for k, v in (names or {}).items()}, "modality": modality,
                            "zero_pad": zero_pad, "keep_labels": keep})


@converter("generic_pairs", title="Generic paired volumes", modality="(given by modality=)", layout=LAYOUT,
           url="(your own data: any folder with images/ and labels/)", official=False)
def prepare_generic_pairs(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                          labels: Mapping[int, str] | str | None = None, modality: str = "unspecified",
                          dataset_id: str | None = None, images_dir: str = "images", labels_dir: str = "labels",
                          zero_pad: bool = False, keep_labels: Sequence[int] | None = None) -> PrepareReport:
    """Any dataset as images/<case> + labels/<case> volumes (NIfTI, MGZ, MetaImage, NRRD) matched by stem."""
    return _prepare_pairs("generic_pairs", src, dst, overwrite=overwrite, progress=progress, labels=labels,
                          modality=modality, dataset_id=dataset_id, images_dir=images_dir, labels_dir=labels_dir,
                          zero_pad=zero_pad, keep_labels=keep_labels)


@converter("rat", title="Rat organ / rat brain sets (generic paired volumes)", modality="(given by modality=)",
           layout=LAYOUT, url="(no single official release layout: arrange the files as shown)", official=False)
def prepare_rat(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                labels: Mapping[int, str] | str | None = None, modality: str = "unspecified",
                dataset_id: str | None = None, images_dir: str = "images", labels_dir: str = "labels",
                zero_pad: bool = False, keep_labels: Sequence[int] | None = None) -> PrepareReport:
    """Rat organ and rat brain sets as images/ + labels/ pairs; name them with dataset_id= (e.g. rat_brain)."""
    return _prepare_pairs("rat", src, dst, overwrite=overwrite, progress=progress, labels=labels, modality=modality,
                          dataset_id=dataset_id, images_dir=images_dir, labels_dir=labels_dir, zero_pad=zero_pad,
                          keep_labels=keep_labels)

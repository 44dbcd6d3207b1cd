"""DoFE four-domain fundus crops (Wang et al., "Domain-oriented Feature Embedding", IEEE TMI 2020): optic disc/cup.

The release (`Fundus/`) holds optic-disc-centred ROI crops of four public sets as
`Domain{k}/{train,test}/ROIs/{image,mask}/<name>.png`, a mask named as its image: Domain1 = Drishti-GS,
Domain2 = RIM-ONE-r3, Domain3 = REFUGE training, Domain4 = REFUGE validation (inferred from the DoFE paper and the
file-name prefixes its loader expects: gd/nd, G/N/S, g/n, V). MedSAMix's fundus tasks use it as follows (read in
its code): images read with cv2 as RGB uint8; masks read with cv2 as RGB, red channel only: cup = red == 0, disc =
red in {0, 128} (exact equality); calibration = a domain's train folder, test = its test folder; one jittered box
per image, drawn from one random stream in sorted file-name order within a folder.

Written as ONE dataset (`dofe_fundus`): images (H, W, 3) uint8 RGB read with PIL `convert("RGB")` (for 8-bit PNGs
the same pixels as cv2's `imread` + BGR→RGB: grey, palette and alpha PNGs included; 16-bit PNGs are refused, as
cv2 would rescale them); label map uint8 2 = cup (red 0), 1 = disc rim (red 128), 0 otherwise, so disc = labels
[1, 2] and cup = [2] (the `refuge` converter's convention). Case ids `domain{k}_{train|test}_<stem>`; dataset.json
`splits` gives each domain's calibration (train) and test ids, `original_files` each case's path under Fundus/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from medmix.data import layout
from medmix.data.prepare.core import CaseSource, Job, LoadedCase, PrepareReport, ProgressFn, converter
from medmix.errors import InputError

DOFE_LABELS = {1: "optic disc rim (disc = labels 1+2)", 2: "optic cup"}
#: Red-channel values of the masks: cup, disc outside the cup, background (anything else is background too).
CUP_RED, RIM_RED, BACKGROUND_RED = 0, 128, 255
#: Release folder → split name in dataset.json `splits` (MedSAMix searches on train, scores on test).
SPLIT_NAMES = {"train": "calibration", "test": "test"}
#: PIL modes of 8-bit PNGs, for which `convert("RGB")` gives cv2's pixels.
_EIGHT_BIT_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA"}
_DOMAIN_RE = re.compile(r"domain(\d+)", re.IGNORECASE)
_CASE_RE = re.compile(r"domain(\d+)_(train|test)_(.+)")

LAYOUT = """
Fundus/                           (--src: this folder or its parent)
├── Domain1/                      Drishti-GS
│   ├── train/ROIs/
│   │   ├── image/gdrishtiGS_002.png, …   RGB crops
│   │   └── mask/gdrishtiGS_002.png, …    same names; red channel 0 = cup, 128 = disc rim, 255 = background
│   └── test/ROIs/image/…, test/ROIs/mask/…
├── Domain2/ (RIM-ONE-r3)   Domain3/ (REFUGE train)   Domain4/ (REFUGE validation): the same tree
(any subset of the domains and splits; case ids domain<k>_<train|test>_<file stem>)
"""


def read_png_rgb(path: Path, what: str = "image") -> np.ndarray:
    """(H, W, 3) uint8 RGB of an 8-bit PNG: PIL `convert("RGB")`, equal to cv2 `imread` + BGR→RGB for such files
    (grey replicated, palette expanded, alpha dropped). Unreadable or 16-bit files are an InputError."""
    from PIL import Image, UnidentifiedImageError

    def unreadable(exc: Exception) -> InputError:
        return InputError(f"{str(path)!r}: cannot read the {what} ({type(exc).__name__}: {exc}).")

    try:
        img = Image.open(path)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise unreadable(exc) from None
    with img:
        if img.mode not in _EIGHT_BIT_MODES:
            raise InputError(f"{str(path)!r}: PNG mode {img.mode!r} is not 8-bit; MedSAMix reads it with cv2, which "
                             "rescales 16-bit data; convert the file to 8-bit first.")
        try:
            return np.asarray(img.convert("RGB"))
        except (OSError, ValueError) as exc:  # truncated or corrupt pixel data
            raise unreadable(exc) from None


def disc_cup_from_red(red: np.ndarray) -> np.ndarray:
    """(H, W) uint8 label map from a mask's red channel: 2 where red == 0 (cup), 1 where red == 128 (disc rim),
    0 elsewhere (exact equality, as MedSAMix: cup = {0}, disc = {0, 128})."""
    label = np.zeros(red.shape, dtype=np.uint8)
    label[red == RIM_RED] = 1
    label[red == CUP_RED] = 2
    return label


def _load(image: Path, mask: Path) -> LoadedCase:
    rgb = read_png_rgb(image, "image")
    red = read_png_rgb(mask, "mask")[..., 0]
    if rgb.shape[:2] != red.shape:
        raise InputError(f"image {image.name} is {rgb.shape[0]}×{rgb.shape[1]} pixels but mask {mask.name} is "
                         f"{red.shape[0]}×{red.shape[1]}.")
    label = disc_cup_from_red(red)
    notes = []
    odd = ~np.isin(red, (CUP_RED, RIM_RED, BACKGROUND_RED))
    if odd.any():
        values = np.unique(red[odd])
        shown = ", ".join(str(int(v)) for v in values[:5]) + (", …" if values.size > 5 else "")
        notes.append(f"mask {mask.name}: {int(odd.sum())} pixels have red values other than 0/128/255 ({shown}); "
                     "they are background (MedSAMix tests exact equality)")
    if not label.any():
        notes.append(f"mask {mask.name} has no disc pixel (red 0 or 128): written, but MedSAMix's loader would "
                     "fail on it (no box to draw)")
    elif label.all():
        notes.append(f"mask {mask.name} has no background pixel: check that it is not inverted")
    return LoadedCase(image=rgb, label=label, affine=np.eye(4), notes=notes)


def dofe_splits(case_ids: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """{"domain<k>": {"calibration": [train ids], "test": [test ids]}} for the domains present, ids sorted."""
    out: dict[int, dict[str, list[str]]] = {}
    for cid in case_ids:
        m = _CASE_RE.fullmatch(cid)
        if m is None:
            continue
        out.setdefault(int(m.group(1)), {"calibration": [], "test": []})[SPLIT_NAMES[m.group(2)]].append(cid)
    return {f"domain{k}": {s: sorted(v) for s, v in out[k].items()} for k in sorted(out)}


def _previous_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}


@converter("dofe_fundus", title="DoFE four-domain fundus optic disc/cup crops", modality="fundus photography",
           layout=LAYOUT, url="https://github.com/emma-sjwang/Dofe (Fundus.zip: the Google Drive link in its README)")
def prepare_dofe_fundus(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                        ) -> PrepareReport:
    """DoFE fundus crops, 4 domains: RGB (H, W, 3); labels 1 rim, 2 cup (disc = [1, 2]); ids domain1_test_…"""
    job = Job("dofe_fundus", src, dst)
    found: dict[str, dict[str, Path]] = {"image": {}, "mask": {}}
    release_path: dict[str, str] = {}
    folder_of: dict[str, tuple[str, str]] = {}
    for path in job.files():
        if path.suffix.lower() != ".png":
            continue
        # Absolute parts, so that --src may be Fundus/, its parent or any folder above.
        parts = path.absolute().parts
        if len(parts) < 5:
            continue
        domain, split, rois, kind, name = parts[-5:]
        m = _DOMAIN_RE.fullmatch(domain)
        if m is None or split.lower() not in SPLIT_NAMES or rois.lower() != "rois" or kind.lower() not in found:
            continue
        cid = f"domain{int(m.group(1))}_{split.lower()}_{path.stem}"
        bucket = found[kind.lower()]
        if cid in bucket:
            raise job.layout_error(f"two copies of {'/'.join(parts[-5:])}: {bucket[cid]} and {path}; point --src at "
                                   "one copy of the Fundus folder")
        bucket[cid] = path
        if kind.lower() == "image":
            release_path[cid] = "/".join(parts[-5:])
            folder_of[cid] = (f"domain{int(m.group(1))}", split.lower())
    if not found["image"]:
        raise job.layout_error(f"found no Domain*/{{train,test}}/ROIs/image/*.png under {str(job.src)!r}")
    pairs = job.pair(found["image"], found["mask"], image_what="ROIs/image PNGs", label_what="ROIs/mask PNGs")
    cases = [CaseSource(cid, {"image": img, "label": mask}, lambda img=img, mask=mask: _load(img, mask))
             for cid, img, mask in pairs]

    # MedSAMix draws the box jitter in sorted file-name order per folder; medmix walks the cases in id order.
    groups: dict[tuple[str, str], list[str]] = {}
    for cid, _, _ in pairs:
        groups.setdefault(folder_of[cid], []).append(cid)
    for (domain, split), ids in sorted(groups.items()):
        by_id = sorted(ids)
        by_name = sorted(ids, key=lambda c: found["image"][c].name)
        if by_id != by_name:
            k = next(i for i, (a, b) in enumerate(zip(by_id, by_name)) if a != b)
            job.warn(f"{domain} {split}: case ids sort differently from their file names (e.g. file "
                     f"{found['image'][by_name[k]].name!r} sorts before {found['image'][by_id[k]].name!r}, case "
                     f"{by_id[k]!r} before {by_name[k]!r}); MedSAMix draws one jittered box per image in file-name "
                     "order and medmix uses case-id order, so the jittered boxes of this folder differ from "
                     "MedSAMix's")

    base = layout.dataset_dir(job.dst, job.dataset_id)
    original = {**(_previous_json(base / "dataset.json").get("original_files") or {}),
                **{cid: release_path[cid] for cid, _, _ in pairs}}
    report = job.run(
        cases, labels=DOFE_LABELS, modality="fundus photography", channels="rgb", options={}, overwrite=overwrite,
        progress=progress, targets={"optic_disc": [1, 2], "optic_cup": [2]},
        extra={"splits": dofe_splits(c.case_id for c in cases), "original_files": original},
        notes=["images are (H, W, 3) RGB uint8 (rows, columns, channel), read with PIL convert('RGB') (= cv2 imread "
               "+ BGR→RGB for 8-bit PNGs), identity affine, pixel units",
               "masks: red channel only (as MedSAMix): red 0 = cup → label 2, 128 = disc rim → label 1, anything "
               "else → 0; the optic disc task uses labels [1, 2], the optic cup task [2]",
               "splits: per domain, calibration = the release's train folder, test = its test folder (MedSAMix's "
               "fundus split; no 20% rule); Domain1 Drishti-GS, Domain2 RIM-ONE-r3, Domain3 REFUGE train, "
               "Domain4 REFUGE validation (inferred)",
               "MedSAMix draws its fundus box jitter in sorted file-name order within a folder; case-id order is "
               "the same unless a warning said otherwise"])
    if report.dataset_json is not None:
        # dataset.json lists the cases present (failed ones are not, stale ones from earlier runs are): keep the
        # splits and original_files to exactly those.
        from medmix.atomic import atomic_write_text

        meta = json.loads(report.dataset_json.read_text())
        present = meta.get("cases") or []
        fixed = {"splits": dofe_splits(present),
                 "original_files": {c: original[c] for c in present if c in original}}
        if any(meta.get(k) != v for k, v in fixed.items()):
            meta.update(fixed)
            atomic_write_text(report.dataset_json, json.dumps(meta, indent=2))
    return report

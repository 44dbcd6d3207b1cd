"""REFUGE (Retinal Fundus Glaucoma Challenge, MICCAI 2018): colour fundus photographs with optic disc/cup masks.

Masks are 8-bit BMPs: 0 = optic cup, 128 = optic disc outside the cup (rim), 255 = background. They become one
label map: 1 = disc rim, 2 = cup, so the whole optic disc (cup included) is labels [1, 2] and the cup is [2].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medmix.data.prepare.core import CaseSource, Job, LoadedCase, PrepareReport, ProgressFn, converter
from medmix.errors import InputError

REFUGE_LABELS = {1: "optic disc rim (disc = labels 1+2)", 2: "optic cup"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")  # preference order when a stem has several
MASK_SUFFIXES = (".bmp", ".png")
#: Grey-level cut-offs between cup (0), rim (128) and background (255): midpoints, robust to resampled masks.
CUP_BELOW, DISC_BELOW = 64, 192

LAYOUT = """
REFUGE/                                           (any subset; files found by name at any depth)
├── Training400/Glaucoma/g0001.jpg, …  Training400/Non-Glaucoma/n0001.jpg, …
├── Annotation-Training400/Disc_Cup_Masks/Glaucoma/g0001.bmp, …  (…/Non-Glaucoma/n0001.bmp)
├── REFUGE-Validation400/V0001.jpg, …
├── REFUGE-Validation400-GT/Disc_Cup_Masks/V0001.bmp, …
├── Test400/T0001.jpg, …
└── REFUGE-Test-GT/Disc_Cup_Masks/G|N/T0001.bmp, …
Images: .jpg/.png anywhere; masks: .bmp (or .png) inside a folder whose name contains 'mask';
paired by file stem. Mask grey levels: 0 = cup, 128 = disc rim, 255 = background.
"""


def read_rgb(path: Path) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array (rows, columns, channel) from a photograph."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{str(path)!r}: cannot read the image ({type(exc).__name__}: {exc}).") from None


def read_disc_cup_mask(path: Path) -> tuple[np.ndarray, list[str]]:
    """REFUGE mask → (H, W) uint8 label map: 0 background, 1 disc rim, 2 cup; plus notes on unexpected grey levels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            grey = np.asarray(img.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{str(path)!r}: cannot read the mask ({type(exc).__name__}: {exc}).") from None
    label = np.zeros(grey.shape, dtype=np.uint8)
    label[grey < DISC_BELOW] = 1
    label[grey < CUP_BELOW] = 2
    notes = []
    odd = ~np.isin(grey, (0, 128, 255))
    if odd.any():
        notes.append(f"mask {path.name}: {int(odd.sum())} pixels with grey levels other than 0/128/255 were "
                     f"assigned by thresholds (<{CUP_BELOW} cup, <{DISC_BELOW} disc)")
    return label, notes


def _load(image: Path, mask: Path) -> LoadedCase:
    rgb = read_rgb(image)
    label, notes = read_disc_cup_mask(mask)
    if rgb.shape[:2] != label.shape:
        raise InputError(f"image {image.name} is {rgb.shape[0]}×{rgb.shape[1]} pixels but mask {mask.name} is "
                         f"{label.shape[0]}×{label.shape[1]}.")
    return LoadedCase(image=rgb, label=label, affine=np.eye(4), notes=notes)


def _is_mask(path: Path) -> bool:
    return any("mask" in part.lower() for part in path.parent.parts)


@converter("refuge", title="REFUGE fundus optic disc/cup", modality="fundus photography", layout=LAYOUT,
           url="https://refuge.grand-challenge.org/ (also ieee-dataport 'REFUGE'; REFUGE2 on grand-challenge)")
def prepare_refuge(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                   ) -> PrepareReport:
    """REFUGE fundus RGB (H, W, 3); labels 1 disc rim, 2 cup (disc = [1, 2]); ids g0001, n0001, V0001, T0001…"""
    job = Job("refuge", src, dst)
    images: dict[str, Path] = {}
    masks: dict[str, Path] = {}
    for path in job.files():
        suffix = path.suffix.lower()
        if _is_mask(path.relative_to(job.src)):
            if suffix in MASK_SUFFIXES:
                if path.stem in masks:
                    raise job.layout_error(f"two masks for {path.stem}: {masks[path.stem]} and {path}")
                masks[path.stem] = path
        elif suffix in IMAGE_SUFFIXES:
            old = images.get(path.stem)
            if old is not None and old.parent == path.parent:
                if IMAGE_SUFFIXES.index(suffix) < IMAGE_SUFFIXES.index(old.suffix.lower()):
                    images[path.stem] = path
                continue
            if old is not None:
                raise job.layout_error(f"two images named {path.stem}: {old} and {path}")
            images[path.stem] = path
    cases = [CaseSource(cid, {"image": img, "label": mask}, lambda img=img, mask=mask: _load(img, mask))
             for cid, img, mask in job.pair(images, masks, image_what="fundus images",
                                            label_what="Disc_Cup_Masks masks")]
    return job.run(cases, labels=REFUGE_LABELS, modality="fundus photography", channels="rgb", options={},
                   overwrite=overwrite, progress=progress,
                   targets={"optic_disc": [1, 2], "optic_cup": [2]},
                   notes=["images are (H, W, 3) RGB uint8 (rows, columns, channel), identity affine, pixel units",
                          "masks: grey 0 = cup → label 2, 128 = disc rim → label 1, 255 = background → 0; "
                          "the optic disc task uses labels [1, 2], the optic cup task [2]",
                          "case ids keep the release's names: T… (test), V… (validation), g…/n… (training "
                          "glaucoma/non-glaucoma); sorted, upper-case T/V come before g/n"])

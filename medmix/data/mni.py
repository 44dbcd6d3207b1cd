"""`mni`: real MRI without a download, from the MNI152 (ICBM 2009a nonlinear symmetric) template that nilearn
ships inside its package (`nilearn.datasets.load_mni152_template`, `load_mni152_gm_template`,
`load_mni152_wm_template`: files under nilearn/datasets/data, read locally, nothing is fetched).

Label map (built here, 1 mm grid, array order x, y, z as nibabel gives it):
- brain = the T1 template > 0.2 after nilearn's rescaling to [0, 1] (nilearn's own `load_mni152_brain_mask`
  threshold; the template is skull-stripped);
- 1 grey_matter: grey-matter probability ≥ 0.5 inside the brain;
- 2 white_matter: white-matter probability ≥ 0.5 inside the brain, where grey matter did not already win
  (probabilities are rescaled by nilearn to a maximum of 1; a voxel at exactly 0.5 / 0.5 goes to grey matter);
- 3 other_brain: the rest of the brain (CSF, deep partial-volume voxels).
Targets: brain = [1, 2, 3], grey matter = [1], white matter = [2].

Cases: there is one subject, so the volume is cut into `N_SLABS` = 20 contiguous axial slabs along z (axis 2, the
slice axis) between the first and last brain slice, as equal as possible (`np.array_split` boundaries, ~8 slices
each), each cropped in x and y to the brain's bounding box plus a 4-voxel margin. Case ids are `slab_00` …
`slab_19` (inferior to superior). `mni_split()` sets them apart in blocks of five by `SPLIT_PATTERN` (train, train,
calibration, test, test), so every split spans the whole brain from base to vertex and no two splits share a
slice: 8 train slabs (for fine-tuning specialists), 4 calibration slabs (what a merge search scores), 8 test slabs;
the mni cards read it from eval/tasks/mni/split.json. Each slab keeps its own affine (the template's, shifted to
the crop). Image: the T1 template as nilearn returns it (float32 in [0, 1]; cards normalise it with a percentile
window over non-zero voxels).

nilearn is an optional dependency (`pip install 'medmix[demo]'`); without it `MissingDependencyError` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from medmix.data.cases import Case
from medmix.errors import UnknownNameError, require

MNI_LABELS = {1: "grey_matter", 2: "white_matter", 3: "other_brain"}
MNI_TARGETS = {"brain": (1, 2, 3), "grey_matter": (1,), "white_matter": (2,)}
N_SLABS = 20
SPLIT_PATTERN = ("train", "train", "calibration", "test", "test")  # per block of five consecutive slabs
BRAIN_THRESHOLD = 0.2
TISSUE_THRESHOLD = 0.5
CROP_MARGIN_VOXELS = 4
RESOLUTION_MM = 1


@dataclass(frozen=True)
class MniVolume:
    """The whole template: image float32 (x, y, z), label map uint8 (MNI_LABELS), affine, spacing in mm."""

    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray
    spacing: tuple[float, ...]


@lru_cache(maxsize=2)
def load_mni_volume(resolution_mm: int = RESOLUTION_MM) -> MniVolume:
    """The MNI152 T1 template with the tissue label map described in the module docstring (cached; the arrays are
    read-only). `resolution_mm` 1 is the shipped grid; 2 is resampled by nilearn (slower)."""
    require("nilearn", "demo", "The 'mni' task source (MNI152 template)")
    datasets = require("nilearn.datasets", "demo", "The 'mni' task source (MNI152 template)")
    t1 = datasets.load_mni152_template(resolution=resolution_mm)
    gm = datasets.load_mni152_gm_template(resolution=resolution_mm)
    wm = datasets.load_mni152_wm_template(resolution=resolution_mm)
    image = np.asarray(t1.get_fdata(dtype=np.float32), dtype=np.float32)
    gm_p = np.asarray(gm.get_fdata(dtype=np.float32))
    wm_p = np.asarray(wm.get_fdata(dtype=np.float32))
    brain = image > BRAIN_THRESHOLD
    grey = brain & (gm_p >= TISSUE_THRESHOLD) & (gm_p >= wm_p)
    white = brain & (wm_p >= TISSUE_THRESHOLD) & ~grey
    label = np.zeros(image.shape, dtype=np.uint8)
    label[brain] = 3
    label[white] = 2
    label[grey] = 1
    image.setflags(write=False)
    label.setflags(write=False)
    affine = np.asarray(t1.affine, dtype=float)
    affine.setflags(write=False)
    spacing = tuple(float(z) for z in t1.header.get_zooms()[:3])
    return MniVolume(image=image, label=label, affine=affine, spacing=spacing)


def mni_case_ids(n_slabs: int = N_SLABS) -> list[str]:
    """slab_00 … slab_{n-1} (sorted order = inferior to superior)."""
    return [f"slab_{i:02d}" for i in range(n_slabs)]


def mni_split(n_slabs: int = N_SLABS) -> dict[str, list[str]]:
    """{"train": [...], "calibration": [...], "test": [...]}: slab ids by `SPLIT_PATTERN` (see the module
    docstring); disjoint, together every slab."""
    out: dict[str, list[str]] = {"train": [], "calibration": [], "test": []}
    for i, case_id in enumerate(mni_case_ids(n_slabs)):
        out[SPLIT_PATTERN[i % len(SPLIT_PATTERN)]].append(case_id)
    return out


def slab_bounds(volume: MniVolume, n_slabs: int = N_SLABS) -> list[tuple[int, int]]:
    """[z_start, z_stop) of each slab: the brain's z range split into `n_slabs` contiguous, nearly equal parts."""
    z_any = np.flatnonzero(volume.label.any(axis=(0, 1)))
    z0, z1 = int(z_any[0]), int(z_any[-1]) + 1
    parts = np.array_split(np.arange(z0, z1), n_slabs)
    return [(int(p[0]), int(p[-1]) + 1) for p in parts]


def load_mni_case(case_id: str, labels=MNI_TARGETS["brain"], task: str = "mni_brain", n_slabs: int = N_SLABS,
                  resolution_mm: int = RESOLUTION_MM) -> Case:
    """One slab as a `Case`: label = binary union of `labels` (uint8 0/1), image = the T1 template (float32,
    [0, 1]), spacing 1 mm, affine of the cropped slab. Unknown case ids raise `UnknownNameError`."""
    ids = mni_case_ids(n_slabs)
    if case_id not in ids:
        raise UnknownNameError("MNI slab case", case_id, ids)
    index = ids.index(case_id)
    volume = load_mni_volume(resolution_mm)
    z_start, z_stop = slab_bounds(volume, n_slabs)[index]
    xy = np.argwhere(volume.label.any(axis=2))
    lo = np.maximum(xy.min(axis=0) - CROP_MARGIN_VOXELS, 0)
    hi = np.minimum(xy.max(axis=0) + 1 + CROP_MARGIN_VOXELS, volume.label.shape[:2])
    region = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(z_start, z_stop))
    image = np.array(volume.image[region], dtype=np.float32)
    label = np.isin(volume.label[region], np.asarray(list(labels))).astype(np.uint8)
    shift = np.eye(4)
    shift[:3, 3] = [lo[0], lo[1], z_start]
    affine = volume.affine @ shift
    return Case(
        task=task, case_id=case_id, image=image, label=label, spacing=volume.spacing, affine=affine, channels="grey",
        meta={"source": "mni", "dataset": "mni152", "labels": [int(x) for x in labels],
              "slab_z": [z_start, z_stop], "crop_xy": [[int(lo[0]), int(hi[0])], [int(lo[1]), int(hi[1])]],
              "resolution_mm": resolution_mm},
    )


__all__ = ["MNI_LABELS", "MNI_TARGETS", "MniVolume", "N_SLABS", "SPLIT_PATTERN", "load_mni_case", "load_mni_volume",
           "mni_case_ids", "mni_split", "slab_bounds"]

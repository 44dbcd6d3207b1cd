"""FreeSurfer subjects: a T1 volume (orig.mgz by default) with the aseg.mgz labels of `recon-all`.

Used for the held-out brain structure tasks (lateral ventricles, hippocampus). Label ids are FreeSurfer's own
(FreeSurferColorLUT.txt) and are kept: 4/43 left/right lateral ventricle, 5/44 inferior lateral ventricle,
17/53 left/right hippocampus. All conformed volumes (orig, nu, T1, norm, brainmask) share aseg's 256³ 1 mm grid
(LIA orientation, so the axial array axis is 1) and are written with aseg as is.

`image="rawavg"` writes the native-space input instead (mri/rawavg.mgz: the average of the raw T1 runs, on the
scanner's grid) with aseg resampled onto that grid by nearest neighbour through the two vox2ras affines (what
FreeSurfer's `mri_label2vol --seg aseg.mgz --temp rawavg.mgz --regheader aseg.mgz` does): label ids stay exact
integers and rawavg voxels outside aseg's conformed box are 0. MedSAMix scores its FreeSurfer tasks on two
fcon1000 entries, Dataset725_fcon1000_t1_freesurfer ("processed") and Dataset825_fcon1000_t1_freesurfer_raw
("raw"); medmix prepares them from the same subjects as `image=norm` (the conformed, intensity-normalised,
skull-stripped T1 aseg is computed from) and `image=rawavg`, side by side through `dataset_id=`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medmix.data.prepare.core import (CaseSource, Job, LoadedCase, PrepareReport, ProgressFn, converter, label_ids,
                                      load_pair, parse_int_list)
from medmix.errors import InputError

#: FreeSurferColorLUT names of the ids aseg.mgz uses.
ASEG_LABELS = {
    2: "Left-Cerebral-White-Matter", 3: "Left-Cerebral-Cortex", 4: "Left-Lateral-Ventricle", 5: "Left-Inf-Lat-Vent",
    7: "Left-Cerebellum-White-Matter", 8: "Left-Cerebellum-Cortex", 10: "Left-Thalamus", 11: "Left-Caudate",
    12: "Left-Putamen", 13: "Left-Pallidum", 14: "3rd-Ventricle", 15: "4th-Ventricle", 16: "Brain-Stem",
    17: "Left-Hippocampus", 18: "Left-Amygdala", 24: "CSF", 26: "Left-Accumbens-area", 28: "Left-VentralDC",
    30: "Left-vessel", 31: "Left-choroid-plexus", 41: "Right-Cerebral-White-Matter", 42: "Right-Cerebral-Cortex",
    43: "Right-Lateral-Ventricle", 44: "Right-Inf-Lat-Vent", 46: "Right-Cerebellum-White-Matter",
    47: "Right-Cerebellum-Cortex", 49: "Right-Thalamus", 50: "Right-Caudate", 51: "Right-Putamen",
    52: "Right-Pallidum", 53: "Right-Hippocampus", 54: "Right-Amygdala", 58: "Right-Accumbens-area",
    60: "Right-VentralDC", 62: "Right-vessel", 63: "Right-choroid-plexus", 72: "5th-Ventricle",
    77: "WM-hypointensities", 78: "Left-WM-hypointensities", 79: "Right-WM-hypointensities",
    80: "non-WM-hypointensities", 81: "Left-non-WM-hypointensities", 82: "Right-non-WM-hypointensities",
    85: "Optic-Chiasm", 251: "CC_Posterior", 252: "CC_Mid_Posterior", 253: "CC_Central", 254: "CC_Mid_Anterior",
    255: "CC_Anterior",
}
#: Volumes on aseg's conformed grid (written with aseg as is).
CONFORMED_IMAGES = ("orig", "nu", "T1", "norm", "brainmask")
#: Every image= choice: the conformed volumes and the native-space rawavg (aseg resampled onto it).
IMAGES = (*CONFORMED_IMAGES, "rawavg")

LAYOUT = """
subjects/                 (SUBJECTS_DIR, or one subject folder; subjects found at any depth)
├── subj01/
│   └── mri/
│       ├── orig.mgz      T1 (conformed 256³, 1 mm); or nu/T1/norm/brainmask.mgz with image=
│       ├── rawavg.mgz    native-space T1 (image=rawavg; aseg is resampled onto its grid)
│       └── aseg.mgz      FreeSurfer aseg labels (4/43 lateral ventricles, 17/53 hippocampus, …)
└── subj02/mri/…
Options: image=orig|nu|T1|norm|brainmask|rawavg, keep_labels=4,43, dataset_id= (folder under --dst)
"""


def resample_labels_nearest(label: np.ndarray, label_affine: np.ndarray, shape: Sequence[int],
                            affine: np.ndarray) -> np.ndarray:
    """`label` (3D, voxel→world `label_affine`) sampled at the voxel centres of the grid (`shape`, `affine`).

    Nearest neighbour (order 0), so ids stay exact integers of `label`'s dtype; a target voxel whose centre lies
    outside the label volume (beyond the outer half-voxel of its edge voxels) is 0. Equivalent to nibabel's
    `resample_from_to(img, (shape, affine), order=0)` except that nibabel's `mode="constant"` also zeroes the
    outer half of the edge voxels; ties at exactly half a voxel go either way (both are nearest).
    """
    from scipy.ndimage import affine_transform

    vox2vox = np.linalg.inv(np.asarray(label_affine, dtype=float)) @ np.asarray(affine, dtype=float)
    return affine_transform(np.asarray(label), vox2vox[:3, :3], vox2vox[:3, 3], output_shape=tuple(shape), order=0,
                            mode="grid-constant", cval=0)


def _keep(case: LoadedCase, keep: Sequence[int] | None) -> LoadedCase:
    if keep is not None:
        case.label = np.where(np.isin(case.label, list(keep)), case.label, 0)
    return case


def _load(image: Path, label: Path, keep: Sequence[int] | None) -> LoadedCase:
    return _keep(load_pair(image, label), keep)


def _load_rawavg(image: Path, label: Path, keep: Sequence[int] | None) -> LoadedCase:
    """rawavg.mgz as stored + aseg.mgz resampled onto its grid (nearest neighbour through the vox2ras affines)."""
    from medmix.data.prepare.readers import read_volume

    raw, aseg = read_volume(image), read_volume(label)
    for vol in (raw, aseg):
        if vol.array.ndim != 3:
            raise InputError(f"{vol.path}: shape {vol.array.shape}; expected one 3D volume.")
    resampled = resample_labels_nearest(aseg.array, aseg.affine, raw.array.shape, raw.affine)
    notes = []
    lost = sorted(label_ids(aseg.array) - label_ids(resampled) - {0})
    if keep is not None:
        lost = [i for i in lost if i in keep]
    if lost:
        shown = ", ".join(str(i) for i in lost[:10]) + (", …" if len(lost) > 10 else "")
        notes.append(f"{len(lost)} aseg ids ({shown}) cover no rawavg voxel centre after nearest-neighbour "
                     "resampling (structures smaller than a rawavg voxel, or outside its field of view)")
    return _keep(LoadedCase(image=raw.array, label=resampled, affine=raw.affine, notes=notes), keep)


@converter("freesurfer", title="FreeSurfer subjects (aseg labels)", modality="MRI (T1)", layout=LAYOUT,
           url="https://surfer.nmr.mgh.harvard.edu/ (run recon-all; e.g. on OASIS or IXI T1 scans)")
def prepare_freesurfer(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                       image: str = "orig", keep_labels: Sequence[int] | None = None,
                       dataset_id: str = "freesurfer") -> PrepareReport:
    """FreeSurfer T1 (image= orig|nu|T1|norm|brainmask, or rawavg with aseg resampled) + aseg ids; dataset_id=."""
    if image not in IMAGES:
        raise InputError(f"freesurfer: image={image!r}; choose one of {', '.join(CONFORMED_IMAGES)} (on aseg's "
                         "grid) or rawavg (native grid, aseg resampled onto it).")
    keep = parse_int_list(keep_labels, "keep_labels")
    job = Job("freesurfer", src, dst, dataset_id=dataset_id)
    labels: dict[str, Path] = {}
    images: dict[str, Path] = {}
    for aseg in job.files("aseg.mgz"):
        if aseg.parent.name != "mri":
            continue
        subject = aseg.parent.parent
        cid = subject.name
        if cid in labels:
            raise job.layout_error(f"two subjects named {cid}: {labels[cid]} and {aseg}")
        labels[cid] = aseg
        if (aseg.parent / f"{image}.mgz").is_file():
            images[cid] = aseg.parent / f"{image}.mgz"
    load = _load_rawavg if image == "rawavg" else _load
    cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: load(img, lab, keep))
             for cid, img, lab in job.pair(images, labels, image_what=f"mri/{image}.mgz volumes",
                                           label_what="mri/aseg.mgz label maps")]
    table = ASEG_LABELS if keep is None else {k: ASEG_LABELS.get(k, f"label_{k}") for k in keep}
    if image == "rawavg":
        grid = ["image = mri/rawavg.mgz (native scanner grid, as stored); labels = mri/aseg.mgz resampled onto "
                "that grid by nearest neighbour through the two vox2ras affines (ids exact; voxels outside aseg's "
                "conformed 256³ box are 0); spacing and orientation are the scan's (see case_info axial_axis)"]
    else:
        grid = [f"image = mri/{image}.mgz; volumes are conformed 256³ 1 mm LIA (axial array axis 1)"]
    return job.run(cases, labels=table, modality="MRI (T1)", options={"image": image, "keep_labels": keep},
                   overwrite=overwrite, progress=progress,
                   targets={"lateral_ventricles": [4, 43], "lateral_ventricles_with_inferior_horns": [4, 5, 43, 44],
                            "hippocampus": [17, 53]},
                   notes=["label ids are FreeSurfer aseg ids (FreeSurferColorLUT), not renumbered", *grid])

"""FreeSurfer subjects: a T1 volume (orig.mgz by default) with the aseg.mgz labels of `recon-all`.

Used for the held-out brain structure tasks (lateral ventricles, hippocampus). Label ids are FreeSurfer's own
(FreeSurferColorLUT.txt) and are kept: 4/43 left/right lateral ventricle, 5/44 inferior lateral ventricle,
17/53 left/right hippocampus. All conformed volumes (orig, nu, T1, norm, brainmask) share aseg's 256³ 1 mm grid
(LIA orientation, so the axial array axis is 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medmix.data.prepare.core import (CaseSource, Job, LoadedCase, PrepareReport, ProgressFn, converter, load_pair,
                                      parse_int_list)
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
IMAGES = ("orig", "nu", "T1", "norm", "brainmask")

LAYOUT = """
subjects/                 (SUBJECTS_DIR, or one subject folder; subjects found at any depth)
├── subj01/
│   └── mri/
│       ├── orig.mgz      T1 (conformed 256³, 1 mm); or nu/T1/norm/brainmask.mgz with image=
│       └── aseg.mgz      FreeSurfer aseg labels (4/43 lateral ventricles, 17/53 hippocampus, …)
└── subj02/mri/…
"""


def _load(image: Path, label: Path, keep: Sequence[int] | None) -> LoadedCase:
    case = load_pair(image, label)
    if keep is not None:
        case.label = np.where(np.isin(case.label, list(keep)), case.label, 0)
    return case


@converter("freesurfer", title="FreeSurfer subjects (aseg labels)", modality="MRI (T1)", layout=LAYOUT,
           url="https://surfer.nmr.mgh.harvard.edu/ (run recon-all; e.g. on OASIS or IXI T1 scans)")
def prepare_freesurfer(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                       image: str = "orig", keep_labels: Sequence[int] | None = None) -> PrepareReport:
    """FreeSurfer T1 (image= orig|nu|T1|norm|brainmask) + aseg ids as is (keep_labels= to keep only some)."""
    if image not in IMAGES:
        raise InputError(f"freesurfer: image={image!r}; choose one of {', '.join(IMAGES)} (all on aseg's grid).")
    keep = parse_int_list(keep_labels, "keep_labels")
    job = Job("freesurfer", src, dst)
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
    cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: _load(img, lab, keep))
             for cid, img, lab in job.pair(images, labels, image_what=f"mri/{image}.mgz volumes",
                                           label_what="mri/aseg.mgz label maps")]
    table = ASEG_LABELS if keep is None else {k: ASEG_LABELS.get(k, f"label_{k}") for k in keep}
    return job.run(cases, labels=table, modality="MRI (T1)", options={"image": image, "keep_labels": keep},
                   overwrite=overwrite, progress=progress,
                   targets={"lateral_ventricles": [4, 43], "lateral_ventricles_with_inferior_horns": [4, 5, 43, 44],
                            "hippocampus": [17, 53]},
                   notes=["label ids are FreeSurfer aseg ids (FreeSurferColorLUT), not renumbered",
                          f"image = mri/{image}.mgz; volumes are conformed 256³ 1 mm LIA (axial array axis 1)"])

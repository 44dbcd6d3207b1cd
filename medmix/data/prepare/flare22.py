"""FLARE22 (MICCAI 2022 Fast and Low-resource Abdominal oRgan sEgmentation): the 50 labelled training CT scans."""

from __future__ import annotations

from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, load_pair

#: The FLARE22 label table (the challenge's 13 abdominal organs).
FLARE22_LABELS = {
    1: "liver", 2: "right kidney", 3: "spleen", 4: "pancreas", 5: "aorta", 6: "inferior vena cava",
    7: "right adrenal gland", 8: "left adrenal gland", 9: "gallbladder", 10: "esophagus", 11: "stomach",
    12: "duodenum", 13: "left kidney",
}

LAYOUT = """
FLARE22Train/                         (any folder names; files are found by name at any depth)
├── images/
│   ├── FLARE22_Tr_0001_0000.nii.gz   CT, nnU-Net style channel suffix _0000
│   └── …  FLARE22_Tr_0050_0000.nii.gz
└── labels/
    ├── FLARE22_Tr_0001.nii.gz        13 organ labels
    └── …  FLARE22_Tr_0050.nii.gz
"""


@converter("flare22", title="FLARE22 labelled training set", modality="CT",
           url="https://flare22.grand-challenge.org/Dataset/ (Zenodo/Google Drive links there)", layout=LAYOUT)
def prepare_flare22(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                    ) -> PrepareReport:
    """FLARE22 labelled CT (50 cases, 13 abdominal organs; official ids FLARE22_Tr_0001…)."""
    job = Job("flare22", src, dst)
    images = job.scan(r"(FLARE22_Tr_\d+)_0000\.nii(\.gz)?", what="image", pattern="FLARE22_Tr_*")
    labels = job.scan(r"(FLARE22_Tr_\d+)\.nii(\.gz)?", what="label", pattern="FLARE22_Tr_*")
    cases = [
        CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: load_pair(img, lab))
        for cid, img, lab in job.pair(images, labels, image_what="FLARE22_Tr_*_0000 images",
                                      label_what="FLARE22_Tr_* label maps",
                                      unlabelled_note="; the unlabelled FLARE22 cases are not used")
    ]
    return job.run(cases, labels=FLARE22_LABELS, modality="CT", options={}, overwrite=overwrite, progress=progress,
                   targets={"liver": [1], "right_kidney": [2], "spleen": [3], "pancreas": [4], "left_kidney": [13]})

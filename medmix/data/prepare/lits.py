"""LiTS (Liver Tumor Segmentation Challenge, ISBI/MICCAI 2017) training data: 131 CT volumes with liver and tumour."""

from __future__ import annotations

from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, load_pair

LITS_LABELS = {1: "liver", 2: "tumour"}

LAYOUT = """
LiTS/                        (files found by name at any depth)
├── Training Batch 1/
│   ├── volume-0.nii         CT
│   ├── segmentation-0.nii   labels 1 liver, 2 tumour
│   └── …  volume-27.nii
└── Training Batch 2/
    └── …  volume-28.nii … volume-130.nii
(test-volume-*.nii has no labels and is not used)
"""


@converter("lits", title="LiTS liver tumour CT (training batches 1 and 2)", modality="CT", layout=LAYOUT,
           url="https://competitions.codalab.org/competitions/17094 (LiTS; mirrors on Kaggle and academictorrents)")
def prepare_lits(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                 ) -> PrepareReport:
    """LiTS CT; labels 1 liver, 2 tumour; volume-N → case id lits_NNN (zero-padded so ids sort numerically)."""
    job = Job("lits", src, dst)
    images = job.scan(r"volume-(\d+)\.nii(\.gz)?", what="volume", pattern="volume-*")
    labels = job.scan(r"segmentation-(\d+)\.nii(\.gz)?", what="segmentation", pattern="segmentation-*")
    pairs = job.pair(images, labels, image_what="volume-N.nii files", label_what="segmentation-N.nii files")
    width = max(3, max(len(str(int(n))) for n, _, _ in pairs))
    cases = [CaseSource(f"lits_{int(n):0{width}d}", {"image": img, "label": lab},
                        lambda img=img, lab=lab: load_pair(img, lab), original_id=f"volume-{int(n)}")
             for n, img, lab in pairs]
    return job.run(cases, labels=LITS_LABELS, modality="CT", options={}, overwrite=overwrite, progress=progress,
                   targets={"liver_tumour": [2], "liver_with_tumour": [1, 2]},
                   notes=[f"case ids lits_{'0' * width} … are the release's volume-N numbers zero-padded to {width} "
                          "digits so that string order is numeric order; original_ids maps them back",
                          "volumes keep the release's array order and affine (several LiTS volumes are flipped)"])

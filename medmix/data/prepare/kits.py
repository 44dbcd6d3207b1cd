"""KiTS19 / KiTS21 / KiTS23 (Kidney Tumor Segmentation challenges): contrast CT with kidney, tumour and cyst labels."""

from __future__ import annotations

from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, load_pair

KITS_LABELS = {1: "kidney", 2: "tumour", 3: "cyst"}
#: Label file names, in order of preference: KiTS19/KiTS23, then KiTS21's majority-vote aggregate.
LABEL_FILES = ("segmentation.nii.gz", "aggregated_MAJ_seg.nii.gz")

LAYOUT = """
kits23/dataset/   (KiTS19: kits19/data/, KiTS21: kits21/data/; case folders found at any depth)
├── case_00000/
│   ├── imaging.nii.gz
│   └── segmentation.nii.gz      (KiTS21: aggregated_MAJ_seg.nii.gz)
└── …  case_00588/
(cases with imaging only, e.g. the KiTS19 test cases 210–299, are not used)
"""


@converter("kits", title="KiTS (KiTS19/21/23) kidney tumour CT", modality="CT", layout=LAYOUT,
           url="https://github.com/neheller/kits23 (or kits19/kits21; run its download script for the imaging)")
def prepare_kits(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                 ) -> PrepareReport:
    """KiTS19/21/23 CT; labels 1 kidney, 2 tumour, 3 cyst (KiTS21/23); ids case_00000…"""
    job = Job("kits", src, dst)
    images: dict[str, Path] = {}
    labels: dict[str, Path] = {}
    for img in job.files("imaging.nii*"):
        cid = img.parent.name
        if not cid.startswith("case_"):
            continue
        if cid in images:
            raise job.layout_error(f"case {cid} found twice ({images[cid].parent} and {img.parent}); point --src at "
                                   "one copy of the release")
        images[cid] = img
        for name in LABEL_FILES:
            if (img.parent / name).is_file():
                labels[cid] = img.parent / name
                break
    cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: load_pair(img, lab))
             for cid, img, lab in job.pair(images, labels, image_what="case_*/imaging.nii.gz volumes",
                                           label_what="segmentation files",
                                           unlabelled_note=" (imaging-only test cases)")]
    return job.run(
        cases, labels=KITS_LABELS, modality="CT", options={}, overwrite=overwrite, progress=progress,
        targets={"kidney_tumour": [2], "kidney_with_masses": [1, 2, 3]},
        notes=["KiTS19 volumes are stored (z, y, x): array axis 0 is the axial (slice) axis and the affine's axes "
               "are permuted accordingly; array order and affine are kept as released (case_info.axial_axis says "
               "which axis to slice)",
               "KiTS19 has no cyst label (3); KiTS21 labels come from aggregated_MAJ_seg.nii.gz (majority vote)"],
    )

"""BraTS 2021 (RSNA-ASNR-MICCAI Brain Tumor Segmentation) training data: 4 MR sequences + tumour labels per case."""

from __future__ import annotations

from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, load_pair
from medmix.errors import InputError

#: BraTS 2021 label ids (label 3 is unused since BraTS 2017).
BRATS_LABELS = {1: "necrotic tumour core (NCR)", 2: "peritumoral edema (ED)", 4: "enhancing tumour (ET)"}
BRATS_SEQUENCES = ("flair", "t1", "t1ce", "t2")

LAYOUT = """
RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021/   (any name; case folders found at any depth)
├── BraTS2021_00000/
│   ├── BraTS2021_00000_flair.nii.gz
│   ├── BraTS2021_00000_t1.nii.gz
│   ├── BraTS2021_00000_t1ce.nii.gz
│   ├── BraTS2021_00000_t2.nii.gz
│   └── BraTS2021_00000_seg.nii.gz    labels 1 NCR, 2 ED, 4 ET
└── …  BraTS2021_01666/
(the same <case>/<case>_<sequence>.nii.gz pattern of BraTS 2018–2020 works too)
"""


@converter("brats2021", title="BraTS 2021 training data", modality="MRI", layout=LAYOUT,
           url="https://www.synapse.org/brats2021 (also Kaggle: 'brats-2021-task1')")
def prepare_brats2021(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                      modality: str = "flair") -> PrepareReport:
    """BraTS 2021 glioma MRI; image = one sequence (modality= flair (default), t1, t1ce or t2); labels 1, 2, 4."""
    modality = modality.lower()
    if modality not in BRATS_SEQUENCES:
        raise InputError(f"brats2021: modality={modality!r} is not a BraTS sequence; choose one of "
                         f"{', '.join(BRATS_SEQUENCES)}.")
    job = Job("brats2021", src, dst)
    labels: dict[str, Path] = {}
    images: dict[str, Path] = {}
    for seg in job.files("*_seg.nii*"):
        cid = seg.parent.name
        if not seg.name.startswith(f"{cid}_seg.nii"):
            continue
        if cid in labels:
            raise InputError(f"BraTS 2021 (brats2021): case {cid!r} found twice ({labels[cid]} and {seg}); point --src "
                             "at one copy of the release.")
        labels[cid] = seg
        for ext in (".nii.gz", ".nii"):
            cand = seg.parent / f"{cid}_{modality}{ext}"
            if cand.is_file():
                images[cid] = cand
                break
    unlabelled = sum(1 for p in job.files(f"*_{modality}.nii*") if p.parent.name not in labels)
    cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: load_pair(img, lab))
             for cid, img, lab in job.pair(images, labels, image_what=f"<case>_{modality} images",
                                           label_what="<case>_seg label maps")]
    if unlabelled:
        job.warn(f"{unlabelled} case folders without a _seg file (validation data) were not converted")
    return job.run(cases, labels=BRATS_LABELS, modality=f"MRI ({modality.upper() if modality != 't1ce' else 'T1ce'})",
                   options={"modality": modality}, overwrite=overwrite, progress=progress,
                   targets={"whole_tumour": [1, 2, 4], "tumour_core": [1, 4], "enhancing_tumour": [4]},
                   notes=[f"image = the {modality} sequence (option modality=); the segmentation lies on the shared "
                          "240×240×155 1 mm grid of all four sequences"])

"""PROMISE12 (MICCAI 2012 prostate MR segmentation challenge): 50 labelled T2-weighted MR volumes in MetaImage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medmix.data.prepare.core import CaseSource, Job, LoadedCase, PrepareReport, ProgressFn, converter, load_pair

LAYOUT = """
TrainingData_Part1/          (Part1…Part3, or one flat folder; files are found by name at any depth)
├── Case00.mhd               MetaImage header (T2 MR), ElementDataFile = Case00.raw
├── Case00.raw
├── Case00_segmentation.mhd  prostate mask (0/1)
├── Case00_segmentation.raw
└── …  Case49*
(the test data, Case00.mhd … without _segmentation files, is not used)
"""


def _load(image: Path, label: Path) -> LoadedCase:
    case = load_pair(image, label)
    values = np.unique(case.label)
    if values.size and set(values.tolist()) <= {0, 255} and 255 in values:
        case.label = (case.label == 255).astype(np.uint8)
        case.notes.append("mask stored as 0/255; written as 0/1")
    return case


@converter("promise12", title="PROMISE12 prostate MR (training data)", modality="MRI (T2)",
           url="https://promise12.grand-challenge.org/ (data also on Zenodo, record 8026660)", layout=LAYOUT)
def prepare_promise12(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                      ) -> PrepareReport:
    """PROMISE12 prostate T2 MR from MetaImage (.mhd/.raw); label 1 = prostate; ids Case00…Case49."""
    job = Job("promise12", src, dst)
    labels = job.scan(r"(Case\d+)_segmentation\.(mhd|mha)", what="segmentation")
    # Pair within the folder of each segmentation: the test set reuses the names Case00… without labels.
    images: dict[str, Path] = {}
    for cid, lab in labels.items():
        for ext in (".mhd", ".mha"):
            if (lab.parent / f"{cid}{ext}").is_file():
                images[cid] = lab.parent / f"{cid}{ext}"
                break
    unlabelled = len(job.files("Case*.mhd")) - 2 * len(images)
    cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: _load(img, lab))
             for cid, img, lab in job.pair(images, labels, image_what="CaseNN.mhd images",
                                           label_what="CaseNN_segmentation.mhd masks")]
    if unlabelled > 0:
        job.warn(f"{unlabelled} CaseNN.mhd images without a segmentation (the test data) were not converted")
    return job.run(cases, labels={1: "prostate"}, modality="MRI (T2)", options={}, overwrite=overwrite,
                   progress=progress, targets={"prostate": [1]},
                   notes=["MetaImage voxels are x-fastest; arrays were transposed to (x, y, z) (nibabel order) and the "
                          "LPS geometry of the .mhd converted to the NIfTI (RAS) affine, as SimpleITK's NIfTI writer "
                          "does."])

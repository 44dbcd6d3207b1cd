"""NasalSeg (Zhang et al., Scientific Data 2024): 130 head CT scans with nasal cavity and paranasal sinus labels.

The Zenodo record 13893419 (v2, NasalSeg.zip) ships NRRD pairs `P001_img.nrrd` / `P001_seg.nrrd` in images/ and
labels/ folders (seen in code that reads that archive; a __MACOSX folder is skipped). Label order follows the
dataset paper and README: left nasal cavity, right nasal cavity, nasal pharynx, left maxillary sinus, right
maxillary sinus. NIfTI copies are accepted too (`P001_img.nii.gz` / `P001_seg.nii.gz`, or the same stem in
image(s)/ and label(s)/ folders).
"""

from __future__ import annotations

from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, load_pair
from medmix.data.prepare.readers import strip_suffix, volume_suffix

NASALSEG_LABELS = {
    1: "left nasal cavity", 2: "right nasal cavity", 3: "nasopharynx", 4: "left maxillary sinus",
    5: "right maxillary sinus",
}

LAYOUT = """
NasalSeg/                  (files found by name at any depth; __MACOSX ignored)
├── images/
│   ├── P001_img.nrrd      CT
│   └── …  P130_img.nrrd
└── labels/
    ├── P001_seg.nrrd      labels 1–5
    └── …  P130_seg.nrrd
(NIfTI copies also work: P001_img.nii.gz + P001_seg.nii.gz, or images/P001.nii.gz + labels/P001.nii.gz)
"""


@converter("nasalseg", title="NasalSeg nasal cavity and sinus CT", modality="CT", layout=LAYOUT,
           url="https://zenodo.org/records/13893419 (NasalSeg.zip; code: github.com/YichiZhang98/NasalSeg)")
def prepare_nasalseg(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                     ) -> PrepareReport:
    """NasalSeg CT (NRRD or NIfTI); labels 1/2 nasal cavity L/R, 3 nasopharynx, 4/5 maxillary sinus L/R; ids P001…"""
    job = Job("nasalseg", src, dst)
    suffixes = r"\.(nrrd|nhdr|nii\.gz|nii)"
    images = job.scan(rf"(.+)_img{suffixes}", what="image")
    labels = job.scan(rf"(.+)_seg{suffixes}", what="label")
    if not images and not labels:
        # Fallback: the same stem in image(s)/ and label(s)/ folders.
        def folder(names: tuple[str, ...]) -> dict[str, Path]:
            return {strip_suffix(p.name): p for p in job.files() if p.parent.name.lower() in names and volume_suffix(p)}

        images, labels = folder(("image", "images", "imagestr")), folder(("label", "labels", "labelstr"))
    cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: load_pair(img, lab))
             for cid, img, lab in job.pair(images, labels, image_what="*_img.nrrd images",
                                           label_what="*_seg.nrrd label maps")]
    return job.run(cases, labels=NASALSEG_LABELS, modality="CT", options={}, overwrite=overwrite, progress=progress,
                   targets={"nasal_cavities": [1, 2], "maxillary_sinuses": [4, 5], "nasopharynx": [3]},
                   notes=["label order from the NasalSeg paper/README (left/right nasal cavity, nasal pharynx, "
                          "left/right maxillary sinus); check one case visually if left/right matters",
                          "NRRD voxels are read in file-axis order (nibabel's) and the LPS geometry converted to the "
                          "NIfTI (RAS) affine"])

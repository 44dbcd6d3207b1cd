"""NasalSeg (Zhang et al., Scientific Data 2024): 130 head CT scans with nasal cavity and paranasal sinus labels.

The Zenodo record 13893419 (v2, NasalSeg.zip) ships NRRD pairs `P001_img.nrrd` / `P001_seg.nrrd` in images/ and
labels/ folders (seen in code that reads that archive; a __MACOSX folder is skipped). Labels: 1 right and
2 left maxillary sinus, 3 right and 4 left nasal cavity, 5 nasopharynx. The grouping is read in MedSAMix's code
(tasks NasalSeg_1_2 = maxillary sinuses, NasalSeg_3_4 = nasal cavities, NasalSeg_5 = nasopharynx); the
right/left meaning within each pair is inferred from two scripts that read the real label files (check one case
visually if the side matters). NIfTI copies are accepted too (`P001_img.nii.gz` / `P001_seg.nii.gz`, or the
same stem in image(s)/ and label(s)/ folders).
"""

from __future__ import annotations

from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, load_pair
from medmix.data.prepare.readers import strip_suffix, volume_suffix

#: Grouping (1+2, 3+4, 5) read in MedSAMix's code; right/left inferred from scripts reading the real files.
NASALSEG_LABELS = {
    1: "right maxillary sinus", 2: "left maxillary sinus", 3: "right nasal cavity", 4: "left nasal cavity",
    5: "nasopharynx",
}

LAYOUT = """
NasalSeg/                  (files found by name at any depth; __MACOSX ignored)
├── images/
│   ├── P001_img.nrrd      CT
│   └── …  P130_img.nrrd
└── labels/
    ├── P001_seg.nrrd      labels 1/2 maxillary sinus R/L, 3/4 nasal cavity R/L, 5 nasopharynx
    └── …  P130_seg.nrrd
(NIfTI copies also work: P001_img.nii.gz + P001_seg.nii.gz, or images/P001.nii.gz + labels/P001.nii.gz)
"""


@converter("nasalseg", title="NasalSeg nasal cavity and sinus CT", modality="CT", layout=LAYOUT,
           url="https://zenodo.org/records/13893419 (NasalSeg.zip; code: github.com/YichiZhang98/NasalSeg)")
def prepare_nasalseg(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                     ) -> PrepareReport:
    """NasalSeg CT (NRRD or NIfTI); labels 1/2 maxillary sinus R/L, 3/4 nasal cavity R/L, 5 nasopharynx; ids P001…"""
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
                   targets={"maxillary_sinuses": [1, 2], "nasal_cavities": [3, 4], "nasopharynx": [5]},
                   notes=["labels 1/2 right/left maxillary sinus, 3/4 right/left nasal cavity, 5 nasopharynx: the "
                          "grouping (MedSAMix tasks NasalSeg_1_2, NasalSeg_3_4, NasalSeg_5) is read in MedSAMix's "
                          "code; the left/right meaning is inferred from two scripts that read the real label "
                          "files; check one case visually if the side matters",
                          "NRRD voxels are read in file-axis order (nibabel's) and the LPS geometry converted to the "
                          "NIfTI (RAS) affine"])

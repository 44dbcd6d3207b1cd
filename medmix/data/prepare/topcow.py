"""TopCoW (Topology-Aware Anatomical Segmentation of the Circle of Willis), MICCAI 2023 and 2024 releases.

2024 (TopCoW2024_Data_Release): imagesTr/topcow_{mr,ct}_NNN_0000.nii.gz + cow_seg_labelsTr/topcow_{mr,ct}_NNN.nii.gz.
2023 (topcow_batch-*): imagesTr/topcow_{mr,ct}_{whole,roi}_NNN_0000.nii.gz + mul_labelsTr/… (multi-class) and
bin_labelsTr/… (binary); the whole-volume images with the multi-class labels are used.
Label ids are those of the official evaluation code (topcow24_eval constants MUL_CLASS_LABEL_MAP).
"""

from __future__ import annotations

import re
from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, load_pair
from medmix.errors import InputError

#: Circle-of-Willis vessel classes (13 and 14 are unused; 15 = third A2).
TOPCOW_LABELS = {
    1: "BA", 2: "R-PCA", 3: "L-PCA", 4: "R-ICA", 5: "R-MCA", 6: "L-ICA", 7: "L-MCA", 8: "R-Pcom", 9: "L-Pcom",
    10: "Acom", 11: "R-ACA", 12: "L-ACA", 15: "3rd-A2",
}
#: Label folders, newest release first; bin_labelsTr (binary) is deliberately not used.
LABEL_DIRS = ("cow_seg_labelsTr", "mul_labelsTr", "labelsTr")
_NAME = re.compile(r"topcow_(mr|ct)_(?:(whole|roi)_)?(\d+)")

LAYOUT = """
TopCoW2024_Data_Release/            (2024; --src may be this folder or a parent)
├── imagesTr/
│   ├── topcow_mr_001_0000.nii.gz   MRA (TOF)
│   ├── topcow_ct_001_0000.nii.gz   CTA
│   └── …
└── cow_seg_labelsTr/
    ├── topcow_mr_001.nii.gz        multi-class CoW labels
    └── …
topcow_batch-1_40pairMRCT_30062023/ (2023 release)
├── imagesTr/topcow_mr_whole_001_0000.nii.gz   ('roi' crops and bin_labelsTr are not used)
└── mul_labelsTr/topcow_mr_whole_001.nii.gz
"""
MODALITIES = {"mr": "MRA", "ct": "CTA"}


@converter("topcow", title="TopCoW Circle of Willis (2023/2024 training data)", modality="MRA", layout=LAYOUT,
           url="https://topcow24.grand-challenge.org/data/ (Zenodo record 15692630 for the 2024 release)")
def prepare_topcow(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                   modality: str = "mr") -> PrepareReport:
    """TopCoW vessels; modality= mr (MRA, default), ct (CTA) or both; multi-class CoW labels; ids topcow_mr_001…"""
    modality = modality.lower()
    if modality not in ("mr", "ct", "both"):
        raise InputError(f"topcow: modality={modality!r}; choose mr (MRA), ct (CTA) or both.")
    wanted = ("mr", "ct") if modality == "both" else (modality,)
    job = Job("topcow", src, dst)
    images: dict[str, Path] = {}
    labels: dict[str, Path] = {}
    skipped_other = 0
    roots = sorted({p.parent for p in job.files("topcow_*_0000.nii*") if p.parent.name == "imagesTr"})
    for root in roots:
        release = root.parent
        label_dir = next((release / d for d in LABEL_DIRS if (release / d).is_dir()), None)
        for img in sorted(root.glob("topcow_*_0000.nii*")):
            if img.name.startswith("."):
                continue
            m = _NAME.fullmatch(img.name.split("_0000.nii")[0])
            if m is None:
                continue
            if m.group(2) == "roi":
                continue  # 2023 region-of-interest crops duplicate the whole volumes
            if m.group(1) not in wanted:
                skipped_other += 1
                continue
            cid = m.group(0)
            if cid in images:
                raise job.layout_error(f"case {cid} found twice ({images[cid]} and {img}); point --src at one release")
            images[cid] = img
            if label_dir is not None:
                for ext in (".nii.gz", ".nii"):
                    if (label_dir / f"{cid}{ext}").is_file():
                        labels[cid] = label_dir / f"{cid}{ext}"
                        break
    if not images and skipped_other:
        raise job.layout_error(f"found only {'CTA' if modality == 'mr' else 'MRA'} images; pass modality=both or "
                               f"the other modality")
    cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: load_pair(img, lab))
             for cid, img, lab in job.pair(images, labels, image_what="imagesTr/topcow_* images",
                                           label_what="cow_seg_labelsTr (or mul_labelsTr) label maps")]
    vessel_ids = sorted(TOPCOW_LABELS)
    return job.run(cases, labels=TOPCOW_LABELS, modality=" + ".join(MODALITIES[w] for w in wanted),
                   options={"modality": modality}, overwrite=overwrite, progress=progress,
                   targets={"vessels": vessel_ids},
                   notes=["multi-class CoW labels as released (ids of the official evaluation code); any id > 0 is "
                          "vessel", "2023 'roi' crops and the binary bin_labelsTr are not used"])

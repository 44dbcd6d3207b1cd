"""BraTS 2021 (RSNA-ASNR-MICCAI Brain Tumor Segmentation) training data: 4 MR sequences + tumour labels per case.

By default (`modality="all"`) the image is the four sequences stacked as one 4D NIfTI (x, y, z, 4), channels in
the order `BRATS_SEQUENCES` = ("flair", "t1", "t1ce", "t2"): alphabetical, the order a sorted glob of the BraTS
file names gives. MedSAMix feeds channels 1 and 2 of its nnU-Net-style copy as two dataset entries; that they are
T1 and T1ce is inferred from this order (its task names "Tumor_T1" for channels 1, 2 and "Tumor T2, FLAIR" for
0, 3 fit only it). dataset.json then says `"channels": "multi"` and `"channel_names": [...]`, so task cards select
sequences by name. `modality="flair"` (or t1, t1ce, t2) writes that one sequence as a 3D image, as before.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from medmix.data.prepare.core import CaseSource, Job, LoadedCase, PrepareReport, ProgressFn, converter, load_pair
from medmix.errors import InputError

#: BraTS 2021 label ids (label 3 is unused since BraTS 2017).
BRATS_LABELS = {1: "necrotic tumour core (NCR)", 2: "peritumoral edema (ED)", 4: "enhancing tumour (ET)"}
#: The four sequences, in channel order of the multi-channel image (sorted file-name order).
BRATS_SEQUENCES = ("flair", "t1", "t1ce", "t2")
_MODALITIES = ("all", *BRATS_SEQUENCES)
_FILE_RE = re.compile(r"(.+)_(flair|t1|t1ce|t2|seg)\.nii(?:\.gz)?")
_SEQ_NAMES = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1ce", "t2": "T2"}

LAYOUT = """
RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021/   (any name; case folders found at any depth)
├── BraTS2021_00000/
│   ├── BraTS2021_00000_flair.nii.gz    channel 0 of the default 4-channel image
│   ├── BraTS2021_00000_t1.nii.gz       channel 1
│   ├── BraTS2021_00000_t1ce.nii.gz     channel 2
│   ├── BraTS2021_00000_t2.nii.gz       channel 3
│   └── BraTS2021_00000_seg.nii.gz      labels 1 NCR, 2 ED, 4 ET
└── …  BraTS2021_01666/
(the same <case>/<case>_<sequence>.nii.gz pattern of BraTS 2018–2020 works too; .nii also)
"""


def _load_all(cid: str, folder: Path, sequences: dict[str, Path], seg: Path, atol_mm: float = 1e-3) -> LoadedCase:
    """The four sequences stacked on a trailing axis (x, y, z, 4) in `BRATS_SEQUENCES` order, with the segmentation.

    Every sequence must have the segmentation's shape and all four the same affine (else InputError: the case
    fails, the others go on); a segmentation affine that differs beyond `atol_mm` becomes a note, as in
    `load_pair` (the sequences' geometry is written for both).
    """
    from medmix.data.prepare.readers import read_volume

    missing = [f"{cid}_{name}.nii.gz" for name in BRATS_SEQUENCES if name not in sequences]
    if missing:
        raise InputError(f"missing {', '.join(missing)} in {str(folder)!r}; modality=all needs all four sequences "
                         f"({', '.join(BRATS_SEQUENCES)}); restore the file(s), or prepare one sequence with "
                         "modality=<sequence>.")
    label = read_volume(seg)
    arrays: list[np.ndarray] = []
    first: tuple[Path, np.ndarray] | None = None
    for name in BRATS_SEQUENCES:
        path = sequences[name]
        vol = read_volume(path)
        if vol.array.shape != label.array.shape:
            raise InputError(f"{path.name} has shape {vol.array.shape} but {seg.name} has shape "
                             f"{label.array.shape}; all four sequences must lie on the segmentation's voxel grid.")
        if first is None:
            first = (path, vol.affine)
        elif not np.allclose(vol.affine, first[1], atol=atol_mm, rtol=0):
            diff = float(np.abs(vol.affine - first[1]).max())
            raise InputError(f"{path.name} and {first[0].name} have different affines (max difference {diff:.4g}); "
                             "the sequences cannot be stacked as channels of one image.")
        arrays.append(vol.array)
    assert first is not None
    notes: list[str] = []
    if not np.allclose(first[1], label.affine, atol=atol_mm, rtol=0):
        diff = float(np.abs(first[1] - label.affine).max())
        notes.append(f"label affine differs from the image affine (max difference {diff:.4g}); the image's "
                     "geometry is written for both")
    return LoadedCase(image=np.stack(arrays, axis=-1), label=label.array, affine=first[1], notes=notes)


@converter("brats2021", title="BraTS 2021 training data", modality="MRI", layout=LAYOUT,
           url="https://www.synapse.org/brats2021 (also Kaggle: 'brats-2021-task1')")
def prepare_brats2021(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                      modality: str = "all") -> PrepareReport:
    """BraTS 2021 glioma MRI; image (x, y, z, 4) flair/t1/t1ce/t2 (modality=all) or one sequence; labels 1, 2, 4."""
    modality = modality.lower()
    if modality not in _MODALITIES:
        raise InputError(f"brats2021: modality={modality!r} is not a BraTS sequence; choose all (the default: the "
                         f"four as channels) or one of {', '.join(BRATS_SEQUENCES)}.")
    job = Job("brats2021", src, dst)
    found: dict[Path, dict[str, Path]] = {}
    for path in job.files("*.nii*"):
        m = _FILE_RE.fullmatch(path.name)
        if m is None or m.group(1) != path.parent.name:
            continue
        kinds = found.setdefault(path.parent, {})
        if m.group(2) not in kinds or path.name.endswith(".gz"):  # .nii.gz preferred over a .nii of the same name
            kinds[m.group(2)] = path
    labels: dict[str, Path] = {}
    images: dict[str, Path] = {}
    sequences: dict[str, dict[str, Path]] = {}
    unlabelled = 0
    for folder, kinds in found.items():
        cid = folder.name
        if "seg" not in kinds:
            unlabelled += any(k in kinds for k in BRATS_SEQUENCES)
            continue
        if cid in labels:
            raise InputError(f"BraTS 2021 (brats2021): case {cid!r} found twice ({labels[cid]} and {kinds['seg']}); "
                             "point --src at one copy of the release.")
        labels[cid] = kinds["seg"]
        sequences[cid] = {k: kinds[k] for k in BRATS_SEQUENCES if k in kinds}
        if modality == "all" and sequences[cid]:
            images[cid] = folder
        elif modality in kinds:
            images[cid] = kinds[modality]
    what = "<case>_{flair,t1,t1ce,t2} images" if modality == "all" else f"<case>_{modality} images"
    pairs = job.pair(images, labels, image_what=what, label_what="<case>_seg label maps")
    if modality == "all":
        cases = [CaseSource(cid, {**sequences[cid], "label": lab},
                            lambda cid=cid, folder=folder, lab=lab: _load_all(cid, folder, sequences[cid], lab))
                 for cid, folder, lab in pairs]
    else:
        cases = [CaseSource(cid, {"image": img, "label": lab}, lambda img=img, lab=lab: load_pair(img, lab))
                 for cid, img, lab in pairs]
    if unlabelled:
        job.warn(f"{unlabelled} case folders without a _seg file (validation data) were not converted")
    targets = {"whole_tumour": [1, 2, 4], "tumour_core": [1, 4], "enhancing_tumour": [4]}
    if modality != "all":
        return job.run(cases, labels=BRATS_LABELS, modality=f"MRI ({_SEQ_NAMES[modality]})",
                       options={"modality": modality}, overwrite=overwrite, progress=progress, targets=targets,
                       notes=[f"image = the {modality} sequence (option modality=); the segmentation lies on the "
                              "shared 240×240×155 1 mm grid of all four sequences"])
    return job.run(cases, labels=BRATS_LABELS, modality="MRI (" + ", ".join(_SEQ_NAMES.values()) + ")",
                   options={"modality": modality}, overwrite=overwrite, progress=progress, targets=targets,
                   channels="multi", extra={"channel_names": list(BRATS_SEQUENCES)},
                   notes=["image = the four sequences as one 4D volume (x, y, z, 4), channels in the order of "
                          "channel_names: flair, t1, t1ce, t2 (alphabetical = a sorted glob of the BraTS file "
                          "names); MedSAMix's channel ids 1 and 2 are inferred to be t1 and t1ce from that order",
                          "the segmentation lies on the shared 240×240×155 1 mm grid of all four sequences; "
                          "modality=<sequence> writes one sequence as a 3D image instead",
                          "MedSAMix's nnU-Net-style copy relabels 4 → 3: its whole tumour {1, 2, 3} is labels "
                          "[1, 2, 4] here"])

"""Medical Segmentation Decathlon (MSD) tasks: Task02 Heart, Task05 Prostate, Task06 Lung, Task07 Pancreas.

Each task tarball unpacks to TaskXX_Name/{imagesTr,labelsTr,imagesTs,dataset.json}; the label table, modality and
training list come from its dataset.json. The tarballs carry macOS resource forks (`._la_003.nii.gz`), skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from medmix.data.prepare.core import CaseSource, Job, PrepareReport, ProgressFn, converter, is_junk, load_pair
from medmix.errors import InputError

MSD_URL = "http://medicaldecathlon.com/ (Google Drive / AWS links there)"

#: The official dataset.json contents used when the file is missing: task → (name, modality, labels).
MSD_TASKS = {
    "Task02_Heart": ("Heart", {"0": "MRI"}, {1: "left atrium"}),
    "Task05_Prostate": ("Prostate", {"0": "T2", "1": "ADC"}, {1: "PZ", 2: "TZ"}),
    "Task06_Lung": ("Lung", {"0": "CT"}, {1: "cancer"}),
    "Task07_Pancreas": ("Pancreas", {"0": "CT"}, {1: "pancreas", 2: "cancer"}),
}


def _layout(task: str, stem: str, note: str = "") -> str:
    return f"""
{task}/                 (--src may be this folder or its parent)
├── dataset.json
├── imagesTr/
│   ├── {stem}.nii.gz{note}
│   └── …
└── labelsTr/
    ├── {stem}.nii.gz
    └── …
(macOS '._*' files from the tarball are ignored; imagesTs has no labels and is not used)
"""


def _task_root(job: Job, task: str) -> Path:
    """The folder holding imagesTr/labelsTr: src itself, src/<task>, or the only match below src."""
    for cand in (job.src, job.src / task):
        if (cand / "imagesTr").is_dir() and (cand / "labelsTr").is_dir():
            return cand
    found = sorted(p.parent for p in job.src.rglob("labelsTr") if p.is_dir() and (p.parent / "imagesTr").is_dir()
                   and not is_junk(p.relative_to(job.src)))
    named = [p for p in found if p.name == task]
    if len(named) == 1:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise job.layout_error(f"no imagesTr/ + labelsTr/ folders under {str(job.src)!r}")
    raise job.layout_error(f"several MSD task folders under {str(job.src)!r} ({', '.join(p.name for p in found)}); "
                           f"pass the {task} folder itself")


def _prepare_msd(name: str, task: str, src: Path, dst: Path, *, overwrite: bool, progress: ProgressFn | None,
                 channel: int | None = None) -> PrepareReport:
    job = Job(name, src, dst)
    root = _task_root(job, task)
    official_name, modalities, labels = MSD_TASKS[task]
    meta_path = root / "dataset.json"
    training: list[tuple[str, str]] | None = None
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{meta_path}: not valid JSON ({exc}); extract the {task} tarball again.") from None
        if str(meta.get("name", official_name)).lower() != official_name.lower():
            raise job.layout_error(f"{meta_path} describes the MSD task {meta.get('name')!r}, not {official_name!r}; "
                                   f"point --src at {task}")
        modalities = meta.get("modality", modalities)
        labels = {int(k): v for k, v in (meta.get("labels") or {}).items() if int(k) != 0} or labels
        if meta.get("training"):
            training = [(e["image"], e["label"]) for e in meta["training"]]
    else:
        job.warn(f"{meta_path} is missing; the official {task} label table was used")

    def stem(p: Path) -> str:
        return p.name[: -len(".nii.gz")] if p.name.endswith(".nii.gz") else p.stem

    if training is not None:
        pairs = []
        for img_rel, lab_rel in training:
            img, lab = root / img_rel, root / lab_rel
            if not img.is_file() or not lab.is_file():
                job.warn(f"dataset.json lists {img_rel} / {lab_rel} but the file is missing; case not converted")
                continue
            pairs.append((stem(lab), img, lab))
        if not pairs:
            raise job.layout_error(f"none of the {len(training)} training cases listed in {meta_path} exists")
    else:
        def listing(folder: str) -> dict[str, Path]:
            return {stem(p): p for p in sorted((root / folder).glob("*.nii*")) if not p.name.startswith(".")}

        pairs = job.pair(listing("imagesTr"), listing("labelsTr"), image_what="imagesTr files",
                         label_what="labelsTr files")
    cases = [CaseSource(cid, {"image": img, "label": lab},
                        lambda img=img, lab=lab: load_pair(img, lab, image_channel=channel))
             for cid, img, lab in pairs]
    modality = ", ".join(str(v) for v in modalities.values()) if isinstance(modalities, dict) else str(modalities)
    notes = []
    options: dict = {}
    if channel is not None:
        channel_name = modalities.get(str(channel), f"channel {channel}") if isinstance(modalities, dict) else ""
        modality = f"MRI ({channel_name})"
        options["channel"] = channel
        notes.append(f"4D images (x, y, z, channel): channel {channel} ({channel_name}) kept; channels were "
                     f"{modalities}")
    return job.run(cases, labels=labels, modality=modality, options=options, overwrite=overwrite, progress=progress,
                   notes=notes, targets=_TARGETS[task], extra={"msd_task": task})


_TARGETS = {
    "Task02_Heart": {"left_atrium": [1]},
    "Task05_Prostate": {"prostate": [1, 2], "peripheral_zone": [1], "transition_zone": [2]},
    "Task06_Lung": {"lung_tumour": [1]},
    "Task07_Pancreas": {"pancreas_tumour": [2], "pancreas_with_tumour": [1, 2]},
}


@converter("msd_task02", title="MSD Task02 Heart", modality="MRI", url=MSD_URL,
           layout=_layout("Task02_Heart", "la_003"))
def prepare_msd_task02(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                       ) -> PrepareReport:
    """MSD Task02 Heart: mono-modal MRI, label 1 = left atrium; ids la_003…"""
    return _prepare_msd("msd_task02", "Task02_Heart", src, dst, overwrite=overwrite, progress=progress)


@converter("msd_task05", title="MSD Task05 Prostate", modality="MRI (T2)", url=MSD_URL,
           layout=_layout("Task05_Prostate", "prostate_00", "   4D: (x, y, z, 2) = T2, ADC"))
def prepare_msd_task05(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None,
                       channel: int = 0) -> PrepareReport:
    """MSD Task05 Prostate: T2 channel (channel=1 for ADC) of the 4D MR; labels 1 PZ, 2 TZ; ids prostate_00…"""
    return _prepare_msd("msd_task05", "Task05_Prostate", src, dst, overwrite=overwrite, progress=progress,
                        channel=channel)


@converter("msd_task06", title="MSD Task06 Lung", modality="CT", url=MSD_URL, layout=_layout("Task06_Lung", "lung_001"))
def prepare_msd_task06(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                       ) -> PrepareReport:
    """MSD Task06 Lung: CT, label 1 = lung cancer (tumour); ids lung_001…"""
    return _prepare_msd("msd_task06", "Task06_Lung", src, dst, overwrite=overwrite, progress=progress)


@converter("msd_task07", title="MSD Task07 Pancreas", modality="CT", url=MSD_URL,
           layout=_layout("Task07_Pancreas", "pancreas_001"))
def prepare_msd_task07(src: Path, dst: Path, *, overwrite: bool = False, progress: ProgressFn | None = None
                       ) -> PrepareReport:
    """MSD Task07 Pancreas: portal-venous CT, labels 1 pancreas, 2 cancer (tumour); ids pancreas_001…"""
    return _prepare_msd("msd_task07", "Task07_Pancreas", src, dst, overwrite=overwrite, progress=progress)

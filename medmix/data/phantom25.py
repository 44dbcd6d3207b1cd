"""`phantom25`: 25 synthetic tasks that mirror the 25 `medsamix25` targets, generated in milliseconds, no download.

Each task is named after the real task it mirrors with a `phantom_` prefix (`phantom_flare22_liver` mirrors
`flare22_liver`), so results of both suites can share one table without colliding. Tasks that share a real dataset
share a phantom *scene* with the same label ids (the five FLARE22 tasks all read the `flare22` scene, whose label
map holds liver 1, right kidney 2, spleen 3, pancreas 4, aorta 5, stomach 11, left kidney 13): the model must
use its box, not a global intensity rule, to pick the target, and the other organs act as distractors.

Geometry: scenes are drawn on at most 64×64×24 voxels (x, y, z) with z the slice axis and anisotropic spacing
(e.g. 5.5×5.5×8 mm for the abdomen, 2.5×2.5×5 mm for the tumour scenes); the returned arrays keep that order
(slice axis 2) except where the real dataset stores its axial axis elsewhere: kits (axis 0, KiTS's (z, y, x)) and
freesurfer (axis 1, FreeSurfer's conformed LIA volumes). The affine maps the slice axis to world z. Fundus images
are 96×96 RGB (2D, spacing 1 px). Organs are ellipsoids with smooth random
radial deformation, vessels are capsule chains, lesions are near-spherical blobs. Every target leaves empty slices
at one end of the volume at least.

Intensities follow the modality: CT scenes are in Hounsfield units (so a card's CT window matters), MRI/MRA in
arbitrary units with a smooth multiplicative bias field, fundus in 8-bit RGB. Each target has its own mean
intensity, distinct from its neighbours but within a few noise SDs of some of them, plus Gaussian noise, smooth
texture and a slight partial-volume blur: learnable, not trivial.

Oncology scenes (kits, lits, msd_task06, msd_task07) draw the lesion diameters per case from a fixed list chosen so
that the size-only T category (3D Feret diameter between voxel corners, `medmix.staging.stage_mask`) varies across
cases, with diameters on both sides of the AJCC thresholds; lits has solitary and multiple lesions (HCC T1a/T1b
vs T2/T3), kits, lits and msd_task06 have multi-lesion cases.

Determinism: case `k` of scene `s` with seed `seed` uses `np.random.default_rng([seed, crc32(s), k])`, so it is
bit-identical across runs and platforms and independent of which other cases are generated. `N_CASES` = 10 cases
per task (`case_000` … `case_009`: with the 20 % calibration split, 2 calibration + 8 test), and `N_TRAIN_CASES` = 30
more (`case_010` … `case_039`, the "train" split) for fine-tuning specialists on data that neither calibration nor
test holds.

API: `PHANTOM_TASKS` (name → `PhantomTask`), `SCENES` (scene → `PhantomScene`), `generate_case(task_name,
case_index, seed=0) -> Case` (binary target mask as label, raw intensities as image), `render_scene(scene,
case_index, seed=0) -> (image, label_map, spacing)`, `phantom_case_ids(n=N_CASES)`, `load_phantom_case(scene,
case_id, labels, task, seed=0)`, `generate_suite(seed=0)`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from medmix.data import phantom_painters as paint
from medmix.data.cases import Case
from medmix.data.phantom_canvas import Canvas, render_fundus
from medmix.errors import InputError, UnknownNameError

N_CASES = 10
N_TRAIN_CASES = 30  # case_010 … case_039: the "train" split, for fine-tuning specialists
TASK_PREFIX = "phantom_"


@dataclass(frozen=True)
class PhantomScene:
    """A synthetic dataset: grid, modality, channels and the label ids its label maps use."""

    name: str
    modality: str
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    labels: dict[int, str]
    channels: str = "grey"
    description: str = ""
    slice_axis: int | None = 2

    @property
    def axes(self) -> tuple[int, ...]:
        """Array axis a of a returned case holds axis `axes[a]` of the (x, y, z) grid the scene is drawn on: the
        slice (z) axis is moved to `slice_axis`, as the real dataset stores it (KiTS: axis 0, FreeSurfer: axis 1)."""
        if self.slice_axis is None or len(self.shape) == 2:
            return tuple(range(len(self.shape)))
        axes = [0, 1]
        axes.insert(self.slice_axis, 2)
        return tuple(axes)

    @property
    def array_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[a] for a in self.axes)

    @property
    def array_spacing(self) -> tuple[float, ...]:
        return tuple(float(self.spacing[a]) for a in self.axes)

    @property
    def affine(self) -> np.ndarray:
        """Voxel → world (mm) matrix of the returned arrays: world x, y, z = the drawing grid's axes, so the slice
        axis is the superior–inferior one."""
        affine = np.eye(4)
        if len(self.shape) == 3:
            affine[:3, :3] = 0.0
            for a, grid_axis in enumerate(self.axes):
                affine[grid_axis, a] = self.spacing[grid_axis]
        else:
            affine[0, 0], affine[1, 1] = self.spacing
        return affine


@dataclass(frozen=True)
class PhantomTask:
    """One phantom task: the `scene` it reads, the target `labels` (union), and the real task it `mirrors`."""

    name: str
    mirrors: str
    scene: str
    target: str
    labels: tuple[int, ...]
    modality: str
    channels: str = "grey"
    staging: str | None = None
    intensity: dict = field(default_factory=dict)
    slice_axis: int | None = 2


_ABDOMEN_CT = dict(kind="ct_window", level=40, width=400)
_AIR_CT = dict(kind="ct_window", level=-600, width=1500)
_MRI = dict(kind="percentile", low=0.5, high=99.5, scope="nonzero")
_MRA = dict(kind="percentile", low=0.5, high=99.9, scope="nonzero")
_RGB = dict(kind="none")


SCENES: dict[str, PhantomScene] = {
    s.name: s
    for s in [
        PhantomScene("flare22", "CT", (64, 64, 24), (5.5, 5.5, 8.0),
                     {1: "liver", 2: "right_kidney", 3: "spleen", 4: "pancreas", 5: "aorta", 11: "stomach",
                      13: "left_kidney"}, description="abdominal CT (HU)"),
        PhantomScene("promise12", "MRI", (64, 64, 20), (1.6, 1.6, 3.6), {1: "prostate"},
                     description="T2 prostate MRI"),
        PhantomScene("msd_task05", "MRI", (64, 64, 20), (1.5, 1.5, 4.0),
                     {1: "peripheral_zone", 2: "transition_zone"}, description="T2 prostate MRI, two zones"),
        PhantomScene("rat", "MRI", (48, 48, 24), (1.2, 1.2, 8.0), {1: "brain", 4: "lung", 12: "pancreas"},
                     description="whole-body rat MRI; MedSAMix's rat label ids (1, 4, 12), organ names inferred"),
        PhantomScene("nasalseg", "CT", (64, 64, 24), (1.5, 1.5, 3.0),
                     {1: "right_maxillary_sinus", 2: "left_maxillary_sinus", 3: "right_nasal_cavity",
                      4: "left_nasal_cavity", 5: "nasopharynx"}, description="head CT (HU)"),
        PhantomScene("msd_task02", "MRI", (64, 64, 24), (2.0, 2.0, 3.0), {1: "left_atrium"},
                     description="cardiac MRI"),
        PhantomScene("brats2021", "MRI", (64, 64, 24), (3.0, 3.5, 6.0),
                     {1: "necrotic_core", 2: "edema", 4: "enhancing_tumour"}, description="brain FLAIR MRI"),
        PhantomScene("freesurfer", "MRI", (64, 64, 24), (2.5, 3.0, 4.0),
                     {4: "left_lateral_ventricle", 10: "left_thalamus", 17: "left_hippocampus",
                      43: "right_lateral_ventricle", 49: "right_thalamus", 53: "right_hippocampus"},
                     description="T1 brain MRI; axial axis 1, as in FreeSurfer's conformed LIA volumes", slice_axis=1),
        PhantomScene("topcow", "MRA", (64, 64, 24), (0.9, 0.9, 1.4), dict(paint.TOPCOW_LABELS),
                     description="TOF MRA of the circle of Willis"),
        PhantomScene("fundus", "fundus", (96, 96), (1.0, 1.0), {1: "optic_disc_rim", 2: "optic_cup"},
                     channels="rgb", description="colour fundus photograph (8-bit RGB)"),
        PhantomScene("kits", "CT", (64, 64, 24), (2.5, 2.5, 5.0), {1: "kidney", 2: "tumour", 3: "cyst"},
                     description="kidney CT (HU), tumours across T1a–T2a; axial axis 0, as KiTS stores (z, y, x)",
                     slice_axis=0),
        PhantomScene("lits", "CT", (64, 64, 24), (3.0, 3.0, 5.0), {1: "liver", 2: "tumour"},
                     description="liver CT (HU), solitary and multiple tumours (HCC T1a–T3)"),
        PhantomScene("msd_task06", "CT", (64, 64, 24), (2.5, 2.5, 5.0), {1: "tumour"},
                     description="lung CT (HU), tumours across T1a–T4"),
        PhantomScene("msd_task07", "CT", (64, 64, 24), (1.5, 1.5, 3.0), {1: "pancreas", 2: "tumour"},
                     description="pancreas CT (HU), tumours across T1a–T3"),
    ]
}

_PAINTERS = {
    "flare22": (paint.flare22, -1000.0, dict(noise_sd=14, texture_sd=8, clip=(-1024, 3000))),
    "promise12": (paint.promise12, 40.0, dict(noise_sd=25, texture_sd=15, bias=0.15, clip=(0, None))),
    "msd_task05": (paint.msd_task05, 40.0, dict(noise_sd=28, texture_sd=15, bias=0.15, clip=(0, None))),
    "rat": (paint.rat, 20.0, dict(noise_sd=22, texture_sd=12, bias=0.12, clip=(0, None))),
    "nasalseg": (paint.nasalseg, -1000.0, dict(noise_sd=20, texture_sd=10, clip=(-1024, 3000))),
    "msd_task02": (paint.msd_task02, 20.0, dict(noise_sd=40, texture_sd=20, bias=0.15, clip=(0, None))),
    "brats2021": (paint.brats2021, 0.0, dict(noise_sd=22, texture_sd=15, bias=0.1, clip=(0, None))),
    "freesurfer": (paint.freesurfer, 0.0, dict(noise_sd=18, texture_sd=10, bias=0.1, clip=(0, None))),
    "topcow": (paint.topcow, 40.0, dict(noise_sd=18, texture_sd=12, bias=0.1, blur_vox=0.5, clip=(0, None))),
    "kits": (paint.kits, -1000.0, dict(noise_sd=12, texture_sd=8, clip=(-1024, 3000))),
    "lits": (paint.lits, -1000.0, dict(noise_sd=12, texture_sd=8, clip=(-1024, 3000))),
    "msd_task06": (paint.msd_task06, -1000.0, dict(noise_sd=20, texture_sd=10, clip=(-1024, 3000))),
    "msd_task07": (paint.msd_task07, -1000.0, dict(noise_sd=12, texture_sd=8, clip=(-1024, 3000))),
}


# --- the 25 tasks -----------------------------------------------------------------------------------------------


def _task(mirrors, scene, target, labels, staging=None):
    s = SCENES[scene]
    intensity = {"CT": _ABDOMEN_CT, "fundus": _RGB}.get(s.modality, _MRI)
    if scene in ("nasalseg", "msd_task06"):
        intensity = _AIR_CT
    if scene == "topcow":
        intensity = _MRA
    return PhantomTask(TASK_PREFIX + mirrors, mirrors, scene, target, tuple(labels), s.modality, s.channels, staging,
                       dict(intensity), None if s.channels == "rgb" else s.slice_axis)


PHANTOM_TASKS: dict[str, PhantomTask] = {
    t.name: t
    for t in [
        _task("flare22_liver", "flare22", "liver", [1]),
        _task("flare22_right_kidney", "flare22", "right_kidney", [2]),
        _task("flare22_spleen", "flare22", "spleen", [3]),
        _task("flare22_pancreas", "flare22", "pancreas", [4]),
        _task("flare22_left_kidney", "flare22", "left_kidney", [13]),
        _task("promise12_prostate", "promise12", "prostate", [1]),
        _task("msd_task05_prostate", "msd_task05", "prostate", [1, 2]),
        _task("rat_lung", "rat", "lung", [4]),
        _task("rat_pancreas", "rat", "pancreas", [12]),
        _task("rat_brain", "rat", "brain", [1]),
        _task("nasalseg_maxillary_sinuses", "nasalseg", "maxillary_sinuses", [1, 2]),
        _task("nasalseg_nasal_cavities", "nasalseg", "nasal_cavities", [3, 4]),
        _task("nasalseg_nasopharynx", "nasalseg", "nasopharynx", [5]),
        _task("msd_task02_left_atrium", "msd_task02", "left_atrium", [1]),
        _task("brats2021_whole_tumour", "brats2021", "whole_tumour", [1, 2, 4]),
        _task("fcon1000_lateral_ventricles", "freesurfer", "lateral_ventricles", [4, 43]),
        _task("fcon1000_hippocampus", "freesurfer", "hippocampus", [17, 53]),
        _task("fcon1000_thalamus", "freesurfer", "thalamus", [10, 49]),
        _task("topcow_vessels", "topcow", "circle_of_willis", sorted(paint.TOPCOW_LABELS)),
        _task("fundus_domain1_optic_cup", "fundus", "optic_cup", [2]),
        _task("fundus_domain2_optic_disc", "fundus", "optic_disc", [1, 2]),
        _task("kits_kidney_tumour", "kits", "kidney_tumour", [2], staging="kidney"),
        _task("lits_liver_tumour", "lits", "liver_tumour", [2], staging="liver_hcc"),
        _task("msd_task06_lung_tumour", "msd_task06", "lung_tumour", [1], staging="lung"),
        _task("msd_task07_pancreas_tumour", "msd_task07", "pancreas_tumour", [2], staging="pancreas"),
    ]
}


# --- rendering --------------------------------------------------------------------------------------------------


def _rng(seed: int, scene: str, case_index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(scene.encode("utf-8")), int(case_index)])


@lru_cache(maxsize=64)
def _render_cached(scene: str, case_index: int, seed: int):
    spec = SCENES[scene]
    rng = _rng(seed, scene, case_index)
    if scene == "fundus":
        image, label = render_fundus(spec.shape, rng, case_index)
    else:
        painter, background, finish = _PAINTERS[scene]
        canvas = Canvas(spec, rng, background)
        painter(canvas, case_index)
        image, label = canvas.finish(**finish)
    if spec.axes != tuple(range(image.ndim)) and spec.channels == "grey":
        image = np.ascontiguousarray(np.transpose(image, spec.axes))
        label = np.ascontiguousarray(np.transpose(label, spec.axes))
    image.setflags(write=False)
    label.setflags(write=False)
    return image, label


def render_scene(scene: str, case_index: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Case `case_index` of phantom scene `scene`: (image float32 — HU for CT, arbitrary units for MRI/MRA, 0–255
    RGB with a trailing axis of 3 for fundus —, integer label map with the scene's label ids, spacing in mm per
    array axis). The slice axis is `SCENES[scene].slice_axis` (2 except kits: 0 and freesurfer: 1, mirroring the
    real datasets). Bit-identical for the same arguments; the arrays are fresh copies."""
    if scene not in SCENES:
        raise UnknownNameError("phantom scene", scene, SCENES)
    if isinstance(case_index, bool) or not isinstance(case_index, (int, np.integer)) or case_index < 0:
        raise InputError(f"phantom case index must be an integer ≥ 0, got {case_index!r}.")
    image, label = _render_cached(scene, int(case_index), int(seed))
    return image.copy(), label.copy(), SCENES[scene].array_spacing


# --- cases ------------------------------------------------------------------------------------------------------


def phantom_case_ids(n: int = N_CASES) -> list[str]:
    """Case ids of every phantom task: case_000 … case_{n-1:03d} (sorted order = index order)."""
    return [f"case_{i:03d}" for i in range(n)]


def phantom_train_case_ids(n: int = N_TRAIN_CASES) -> list[str]:
    """The training cases: case_010 … (indices after the N_CASES evaluation cases, so a model trained on them has
    seen neither the calibration nor the test cases of any task)."""
    return [f"case_{i:03d}" for i in range(N_CASES, N_CASES + n)]


def _case_index(case_id: str, n: int = N_CASES) -> int:
    ids = phantom_case_ids(n) + phantom_train_case_ids()
    if case_id not in ids:
        raise UnknownNameError("phantom case", case_id, ids)
    return ids.index(case_id)


def load_phantom_case(scene: str, case_id: str, labels: Sequence[int], task: str, seed: int = 0) -> Case:
    """Phantom case `case_id` of `scene` as a `Case` whose label is the binary union of `labels` (uint8 0/1) and
    whose image holds raw intensities (HU for CT; 0–255 RGB for fundus)."""
    spec = SCENES.get(scene)
    if spec is None:
        raise UnknownNameError("phantom scene", scene, SCENES)
    index = _case_index(case_id)
    image, label_map, spacing = render_scene(scene, index, seed)
    target = np.isin(label_map, np.asarray(list(labels))).astype(np.uint8)
    affine = spec.affine
    return Case(
        task=task, case_id=case_id, image=image, label=target, spacing=tuple(float(s) for s in spacing),
        affine=affine, channels=spec.channels,
        meta={"source": "phantom", "scene": scene, "seed": int(seed), "case_index": index,
              "labels": [int(x) for x in labels], "modality": spec.modality},
    )


def generate_case(task_name: str, case_index: int, seed: int = 0) -> Case:
    """Case `case_index` (0 … N_CASES−1; larger indices also work) of phantom task `task_name` (a key of
    `PHANTOM_TASKS`, e.g. "phantom_kits_kidney_tumour"); label = binary target mask (uint8), image = raw
    intensities (HU for CT, 0–255 RGB for fundus). Deterministic in (scene, case_index, seed)."""
    task = PHANTOM_TASKS.get(task_name)
    if task is None:
        raise UnknownNameError("phantom task", task_name, PHANTOM_TASKS)
    image, label_map, spacing = render_scene(task.scene, case_index, seed)
    target = np.isin(label_map, np.asarray(task.labels)).astype(np.uint8)
    affine = SCENES[task.scene].affine
    return Case(
        task=task.name, case_id=f"case_{int(case_index):03d}", image=image, label=target,
        spacing=tuple(float(s) for s in spacing), affine=affine, channels=task.channels,
        meta={"source": "phantom", "scene": task.scene, "seed": int(seed), "case_index": int(case_index),
              "labels": list(task.labels), "modality": task.modality, "mirrors": task.mirrors},
    )


def generate_suite(seed: int = 0, n_cases: int = N_CASES) -> dict[str, list[Case]]:
    """Every phantom task's cases: {task name: [Case, ...]} (25 × n_cases cases)."""
    return {name: [generate_case(name, i, seed) for i in range(n_cases)] for name in PHANTOM_TASKS}


__all__ = [
    "N_CASES", "N_TRAIN_CASES", "PHANTOM_TASKS", "PhantomScene", "PhantomTask", "SCENES", "TASK_PREFIX",
    "generate_case", "generate_suite", "load_phantom_case", "phantom_case_ids", "phantom_train_case_ids",
    "render_scene",
]

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
per task (`case_000` … `case_009`: with the 20 % calibration split, 2 calibration + 8 test).

API: `PHANTOM_TASKS` (name → `PhantomTask`), `SCENES` (scene → `PhantomScene`), `generate_case(task_name,
case_index, seed=0) -> Case` (binary target mask as label, raw intensities as image), `render_scene(scene,
case_index, seed=0) -> (image, label_map, spacing)`, `phantom_case_ids(n=N_CASES)`, `load_phantom_case(scene,
case_id, labels, task, seed=0)`, `generate_suite(seed=0)`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from medmix.data.cases import Case
from medmix.errors import InputError, UnknownNameError

N_CASES = 10
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


# --- drawing helpers --------------------------------------------------------------------------------------------


class _Canvas:
    """Paints structures (in mm, relative to the volume centre) into a mean-intensity image and a label map."""

    def __init__(self, scene: PhantomScene, rng: np.random.Generator, background: float):
        self.scene = scene
        self.rng = rng
        self.shape = scene.shape
        self.spacing = np.asarray(scene.spacing, dtype=float)
        self.extent = np.asarray(self.shape, dtype=float) * self.spacing
        self.mean = np.full(self.shape, background, dtype=np.float32)
        self.label = np.zeros(self.shape, dtype=np.uint8)

    # voxel-centre coordinates (mm, centred) of a bounding box
    def _box(self, lo_mm, hi_mm):
        lo = np.floor((np.asarray(lo_mm) + self.extent / 2) / self.spacing - 0.5).astype(int)
        hi = np.ceil((np.asarray(hi_mm) + self.extent / 2) / self.spacing - 0.5).astype(int) + 1
        lo = np.clip(lo, 0, self.shape)
        hi = np.clip(hi, 0, self.shape)
        if np.any(hi <= lo):
            return None, None
        sl = tuple(slice(a, b) for a, b in zip(lo, hi))
        coords = [
            ((np.arange(a, b) + 0.5) * s - e / 2).reshape([-1 if i == j else 1 for j in range(len(self.shape))])
            for i, (a, b, s, e) in enumerate(zip(lo, hi, self.spacing, self.extent))
        ]
        return sl, coords

    def blob(self, centre, radii, *, roughness=0.1, angle_deg=0.0, harmonics=4):
        """Boolean mask of a deformed ellipsoid (ellipse in 2D): ρ ≤ 1 + δ(direction), δ a sum of a few random
        cosines of the direction. A radius ≥ 1000 mm along the last axis makes a cylinder (same cross-section in
        every slice), drawn in 2D and broadcast."""
        centre = np.asarray(centre, dtype=float)
        radii = np.asarray(radii, dtype=float)
        ndim = len(self.shape)
        cylinder = ndim == 3 and radii[2] >= 1000.0
        dims = 2 if cylinder else ndim
        # Draw the deformation first, so the random stream does not depend on the grid.
        waves = []
        for _ in range(harmonics if roughness > 0 else 0):
            w = self.rng.normal(size=ndim)[:dims]
            w *= self.rng.uniform(0.6, 1.6) / (np.linalg.norm(w) or 1.0)
            phase = self.rng.uniform(0, 2 * np.pi)
            amp = self.rng.uniform(0.5, 1.0) * roughness / math.sqrt(harmonics) * 1.5
            waves.append((w, phase, amp))
        bound = sum(a for _, _, a in waves)
        reach = radii[:dims] * (1 + bound) + self.spacing[:dims]
        if angle_deg:
            reach[0] = reach[1] = max(reach[0], reach[1])
        mask = np.zeros(self.shape, dtype=bool)
        lo = np.concatenate([centre[:dims] - reach, [-np.inf] * (ndim - dims)])
        hi = np.concatenate([centre[:dims] + reach, [np.inf] * (ndim - dims)])
        sl, coords = self._box(np.maximum(lo, -self.extent), np.minimum(hi, self.extent))
        if sl is None:
            return mask
        coords = coords[:dims]
        if cylinder:
            coords = [c.reshape(c.shape[:2]) for c in coords]
        d = [c - m for c, m in zip(coords, centre)]
        if angle_deg:
            a = math.radians(angle_deg)
            d[0], d[1] = d[0] * math.cos(a) + d[1] * math.sin(a), -d[0] * math.sin(a) + d[1] * math.cos(a)
        u = np.broadcast_arrays(*[di / ri for di, ri in zip(d, radii)])
        rho = np.sqrt(sum(ui * ui for ui in u))
        inside = rho <= 1.0 - bound
        if waves:
            shell = (rho <= 1.0 + bound) & ~inside
            r_shell = np.maximum(rho[shell], 1e-9)
            dirs = [ui[shell] / r_shell for ui in u]
            delta = np.zeros_like(r_shell)
            for w, phase, amp in waves:
                delta += amp * np.cos(2 * np.pi * sum(wi * di for wi, di in zip(w, dirs)) + phase)
            inside[shell] = r_shell <= 1.0 + delta
        if cylinder:
            inside = inside[:, :, None]
        mask[sl] = np.broadcast_to(inside, mask[sl].shape)
        return mask

    def tube(self, points, radius):
        """Boolean mask of capsules of `radius` mm joining consecutive `points` (mm)."""
        points = [np.asarray(p, dtype=float) for p in points]
        mask = np.zeros(self.shape, dtype=bool)
        for p, q in zip(points, points[1:]):
            lo = np.minimum(p, q) - radius - self.spacing
            hi = np.maximum(p, q) + radius + self.spacing
            sl, coords = self._box(lo, hi)
            if sl is None:
                continue
            v = q - p
            vv = float(v @ v) or 1e-9
            t = sum((c - pi) * vi for c, pi, vi in zip(coords, p, v)) / vv
            t = np.clip(t, 0.0, 1.0)
            dist2 = sum((c - (pi + t * vi)) ** 2 for c, pi, vi in zip(coords, p, v))
            mask[sl] |= dist2 <= radius * radius
        return mask

    def paint(self, mask, value, label=None, sd=0.0):
        """Set the mean intensity (value ± a per-structure offset of SD `sd`) and optionally the label."""
        if sd:
            value = value + self.rng.normal(0.0, sd)
        self.mean[mask] = value
        if label is not None:
            self.label[mask] = label
        return mask

    def jitter(self, centre, mm):
        return np.asarray(centre, dtype=float) + self.rng.uniform(-mm, mm, size=len(centre))

    def scale(self, radii, lo=0.88, hi=1.12):
        return np.asarray(radii, dtype=float) * self.rng.uniform(lo, hi, size=len(radii))

    def finish(self, noise_sd, texture_sd=0.0, blur_vox=0.6, bias=0.0, clip=None):
        from scipy import ndimage

        image = self.mean
        if blur_vox:
            image = ndimage.gaussian_filter(image, blur_vox, mode="nearest")
        if texture_sd:
            image = image + texture_sd * _smooth_field(self.rng, self.shape, 6)
        if bias:
            image = image * (1.0 + bias * _smooth_field(self.rng, self.shape, 3))
        image = image + self.rng.normal(0.0, noise_sd, size=self.shape).astype(np.float32)
        if clip is not None:
            image = np.clip(image, *clip)
        return image.astype(np.float32), self.label


def _smooth_field(rng: np.random.Generator, shape: Sequence[int], cells: int) -> np.ndarray:
    """Smooth random field of unit SD: a coarse Gaussian grid (`cells` per axis at most) linearly interpolated to
    `shape` (separable interpolation matrices, so it costs far less than ndimage.zoom)."""
    coarse_shape = tuple(max(2, min(cells, n // 4 + 1)) for n in shape)
    field_ = rng.standard_normal(coarse_shape)
    for axis, (n, c) in enumerate(zip(shape, coarse_shape)):
        pos = np.linspace(0.0, c - 1.0, n)
        i0 = np.minimum(np.floor(pos).astype(int), c - 2)
        t = pos - i0
        weights = np.zeros((n, c))
        weights[np.arange(n), i0] = 1.0 - t
        weights[np.arange(n), i0 + 1] = t
        field_ = np.moveaxis(np.tensordot(weights, field_, axes=([1], [axis])), 0, axis)
    sd = float(field_.std()) or 1.0
    return (field_ / sd).astype(np.float32)


def _sphere_points(rng, centre, spread):
    return np.asarray(centre, dtype=float) + rng.uniform(-1, 1, size=len(centre)) * np.asarray(spread, dtype=float)


# --- scenes ---------------------------------------------------------------------------------------------------

_ABDOMEN_CT = dict(kind="ct_window", level=40, width=400)
_AIR_CT = dict(kind="ct_window", level=-600, width=1500)
_MRI = dict(kind="percentile", low=0.5, high=99.5, scope="nonzero")
_MRA = dict(kind="percentile", low=0.5, high=99.9, scope="nonzero")
_RGB = dict(kind="none")


def _flare22(c: _Canvas, k: int) -> None:
    big = 1e4
    body = c.blob(c.jitter((0, 0, 0), 6), (c.scale((165, 118), 0.95, 1.05).tolist() + [big]), roughness=0.03)
    c.paint(body, -95, sd=5)  # subcutaneous fat
    inner = c.blob(c.jitter((0, 0, 0), 4), (150, 102, big), roughness=0.04)
    c.paint(inner, 25, sd=6)  # muscle wall / bowel soft tissue
    c.paint(c.blob(c.jitter((0, 10, 0), 8), (125, 70, big), roughness=0.08), -30, sd=8)  # mesenteric fat
    c.paint(c.blob(c.jitter((0, -72, 0), 3), (20, 18, big), roughness=0.0), 650, sd=40)  # vertebra
    aorta = c.tube([c.jitter((-12, -45, -120), 3), c.jitter((-12, -42, 120), 3)], 11)
    c.paint(aorta, 190, label=5, sd=10)
    stomach = c.blob(c.jitter((-45, 40, 45), 10), c.scale((42, 30, 35)), roughness=0.12)
    c.paint(stomach, -550, label=11, sd=60)
    liver = c.blob(c.jitter((62, 12, 35), 8), c.scale((78, 72, 80)), roughness=0.12, angle_deg=c.rng.uniform(-15, 15))
    c.paint(liver, 60, label=1, sd=6)
    spleen = c.blob(c.jitter((-85, -25, 45), 8), c.scale((33, 45, 52)), roughness=0.12,
                    angle_deg=c.rng.uniform(-25, 25))
    c.paint(spleen, 108, label=3, sd=6)
    for x, label in ((55, 2), (-55, 13)):
        kidney = c.blob(c.jitter((x, -52, -30), 7), c.scale((27, 30, 50)), roughness=0.08,
                        angle_deg=c.rng.uniform(-20, 20))
        c.paint(kidney, 168, label=label, sd=8)
    pancreas = c.blob(c.jitter((-8, -15, -5), 6), c.scale((62, 15, 22)), roughness=0.15,
                      angle_deg=c.rng.uniform(5, 25))
    c.paint(pancreas & (c.label == 0), 85, label=4, sd=6)


def _promise12(c: _Canvas, k: int) -> None:
    big = 1e4
    c.paint(c.blob((0, 0, 0), (70, 60, big), roughness=0.05), 520, sd=20)  # pelvic fat (T2 bright)
    c.paint(c.blob(c.jitter((0, 0, 0), 3), (52, 44, big), roughness=0.08), 280, sd=15)  # muscle
    for x in (-44, 44):
        c.paint(c.blob(c.jitter((x, 0, 0), 3), (9, 14, big), roughness=0.05), 110, sd=10)  # bone
    c.paint(c.blob(c.jitter((0, -30, 0), 3), (13, 10, big), roughness=0.1), 170, sd=15)  # rectum
    c.paint(c.blob(c.jitter((0, 10, 48), 5), c.scale((32, 26, 24)), roughness=0.1), 900, sd=40)  # bladder
    prostate = c.blob(c.jitter((0, -2, -2), 4), c.scale((22, 18, 20)), roughness=0.08)
    c.paint(prostate, 390, label=1, sd=15)
    core = c.blob(c.jitter((0, 2, 0), 2), c.scale((12, 9, 12)), roughness=0.1) & prostate
    c.paint(core, 335, sd=10)


def _msd_task05(c: _Canvas, k: int) -> None:
    big = 1e4
    c.paint(c.blob((0, 0, 0), (62, 58, big), roughness=0.05), 480, sd=20)
    c.paint(c.blob(c.jitter((0, 0, 0), 3), (46, 40, big), roughness=0.08), 250, sd=15)
    c.paint(c.blob(c.jitter((0, -28, 0), 3), (12, 9, big), roughness=0.1), 160, sd=15)
    c.paint(c.blob(c.jitter((0, 10, 45), 5), c.scale((30, 24, 22)), roughness=0.1), 850, sd=40)
    whole = c.blob(c.jitter((0, -3, -3), 3), c.scale((24, 19, 21)), roughness=0.08)
    c.paint(whole, 540, label=1, sd=20)  # peripheral zone (bright in T2)
    tz = c.blob(c.jitter((0, 3, 0), 2), c.scale((15, 11, 15)), roughness=0.1) & whole
    c.paint(tz, 330, label=2, sd=15)  # transition zone


def _rat(c: _Canvas, k: int) -> None:
    body = c.blob(c.jitter((0, 0, -10), 2), c.scale((26, 22, 95), 0.95, 1.05), roughness=0.05)
    c.paint(body, 300, sd=10)
    head = c.blob(c.jitter((0, 0, 72), 2), (14, 12, 22), roughness=0.05)
    c.paint(head, 90, sd=10)  # skull (dark)
    brain = c.blob(c.jitter((0, 0, 72), 1.5), c.scale((10, 8, 16)), roughness=0.06)
    c.paint(brain, 520, label=3, sd=15)
    organ1 = c.blob(c.jitter((3, 2, -5), 3), c.scale((16, 12, 22)), roughness=0.12, angle_deg=c.rng.uniform(-20, 20))
    c.paint(organ1, 180, label=1, sd=10)
    for x in (-11, 11):
        organ2 = c.blob(c.jitter((x, -9, -38), 2), c.scale((5.5, 5.5, 10)), roughness=0.06)
        c.paint(organ2, 430, label=2, sd=15)
    c.paint(c.blob(c.jitter((0, 8, -60), 4), (9, 7, 16), roughness=0.1), 650, sd=20)  # bladder-like distractor


def _nasalseg(c: _Canvas, k: int) -> None:
    big = 1e4
    c.paint(c.blob(c.jitter((0, -10, 0), 3), (90, 95, big), roughness=0.03), 35, sd=5)  # soft tissue of the face
    for x, (cav, sinus) in ((-1, (1, 4)), (1, (2, 5))):
        sx = 25 * x
        rim = c.blob(c.jitter((sx, 8, -6), 1.5), c.scale((15, 19, 18), 0.92, 1.08), roughness=0.05)
        c.paint(rim, 750, sd=40)  # bony wall of the maxillary sinus
        sinus_mask = c.blob(c.jitter((sx, 8, -6), 1), c.scale((12, 16, 15), 0.92, 1.05), roughness=0.06) & rim
        c.paint(sinus_mask, -900, label=sinus, sd=20)
    septum_x = c.rng.uniform(-1.0, 1.0)
    c.paint(c.blob((septum_x, 20, 2), (2.5, 26, 26), roughness=0.02), 450, sd=30)  # nasal septum
    for x, label in ((-1, 1), (1, 2)):
        cavity = c.blob(c.jitter((septum_x + 6.5 * x, 20, 2), 1), c.scale((3.6, 22, 24), 0.92, 1.08),
                        roughness=0.08)
        c.paint(cavity & (c.label == 0), -820, label=label, sd=25)
    naso = c.blob(c.jitter((0, -14, -10), 2), c.scale((11, 7, 11)), roughness=0.08)
    c.paint(naso & (c.label == 0), -780, label=3, sd=25)


def _msd_task02(c: _Canvas, k: int) -> None:
    big = 1e4
    c.paint(c.blob((0, 0, 0), (75, 60, big), roughness=0.04), 160, sd=10)  # chest wall / mediastinum
    for x in (-42, 42):
        c.paint(c.blob(c.jitter((x, 0, 0), 3), (28, 40, big), roughness=0.08), 35, sd=5)  # lungs
    myo = c.blob(c.jitter((5, 12, -8), 3), c.scale((30, 28, 30)), roughness=0.05, angle_deg=c.rng.uniform(-20, 20))
    c.paint(myo, 280, sd=15)
    c.paint(c.blob(c.jitter((5, 14, -8), 2), c.scale((18, 16, 20)), roughness=0.06) & myo, 690, sd=25)  # LV blood
    aorta = c.tube([c.jitter((-8, 5, -36), 2), c.jitter((-10, 2, 10), 2), c.jitter((-12, -20, 36), 2)], 9)
    c.paint(aorta, 860, sd=25)
    la = c.blob(c.jitter((-2, -22, 14), 3), c.scale((20, 14, 17)), roughness=0.1)
    c.paint(la, 780, label=1, sd=25)
    for x in (-1, 1):  # pulmonary veins entering the atrium (not part of the label)
        vein = c.tube([c.jitter((x * 10, -24, 14), 1), c.jitter((x * 32, -28, 18), 3)], 3.5)
        c.paint(vein & (c.label == 0), 760, sd=20)


def _brats2021(c: _Canvas, k: int) -> None:
    brain = c.blob(c.jitter((0, 0, 0), 2), c.scale((64, 80, 62), 0.95, 1.05), roughness=0.05)
    c.paint(brain, 420, sd=15)
    for x in (-10, 10):
        c.paint(c.blob(c.jitter((x, 5, 8), 1.5), c.scale((6, 24, 12)), roughness=0.08) & brain, 150, sd=10)
    n_foci = 2 if k in (2, 6, 9) else 1
    side = 1 if c.rng.random() < 0.5 else -1
    for i in range(n_foci):
        centre = c.jitter((side * 30, (-25 if i else 15), (-8 if i else 12)), 8)
        radius = c.rng.uniform(14, 26) if i == 0 else c.rng.uniform(8, 12)
        edema = c.blob(centre, (radius * 1.1, radius, radius * 0.9), roughness=0.2) & brain
        c.paint(edema, 760, label=2, sd=30)
        if i == 0 or c.rng.random() < 0.5:
            core = c.blob(c.jitter(centre, 2), np.full(3, radius * 0.55), roughness=0.15) & edema
            c.paint(core, 610, label=4, sd=30)
            c.paint(c.blob(c.jitter(centre, 1), np.full(3, radius * 0.3), roughness=0.15) & core, 300, label=1, sd=20)


def _freesurfer(c: _Canvas, k: int) -> None:
    scalp = c.blob(c.jitter((0, 0, 0), 2), c.scale((74, 90, 66), 0.96, 1.04), roughness=0.03)
    c.paint(scalp, 260, sd=15)
    c.paint(c.blob((0, 0, 0), (69, 85, 61), roughness=0.03) & scalp, 60, sd=10)  # skull
    brain = c.blob(c.jitter((0, 0, 0), 1.5), (64, 80, 56), roughness=0.04)
    c.paint(brain, 360, sd=10)  # cortex (grey matter)
    c.paint(c.blob(c.jitter((0, 0, 2), 1.5), (52, 67, 44), roughness=0.1) & brain, 520, sd=10)  # white matter
    for x, label in ((-1, 10), (1, 49)):  # thalamus
        c.paint(c.blob(c.jitter((9 * x, -6, -2), 1.5), c.scale((8, 13, 9)), roughness=0.08), 400, label=label, sd=10)
    for x, label in ((-1, 4), (1, 43)):  # lateral ventricles
        vent = c.blob(c.jitter((11 * x, 6, 12), 1.5), c.scale((5.5, 26, 9)), roughness=0.12,
                      angle_deg=c.rng.uniform(-8, 8) * x)
        c.paint(vent, 120, label=label, sd=10)
    for x, label in ((-1, 17), (1, 53)):  # hippocampus
        hip = c.blob(c.jitter((27 * x, -14, -20), 1.5), c.scale((6, 19, 8)), roughness=0.08,
                     angle_deg=-20 * x + c.rng.uniform(-5, 5))
        c.paint(hip, 385, label=label, sd=10)


# TopCoW label ids (2023 challenge): 1 BA, 2 R-PCA, 3 L-PCA, 4 R-ICA, 5 R-MCA, 6 L-ICA, 7 L-MCA, 8 R-Pcom,
# 9 L-Pcom, 10 Acom, 11 R-ACA, 12 L-ACA, 15 3rd-A2 (13 and 14 unused).
TOPCOW_LABELS = {1: "BA", 2: "R-PCA", 3: "L-PCA", 4: "R-ICA", 5: "R-MCA", 6: "L-ICA", 7: "L-MCA", 8: "R-Pcom",
                 9: "L-Pcom", 10: "Acom", 11: "R-ACA", 12: "L-ACA", 15: "3rd-A2"}


def _topcow(c: _Canvas, k: int) -> None:
    c.paint(c.blob((0, 0, 0), (40, 40, 1e4), roughness=0.05), 140, sd=8)  # brain parenchyma in the slab
    for _ in range(4):  # bright fat / marrow spots: distractors
        c.paint(c.blob(_sphere_points(c.rng, (0, 0, 0), (22, 22, 12)), np.full(3, c.rng.uniform(1.5, 3))), 330, sd=20)
    j = lambda p, mm=1.5: c.jitter(p, mm)  # noqa: E731
    s = c.rng.uniform(0.9, 1.1)
    r = lambda mm: mm * s  # noqa: E731
    vessels = [
        (1, [j((0, -12, -14)), j((0, -10, -2))], r(1.6)),  # BA
        (2, [j((0, -10, -2)), j((12, -14, 0)), j((22, -20, 3))], r(1.1)),  # R-PCA (+x = right)
        (3, [j((0, -10, -2)), j((-12, -14, 0)), j((-22, -20, 3))], r(1.1)),
        (4, [j((13, 6, -14)), j((13, 6, 0))], r(1.7)),  # R-ICA
        (6, [j((-13, 6, -14)), j((-13, 6, 0))], r(1.7)),
        (5, [j((13, 6, 0)), j((20, 8, 1)), j((26, 10, 3))], r(1.3)),  # R-MCA
        (7, [j((-13, 6, 0)), j((-20, 8, 1)), j((-26, 10, 3))], r(1.3)),
        (11, [j((13, 6, 0)), j((4, 14, 2)), j((3, 24, 8))], r(1.0)),  # R-ACA
        (12, [j((-13, 6, 0)), j((-4, 14, 2)), j((-3, 24, 8))], r(1.0)),
        (10, [j((4, 14, 2), 0.5), j((-4, 14, 2), 0.5)], r(0.8)),  # Acom
    ]
    if k % 4 != 3:  # a missing posterior communicating artery is a common variant
        vessels.append((8, [j((13, 6, -1)), j((10, -6, -1))], r(0.7)))
    if k % 5 != 1:
        vessels.append((9, [j((-13, 6, -1)), j((-10, -6, -1))], r(0.7)))
    for label, points, radius in vessels:
        c.paint(c.tube(points, radius) & (c.label == 0), 470, label=label, sd=15)


def _refuge(c: _Canvas, k: int) -> None:
    # 2D RGB: `mean` holds a luminance template; colours are added in `_render_refuge`.
    pass


# Lesion diameters (mm) per case index, chosen so the size-only T category varies (see the module docstring).
_KITS_LESIONS = [(24,), (50,), (28,), (78, 16), (18,), (56,), (46,), (22, 14), (82,), (57,)]
_LITS_LESIONS = [(11,), (34,), (26, 18), (68, 22), (10,), (50,), (36, 20, 15), (75, 30), (9,), (30, 16)]
_LUNG_LESIONS = [(6,), (22,), (13,), (29,), (38,), (54,), (80,), (26, 9), (9,), (18,)]
_PANCREAS_LESIONS = [(5,), (12,), (28,), (46,), (4,), (32,), (6,), (24,), (52,), (10,)]


def _place_lesions(c: _Canvas, k: int, diameters, anchor, spread, value, label, sd, within=None):
    """Paint near-spherical lesions of the given diameters (mm): the first near `anchor` (± `spread`), each further
    one in a random mostly in-plane direction, far enough from the others to stay a separate component."""
    placed: list[tuple[np.ndarray, float]] = []
    margin = float(np.max(c.spacing)) * 2 + 4.0
    half_extent = c.extent / 2
    for i, diameter in enumerate(diameters):
        radius = diameter * c.rng.uniform(0.97, 1.03) / 2.0
        if i == 0:
            centre = _sphere_points(c.rng, anchor, spread)
        else:
            first_centre, first_radius = placed[0]
            centre = None
            for _ in range(32):
                direction = c.rng.normal(size=3) * np.array([1.0, 1.0, 0.35])
                direction /= np.linalg.norm(direction)
                candidate = first_centre + direction * (first_radius + radius + margin)
                inside_fov = np.all(np.abs(candidate) + radius <= half_extent - c.spacing)
                apart = all(np.linalg.norm(candidate - p) > r + radius + margin for p, r in placed)
                if inside_fov and apart:
                    centre = candidate
                    break
            if centre is None:  # fall back to the far side of the anchor along x
                centre = first_centre + np.array([-(first_radius + radius + margin), 0.0, 0.0])
        lesion = c.blob(centre, np.full(3, radius), roughness=0.04, harmonics=3)
        if within is not None:
            lesion &= within
        c.paint(lesion, value, label=label, sd=sd)
        placed.append((np.asarray(centre, dtype=float), radius))


def _kits(c: _Canvas, k: int) -> None:
    c.paint(np.ones(c.shape, bool), -90, sd=5)  # retroperitoneal fat
    c.paint(c.blob(c.jitter((-45, -55, 0), 3), (22, 20, 1e4), roughness=0.05), 50, sd=5)  # psoas
    c.paint(c.blob(c.jitter((-72, -70, 0), 2), (14, 14, 1e4), roughness=0.0), 620, sd=30)  # vertebra
    c.paint(c.tube([c.jitter((-20, -30, -70), 3), c.jitter((-20, -30, 70), 3)], 9), 200, sd=10)  # aorta
    kidney = c.blob(c.jitter((5, 0, 0), 4), c.scale((28, 33, 52), 0.95, 1.05), roughness=0.06,
                    angle_deg=c.rng.uniform(-20, 20))
    c.paint(kidney, 175, label=1, sd=8)
    c.paint(c.blob(c.jitter((0, 0, 0), 2), (12, 14, 30), roughness=0.1) & kidney, 110, label=1, sd=8)  # medulla
    if k % 3 == 1:  # a cyst (label 3, not part of the tumour target)
        cyst = c.blob(c.jitter((-12, 20, -25), 3), np.full(3, 6.0), roughness=0.03)
        c.paint(cyst, 8, label=3, sd=4)
    _place_lesions(c, k, _KITS_LESIONS[k % len(_KITS_LESIONS)], anchor=(30, 8, 0), spread=(6, 6, 8), value=70,
                   label=2, sd=8)


def _lits(c: _Canvas, k: int) -> None:
    c.paint(np.ones(c.shape, bool), -90, sd=5)  # fat
    c.paint(c.blob(c.jitter((-10, -10, 0), 4), (100, 92, 1e4), roughness=0.06), 30, sd=5)  # soft tissue / bowel
    c.paint(c.blob(c.jitter((-60, -80, 0), 3), (18, 16, 1e4), roughness=0.0), 620, sd=30)
    liver = c.blob(c.jitter((8, 5, 0), 4), c.scale((82, 74, 62), 0.95, 1.05), roughness=0.06)
    c.paint(liver, 100, label=1, sd=6)
    for _ in range(3):  # portal vein branches (distractors inside the liver)
        p = _sphere_points(c.rng, (0, 0, 0), (30, 30, 30))
        c.paint(c.tube([p, p + c.rng.normal(0, 25, size=3)], 3.0) & liver, 165, label=1, sd=8)
    c.paint(c.blob(c.jitter((-45, 30, -10), 3), (14, 10, 22), roughness=0.08), 5, sd=4)  # gallbladder
    _place_lesions(c, k, _LITS_LESIONS[k % len(_LITS_LESIONS)], anchor=(10, 5, 0), spread=(14, 14, 10), value=48,
                   label=2, sd=8, within=liver)


def _msd_task06(c: _Canvas, k: int) -> None:
    c.paint(np.ones(c.shape, bool), 40, sd=5)  # chest wall
    for corner in ((72, -72), (-72, 72), (72, 72)):
        c.paint(c.blob(c.jitter((*corner, 0), 2), (8, 6, 1e4), roughness=0.0), 650, sd=40)  # ribs
    lung = c.blob(c.jitter((5, 5, 0), 3), (80, 82, 80), roughness=0.04)
    c.paint(lung, -840, sd=15)
    for i in range(6):  # pulmonary vessels
        p = _sphere_points(c.rng, (-30, 0, 0), (10, 30, 40))
        c.paint(c.tube([p, p + c.rng.normal(0, 30, size=3)], c.rng.uniform(1.5, 3.0)) & lung, 110, sd=10)
    _place_lesions(c, k, _LUNG_LESIONS[k % len(_LUNG_LESIONS)], anchor=(15, 5, 0), spread=(6, 6, 6), value=25,
                   label=1, sd=8)


def _msd_task07(c: _Canvas, k: int) -> None:
    c.paint(np.ones(c.shape, bool), -85, sd=5)
    c.paint(c.tube([c.jitter((-48, 30, -40), 3), c.jitter((-42, 0, 0), 3), c.jitter((-46, -25, 40), 3)], 9), 55,
            sd=6)  # duodenum
    c.paint(c.tube([c.jitter((2, -25, -40), 2), c.jitter((2, -25, 40), 2)], 4), 190, sd=10)  # SMA/SMV
    pancreas = c.blob(c.jitter((5, 0, 0), 3), c.scale((40, 13, 17), 0.95, 1.05), roughness=0.1,
                      angle_deg=c.rng.uniform(-15, 15))
    c.paint(pancreas, 95, label=1, sd=6)
    _place_lesions(c, k, _PANCREAS_LESIONS[k % len(_PANCREAS_LESIONS)], anchor=(0, 0, 0), spread=(10, 3, 4),
                   value=45, label=2, sd=6)


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
        PhantomScene("rat", "MRI", (48, 48, 24), (1.2, 1.2, 8.0), {1: "organ_1", 2: "organ_2", 3: "brain"},
                     description="whole-body rat MRI (placeholder organs)"),
        PhantomScene("nasalseg", "CT", (64, 64, 24), (1.5, 1.5, 3.0),
                     {1: "left_nasal_cavity", 2: "right_nasal_cavity", 3: "nasopharynx",
                      4: "left_maxillary_sinus", 5: "right_maxillary_sinus"}, description="head CT (HU)"),
        PhantomScene("msd_task02", "MRI", (64, 64, 24), (2.0, 2.0, 3.0), {1: "left_atrium"},
                     description="cardiac MRI"),
        PhantomScene("brats2021", "MRI", (64, 64, 24), (3.0, 3.5, 6.0),
                     {1: "necrotic_core", 2: "edema", 4: "enhancing_tumour"}, description="brain FLAIR MRI"),
        PhantomScene("freesurfer", "MRI", (64, 64, 24), (2.5, 3.0, 4.0),
                     {4: "left_lateral_ventricle", 10: "left_thalamus", 17: "left_hippocampus",
                      43: "right_lateral_ventricle", 49: "right_thalamus", 53: "right_hippocampus"},
                     description="T1 brain MRI; axial axis 1, as in FreeSurfer's conformed LIA volumes", slice_axis=1),
        PhantomScene("topcow", "MRA", (64, 64, 24), (0.9, 0.9, 1.4), dict(TOPCOW_LABELS),
                     description="TOF MRA of the circle of Willis"),
        PhantomScene("refuge", "fundus", (96, 96), (1.0, 1.0), {1: "optic_disc_rim", 2: "optic_cup"},
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
    "flare22": (_flare22, -1000.0, dict(noise_sd=14, texture_sd=8, clip=(-1024, 3000))),
    "promise12": (_promise12, 40.0, dict(noise_sd=25, texture_sd=15, bias=0.15, clip=(0, None))),
    "msd_task05": (_msd_task05, 40.0, dict(noise_sd=28, texture_sd=15, bias=0.15, clip=(0, None))),
    "rat": (_rat, 20.0, dict(noise_sd=22, texture_sd=12, bias=0.12, clip=(0, None))),
    "nasalseg": (_nasalseg, -1000.0, dict(noise_sd=20, texture_sd=10, clip=(-1024, 3000))),
    "msd_task02": (_msd_task02, 20.0, dict(noise_sd=40, texture_sd=20, bias=0.15, clip=(0, None))),
    "brats2021": (_brats2021, 0.0, dict(noise_sd=22, texture_sd=15, bias=0.1, clip=(0, None))),
    "freesurfer": (_freesurfer, 0.0, dict(noise_sd=18, texture_sd=10, bias=0.1, clip=(0, None))),
    "topcow": (_topcow, 40.0, dict(noise_sd=18, texture_sd=12, bias=0.1, blur_vox=0.5, clip=(0, None))),
    "refuge": (_refuge, 0.0, {}),
    "kits": (_kits, -1000.0, dict(noise_sd=12, texture_sd=8, clip=(-1024, 3000))),
    "lits": (_lits, -1000.0, dict(noise_sd=12, texture_sd=8, clip=(-1024, 3000))),
    "msd_task06": (_msd_task06, -1000.0, dict(noise_sd=20, texture_sd=10, clip=(-1024, 3000))),
    "msd_task07": (_msd_task07, -1000.0, dict(noise_sd=12, texture_sd=8, clip=(-1024, 3000))),
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
        _task("rat_organ_1", "rat", "organ_1", [1]),
        _task("rat_organ_2", "rat", "organ_2", [2]),
        _task("rat_brain", "rat", "brain", [3]),
        _task("nasalseg_nasal_cavities", "nasalseg", "nasal_cavities", [1, 2]),
        _task("nasalseg_maxillary_sinuses", "nasalseg", "maxillary_sinuses", [4, 5]),
        _task("nasalseg_nasopharynx", "nasalseg", "nasopharynx", [3]),
        _task("msd_task02_left_atrium", "msd_task02", "left_atrium", [1]),
        _task("brats2021_whole_tumour", "brats2021", "whole_tumour", [1, 2, 4]),
        _task("freesurfer_lateral_ventricles", "freesurfer", "lateral_ventricles", [4, 43]),
        _task("freesurfer_hippocampus", "freesurfer", "hippocampus", [17, 53]),
        _task("freesurfer_thalamus", "freesurfer", "thalamus", [10, 49]),
        _task("topcow_vessels", "topcow", "circle_of_willis", sorted(TOPCOW_LABELS)),
        _task("refuge_optic_disc", "refuge", "optic_disc", [1, 2]),
        _task("refuge_optic_cup", "refuge", "optic_cup", [2]),
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
    if scene == "refuge":
        image, label = _render_refuge(spec, rng, case_index)
    else:
        painter, background, finish = _PAINTERS[scene]
        canvas = _Canvas(spec, rng, background)
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


def _render_refuge(spec: PhantomScene, rng: np.random.Generator, k: int):
    h, w = spec.shape
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    fov_r = 0.47 * h
    r_norm = np.sqrt((rows - cy) ** 2 + (cols - cx) ** 2) / fov_r
    fov = r_norm <= 1.0
    base = np.array([185.0, 85.0, 40.0]) * rng.uniform(0.9, 1.1, size=3)
    vignette = np.clip(1.0 - 0.45 * r_norm ** 2, 0, 1)
    image = base[None, None, :] * vignette[..., None]
    # optic disc: left or right of centre (left/right eye), vertical ellipse
    side = -1 if k % 2 else 1
    dy, dx = cy + rng.uniform(-6, 6), cx + side * rng.uniform(16, 22)
    ry, rx = rng.uniform(11, 14), rng.uniform(9.5, 12.5)
    angle = rng.uniform(-0.3, 0.3)
    yy, xx = rows - dy, cols - dx
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / rx
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) / ry
    theta = np.arctan2(v, u)
    wobble = 1 + 0.05 * np.cos(2 * theta + rng.uniform(0, 2 * np.pi)) + 0.03 * np.cos(3 * theta + rng.uniform(0, 6))
    rho = np.sqrt(u * u + v * v)
    disc = rho <= wobble
    cup_ratio = rng.uniform(0.35, 0.7)
    cup_centre = (rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1))
    rho_cup = np.sqrt((u - cup_centre[0]) ** 2 + (v - cup_centre[1]) ** 2) / cup_ratio
    cup = (rho_cup <= 1 + 0.06 * np.cos(2 * theta)) & disc
    disc_colour = np.array([232.0, 165.0, 100.0]) * rng.uniform(0.93, 1.05, size=3)
    cup_colour = np.array([250.0, 215.0, 165.0]) * rng.uniform(0.95, 1.02, size=3)
    image[disc] = disc_colour
    image[cup] = cup_colour
    # vessels: dark red curves leaving the disc
    for _ in range(5):
        a0 = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(30, 55)
        bend = rng.uniform(-0.02, 0.02)
        t = np.linspace(0, length, 80)
        a = a0 + bend * t
        py, px = dy + np.sin(a) * t, dx + np.cos(a) * t
        vessel = np.zeros((h, w), dtype=bool)
        iy, ix = np.round(py).astype(int), np.round(px).astype(int)
        ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        vessel[iy[ok], ix[ok]] = True
        vessel |= np.roll(vessel, 1, axis=int(rng.integers(0, 2)))
        image[vessel & ~cup] = image[vessel & ~cup] * 0.55 + np.array([120.0, 25.0, 20.0]) * 0.45
    from scipy import ndimage

    image = ndimage.gaussian_filter(image, (0.7, 0.7, 0))
    image = image + rng.normal(0, 5.0, size=image.shape)
    image[~fov] = 0.0
    image = np.clip(np.round(image), 0, 255).astype(np.float32)
    label = np.zeros((h, w), dtype=np.uint8)
    label[disc & fov] = 1
    label[cup & fov] = 2
    return image, label


# --- cases ------------------------------------------------------------------------------------------------------


def phantom_case_ids(n: int = N_CASES) -> list[str]:
    """Case ids of every phantom task: case_000 … case_{n-1:03d} (sorted order = index order)."""
    return [f"case_{i:03d}" for i in range(n)]


def _case_index(case_id: str, n: int = N_CASES) -> int:
    ids = phantom_case_ids(n)
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
    "N_CASES", "PHANTOM_TASKS", "PhantomScene", "PhantomTask", "SCENES", "TASK_PREFIX", "TOPCOW_LABELS",
    "generate_case", "generate_suite", "load_phantom_case", "phantom_case_ids", "render_scene",
]

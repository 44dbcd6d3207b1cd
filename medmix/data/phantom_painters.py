"""The phantom25 scene painters: one function per scene, painting its structures on a `Canvas` for case `k`.

Label ids are the real datasets' (see `medmix.data.phantom25.SCENES`); intensities are HU for CT, arbitrary units
for MRI/MRA.
"""

from __future__ import annotations

import numpy as np

from medmix.data.phantom_canvas import Canvas, sphere_points

def flare22(c: Canvas, k: int) -> None:
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


def promise12(c: Canvas, k: int) -> None:
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


def msd_task05(c: Canvas, k: int) -> None:
    big = 1e4
    c.paint(c.blob((0, 0, 0), (62, 58, big), roughness=0.05), 480, sd=20)
    c.paint(c.blob(c.jitter((0, 0, 0), 3), (46, 40, big), roughness=0.08), 250, sd=15)
    c.paint(c.blob(c.jitter((0, -28, 0), 3), (12, 9, big), roughness=0.1), 160, sd=15)
    c.paint(c.blob(c.jitter((0, 10, 45), 5), c.scale((30, 24, 22)), roughness=0.1), 850, sd=40)
    whole = c.blob(c.jitter((0, -3, -3), 3), c.scale((24, 19, 21)), roughness=0.08)
    c.paint(whole, 540, label=1, sd=20)  # peripheral zone (bright in T2)
    tz = c.blob(c.jitter((0, 3, 0), 2), c.scale((15, 11, 15)), roughness=0.1) & whole
    c.paint(tz, 330, label=2, sd=15)  # transition zone


def rat(c: Canvas, k: int) -> None:
    body = c.blob(c.jitter((0, 0, -10), 2), c.scale((26, 22, 95), 0.95, 1.05), roughness=0.05)
    c.paint(body, 300, sd=10)
    head = c.blob(c.jitter((0, 0, 72), 2), (14, 12, 22), roughness=0.05)
    c.paint(head, 90, sd=10)  # skull (dark)
    brain = c.blob(c.jitter((0, 0, 72), 1.5), c.scale((10, 8, 16)), roughness=0.06)
    c.paint(brain, 520, label=1, sd=15)
    lung = c.blob(c.jitter((3, 2, -5), 3), c.scale((16, 12, 22)), roughness=0.12, angle_deg=c.rng.uniform(-20, 20))
    c.paint(lung, 180, label=4, sd=10)
    for x in (-11, 11):
        organ = c.blob(c.jitter((x, -9, -38), 2), c.scale((5.5, 5.5, 10)), roughness=0.06)
        c.paint(organ, 430, label=12, sd=15)
    c.paint(c.blob(c.jitter((0, 8, -60), 4), (9, 7, 16), roughness=0.1), 650, sd=20)  # bladder-like distractor


def nasalseg(c: Canvas, k: int) -> None:
    big = 1e4
    c.paint(c.blob(c.jitter((0, -10, 0), 3), (90, 95, big), roughness=0.03), 35, sd=5)  # soft tissue of the face
    for x, (cav, sinus) in ((-1, (4, 2)), (1, (3, 1))):  # world +x is the patient's right: 1/3 right, 2/4 left
        sx = 25 * x
        rim = c.blob(c.jitter((sx, 8, -6), 1.5), c.scale((15, 19, 18), 0.92, 1.08), roughness=0.05)
        c.paint(rim, 750, sd=40)  # bony wall of the maxillary sinus
        sinus_mask = c.blob(c.jitter((sx, 8, -6), 1), c.scale((12, 16, 15), 0.92, 1.05), roughness=0.06) & rim
        c.paint(sinus_mask, -900, label=sinus, sd=20)
    septum_x = c.rng.uniform(-1.0, 1.0)
    c.paint(c.blob((septum_x, 20, 2), (2.5, 26, 26), roughness=0.02), 450, sd=30)  # nasal septum
    for x, label in ((-1, 4), (1, 3)):
        cavity = c.blob(c.jitter((septum_x + 6.5 * x, 20, 2), 1), c.scale((3.6, 22, 24), 0.92, 1.08),
                        roughness=0.08)
        c.paint(cavity & (c.label == 0), -820, label=label, sd=25)
    naso = c.blob(c.jitter((0, -14, -10), 2), c.scale((11, 7, 11)), roughness=0.08)
    c.paint(naso & (c.label == 0), -780, label=5, sd=25)


def msd_task02(c: Canvas, k: int) -> None:
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


def brats2021(c: Canvas, k: int) -> None:
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


def freesurfer(c: Canvas, k: int) -> None:
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


def topcow(c: Canvas, k: int) -> None:
    c.paint(c.blob((0, 0, 0), (40, 40, 1e4), roughness=0.05), 140, sd=8)  # brain parenchyma in the slab
    for _ in range(4):  # bright fat / marrow spots: distractors
        c.paint(c.blob(sphere_points(c.rng, (0, 0, 0), (22, 22, 12)), np.full(3, c.rng.uniform(1.5, 3))), 330, sd=20)
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


# Lesion diameters (mm) per case index, chosen so the size-only T category varies (see the module docstring).
_KITS_LESIONS = [(24,), (50,), (28,), (78, 16), (18,), (56,), (46,), (22, 14), (82,), (57,)]
_LITS_LESIONS = [(11,), (34,), (26, 18), (68, 22), (10,), (50,), (36, 20, 15), (75, 30), (9,), (30, 16)]
_LUNG_LESIONS = [(6,), (22,), (13,), (29,), (38,), (54,), (80,), (26, 9), (9,), (18,)]
_PANCREAS_LESIONS = [(5,), (12,), (28,), (46,), (4,), (32,), (6,), (24,), (52,), (10,)]


def place_lesions(c: Canvas, k: int, diameters, anchor, spread, value, label, sd, within=None):
    """Paint near-spherical lesions of the given diameters (mm): the first near `anchor` (± `spread`), each further
    one in a random mostly in-plane direction, far enough from the others to stay a separate component."""
    placed: list[tuple[np.ndarray, float]] = []
    margin = float(np.max(c.spacing)) * 2 + 4.0
    half_extent = c.extent / 2
    for i, diameter in enumerate(diameters):
        radius = diameter * c.rng.uniform(0.97, 1.03) / 2.0
        if i == 0:
            centre = sphere_points(c.rng, anchor, spread)
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


def kits(c: Canvas, k: int) -> None:
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
    place_lesions(c, k, _KITS_LESIONS[k % len(_KITS_LESIONS)], anchor=(30, 8, 0), spread=(6, 6, 8), value=70,
                   label=2, sd=8)


def lits(c: Canvas, k: int) -> None:
    c.paint(np.ones(c.shape, bool), -90, sd=5)  # fat
    c.paint(c.blob(c.jitter((-10, -10, 0), 4), (100, 92, 1e4), roughness=0.06), 30, sd=5)  # soft tissue / bowel
    c.paint(c.blob(c.jitter((-60, -80, 0), 3), (18, 16, 1e4), roughness=0.0), 620, sd=30)
    liver = c.blob(c.jitter((8, 5, 0), 4), c.scale((82, 74, 62), 0.95, 1.05), roughness=0.06)
    c.paint(liver, 100, label=1, sd=6)
    for _ in range(3):  # portal vein branches (distractors inside the liver)
        p = sphere_points(c.rng, (0, 0, 0), (30, 30, 30))
        c.paint(c.tube([p, p + c.rng.normal(0, 25, size=3)], 3.0) & liver, 165, label=1, sd=8)
    c.paint(c.blob(c.jitter((-45, 30, -10), 3), (14, 10, 22), roughness=0.08), 5, sd=4)  # gallbladder
    place_lesions(c, k, _LITS_LESIONS[k % len(_LITS_LESIONS)], anchor=(10, 5, 0), spread=(14, 14, 10), value=48,
                   label=2, sd=8, within=liver)


def msd_task06(c: Canvas, k: int) -> None:
    c.paint(np.ones(c.shape, bool), 40, sd=5)  # chest wall
    for corner in ((72, -72), (-72, 72), (72, 72)):
        c.paint(c.blob(c.jitter((*corner, 0), 2), (8, 6, 1e4), roughness=0.0), 650, sd=40)  # ribs
    lung = c.blob(c.jitter((5, 5, 0), 3), (80, 82, 80), roughness=0.04)
    c.paint(lung, -840, sd=15)
    for i in range(6):  # pulmonary vessels
        p = sphere_points(c.rng, (-30, 0, 0), (10, 30, 40))
        c.paint(c.tube([p, p + c.rng.normal(0, 30, size=3)], c.rng.uniform(1.5, 3.0)) & lung, 110, sd=10)
    place_lesions(c, k, _LUNG_LESIONS[k % len(_LUNG_LESIONS)], anchor=(15, 5, 0), spread=(6, 6, 6), value=25,
                   label=1, sd=8)


def msd_task07(c: Canvas, k: int) -> None:
    c.paint(np.ones(c.shape, bool), -85, sd=5)
    c.paint(c.tube([c.jitter((-48, 30, -40), 3), c.jitter((-42, 0, 0), 3), c.jitter((-46, -25, 40), 3)], 9), 55,
            sd=6)  # duodenum
    c.paint(c.tube([c.jitter((2, -25, -40), 2), c.jitter((2, -25, 40), 2)], 4), 190, sd=10)  # SMA/SMV
    pancreas = c.blob(c.jitter((5, 0, 0), 3), c.scale((40, 13, 17), 0.95, 1.05), roughness=0.1,
                      angle_deg=c.rng.uniform(-15, 15))
    c.paint(pancreas, 95, label=1, sd=6)
    place_lesions(c, k, _PANCREAS_LESIONS[k % len(_PANCREAS_LESIONS)], anchor=(0, 0, 0), spread=(10, 3, 4),
                   value=45, label=2, sd=6)

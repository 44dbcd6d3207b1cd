"""The phantom25 suite: 25 deterministic synthetic tasks mirroring medsamix25."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from medmix.data import phantom25
from medmix.data.phantom25 import N_CASES, PHANTOM_TASKS, SCENES, generate_case, generate_suite, render_scene
from medmix.data.sources import axial_axis
from medmix.errors import UnknownNameError
from medmix.staging import stage_mask

EVAL = Path(__file__).resolve().parents[1] / "eval"
ONCOLOGY = {"phantom_kits_kidney_tumour": "kidney", "phantom_lits_liver_tumour": "liver_hcc",
            "phantom_msd_task06_lung_tumour": "lung", "phantom_msd_task07_pancreas_tumour": "pancreas"}


@pytest.fixture(scope="module")
def suite():
    phantom25._render_cached.cache_clear()
    started = time.perf_counter()
    cases = generate_suite(seed=0)
    elapsed = time.perf_counter() - started
    print(f"\nphantom25: {sum(map(len, cases.values()))} cases generated in {elapsed:.2f} s")
    assert elapsed < 30.0  # ~1.5 s on a 2-core machine; measured, not a strict timing test
    return cases


def _digest(cases) -> str:
    h = hashlib.sha256()
    for name in sorted(cases):
        for case in cases[name]:
            for array in (case.image, case.label):
                h.update(str((array.shape, array.dtype)).encode())
                h.update(np.ascontiguousarray(array).tobytes())
            h.update(repr(case.spacing).encode())
    return h.hexdigest()


def test_25_tasks_mirror_medsamix25(suite):
    real = sorted(p.stem for p in (EVAL / "tasks" / "medsamix25").glob("*.yaml"))
    assert len(PHANTOM_TASKS) == 25 and len(suite) == 25
    assert sorted(PHANTOM_TASKS) == sorted(f"phantom_{n}" for n in real)
    assert sorted(p.stem for p in (EVAL / "tasks" / "phantom25").glob("*.yaml")) == sorted(PHANTOM_TASKS)
    assert {t.staging for t in PHANTOM_TASKS.values() if t.staging} == set(ONCOLOGY.values())
    for task in PHANTOM_TASKS.values():
        assert set(task.labels) <= set(SCENES[task.scene].labels)


def test_bit_identical_across_generations(suite):
    first = _digest(suite)
    phantom25._render_cached.cache_clear()
    again = generate_suite(seed=0)
    assert _digest(again) == first
    a, b = generate_case("phantom_flare22_liver", 3), generate_case("phantom_flare22_liver", 3)
    assert a.image is not b.image  # callers get their own copies
    a.image[...] = 0
    assert generate_case("phantom_flare22_liver", 3).image.any()
    other = generate_case("phantom_flare22_liver", 3, seed=1)
    assert not np.array_equal(other.image, b.image)


def test_shapes_dtypes_and_targets(suite):
    for name, cases in suite.items():
        task = PHANTOM_TASKS[name]
        assert len(cases) == N_CASES
        for i, case in enumerate(cases):
            assert case.case_id == f"case_{i:03d}" and case.task == name
            assert case.image.dtype == np.float32 and case.label.dtype == np.uint8
            assert set(np.unique(case.label)) == {0, 1}, (name, i)
            if task.channels == "rgb":
                assert case.image.shape == (96, 96, 3) and case.label.shape == (96, 96)
                assert 0 <= case.image.min() and case.image.max() <= 255
            else:
                assert case.image.shape == case.label.shape and case.image.ndim == 3
                axis = task.slice_axis
                assert case.image.shape[axis] <= 24 and max(case.image.shape) <= 64
                assert axial_axis(case.affine) == axis  # the affine agrees with the slice axis
                # empty slices: every 3D target leaves some slices without foreground
                others = tuple(a for a in range(3) if a != axis)
                assert not case.label.any(axis=others).all(), (name, i)
            assert len(case.spacing) == case.ndim and case.affine.shape == (4, 4)
    anisotropic = [s.name for s in SCENES.values() if len(set(s.spacing)) > 1]
    assert len(anisotropic) >= 10


def test_intensities_follow_the_modality(suite):
    for name, cases in suite.items():
        task = PHANTOM_TASKS[name]
        image = cases[0].image
        if task.modality == "CT":
            assert image.min() < -50 and image.max() > 150  # Hounsfield units (fat or air, contrast or bone)
        elif task.channels == "grey":
            assert image.min() >= 0 and image.max() > 200


def _separability(case) -> float:
    """Dice of 'intensity within 2 SD of the target's median' against the target, inside the target's box."""
    image = case.image if case.channels == "grey" else case.image.mean(axis=-1)
    target = case.label.astype(bool)
    where = np.argwhere(target)
    box = tuple(slice(a, b + 1) for a, b in zip(where.min(0), where.max(0)))
    values, inside = image[box], target[box]
    guess = np.abs(values - np.median(values[inside])) <= 2 * image[target].std()
    return 2 * (guess & inside).sum() / (guess.sum() + inside.sum())


def test_targets_are_learnable_but_not_trivial(suite):
    for name, cases in suite.items():
        scores = [_separability(case) for case in cases]
        assert 0.6 <= np.median(scores) < 0.995, (name, scores)


def test_oncology_categories_vary_and_multiple_lesions(suite):
    for name, rule in ONCOLOGY.items():
        results = [stage_mask(case.label, case.spacing, rule) for case in suite[name]]
        categories = [r.category for r in results]
        assert len(set(categories)) >= 3, (name, categories)
        assert "T0" not in categories, (name, categories)
        assert results[0].category != results[1].category or len(set(categories[2:])) >= 3
        if name != "phantom_msd_task07_pancreas_tumour":
            assert max(r.n_lesions for r in results) >= 2, name
    lits = [stage_mask(c.label, c.spacing, "liver_hcc").category for c in suite["phantom_lits_liver_tumour"]]
    assert {"T1a", "T1b", "T2", "T3"} <= set(lits)  # solitary and multiple lesions, both sides of 2 cm and 5 cm
    brats = [ndimage.label(c.label)[1] for c in suite["phantom_brats2021_whole_tumour"]]
    assert max(brats) >= 2


def test_shared_scene_and_label_ids():
    image, label, spacing = render_scene("flare22", 0)
    liver, spleen = generate_case("phantom_flare22_liver", 0), generate_case("phantom_flare22_spleen", 0)
    np.testing.assert_array_equal(liver.image, image)
    np.testing.assert_array_equal(liver.label, (label == 1).astype(np.uint8))
    np.testing.assert_array_equal(spleen.label, (label == 3).astype(np.uint8))
    assert set(np.unique(label)) <= {0, *SCENES["flare22"].labels}
    assert spacing == (5.5, 5.5, 8.0)


def test_slice_axis_mirrors_the_real_layout():
    assert {t.name: t.slice_axis for t in PHANTOM_TASKS.values() if t.slice_axis not in (2, None)} == {
        "phantom_kits_kidney_tumour": 0, "phantom_fcon1000_lateral_ventricles": 1,
        "phantom_fcon1000_hippocampus": 1, "phantom_fcon1000_thalamus": 1}
    kits = generate_case("phantom_kits_kidney_tumour", 0)
    assert kits.image.shape == (24, 64, 64) and kits.spacing == (5.0, 2.5, 2.5)
    image, label, _ = render_scene("kits", 0)
    np.testing.assert_array_equal(kits.label, (label == 2).astype(np.uint8))


def test_unknown_names():
    with pytest.raises(UnknownNameError, match="phantom_flare22_liver"):
        generate_case("phantom_flare22_livr", 0)
    with pytest.raises(UnknownNameError, match="flare22"):
        render_scene("flare2", 0)

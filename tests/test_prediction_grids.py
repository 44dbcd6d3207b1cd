"""Prediction files are checked against the reference case's grid by their affine, not by array shape alone.

A prediction stored in another axis order / with flipped axes (nibabel's `as_closest_canonical`, an LPS copy from
a SimpleITK pipeline) is the same voxel grid: it is reoriented onto the reference and scores exactly what the
original-orientation file scores, with one note per task. A prediction on another grid (shifted origin, other
spacing) is refused, naming the file and both affines. Files without an affine keep the array comparison.
"""

from __future__ import annotations

import json
import re
import warnings

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import apply_orientation, inv_ornt_aff

from medmix.data.io import check_same_grid, load_mask, save_mask
from medmix.errors import InputError
from medmix.models import PredictionFolder

#: Array axis 0 → output axis 1 (flipped), axis 1 → axis 0, axis 2 → axis 2 (flipped): permute two, flip two.
FLIP_AND_PERMUTE = np.array([[1, -1], [0, 1], [2, -1]])
#: Flip array axis 0 only (same shape: before the affine check this changed Dice silently).
FLIP_ONLY = np.array([[0, -1], [1, 1], [2, 1]])


def _write_reoriented(path, mask: np.ndarray, affine: np.ndarray, ornt: np.ndarray) -> None:
    """Write `mask` with its axes permuted/flipped by `ornt` and the matching affine (same voxels in the world)."""
    data = apply_orientation(mask.astype(np.uint8), ornt)
    nib.save(nib.Nifti1Image(data, affine @ inv_ornt_aff(ornt, mask.shape)), str(path))


def _reference():
    affine = np.array([[-0.8, 0, 0, 60.0], [0, 0.9, 0, -40.0], [0, 0, 2.5, 12.0], [0, 0, 0, 1]])
    rng = np.random.default_rng(3)
    return rng.random((9, 7, 5)) > 0.55, affine


# ----------------------------------------------------------------------------------------------- unit


@pytest.mark.parametrize("ornt", [FLIP_AND_PERMUTE, FLIP_ONLY])
def test_reoriented_prediction_is_put_back_on_the_reference_grid(tmp_path, ornt):
    mask, affine = _reference()
    _write_reoriented(tmp_path / "case_1.nii.gz", mask, affine, ornt)
    _write_reoriented(tmp_path / "case_2.nii.gz", mask, affine, ornt)
    folder = PredictionFolder(tmp_path)
    with pytest.warns(UserWarning, match=r"task 'liver': prediction '.*case_1\.nii\.gz' is stored in another axis "
                                         r"order / orientation .*reoriented onto the reference grid"):
        got = folder.mask_for("liver", "case_1", mask.shape, affine=affine)
    np.testing.assert_array_equal(got, mask)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per task: the second case of the task is quiet
        np.testing.assert_array_equal(folder.mask_for("liver", "case_2", mask.shape, affine=affine), mask)
    assert len(folder.notes) == 1 and folder.describe()["notes"] == folder.notes


def test_canonical_copy_is_reoriented(tmp_path):
    mask, affine = _reference()
    canonical = nib.as_closest_canonical(nib.Nifti1Image(mask.astype(np.uint8), affine))
    assert nib.aff2axcodes(canonical.affine) == ("R", "A", "S") and nib.aff2axcodes(affine)[0] == "L"
    nib.save(canonical, str(tmp_path / "c.nii.gz"))
    with pytest.warns(UserWarning, match=r"axis codes RAS → LAS"):
        got = PredictionFolder(tmp_path).mask_for("t", "c", mask.shape, affine=affine)
    np.testing.assert_array_equal(got, mask)


def test_2d_prediction_with_a_flipped_axis(tmp_path):
    mask = np.zeros((6, 9), bool)
    mask[1:3, 2:7] = True
    affine = np.diag([0.5, 0.5, 1.0, 1.0])
    flipped = affine @ inv_ornt_aff(np.array([[0, 1], [1, -1], [2, 1]]), (6, 9, 1))
    nib.save(nib.Nifti1Image(mask[:, ::-1, None].astype(np.uint8), flipped), str(tmp_path / "d.nii.gz"))
    with pytest.warns(UserWarning, match="reoriented"):
        np.testing.assert_array_equal(PredictionFolder(tmp_path).mask_for("t", "d", (6, 9), affine=affine), mask)


@pytest.mark.parametrize("change, expected", [
    ("shift", r"origin off by 0\.5 mm"),
    ("spacing", r"spacing \(0\.8, 1\.2, 2\.5\) vs \(0\.8, 0\.9, 2\.5\) mm"),
    ("reoriented_and_shifted", r"origin off by 2 mm after matching axis order and flips"),
])
def test_prediction_on_another_grid_is_refused(tmp_path, change, expected):
    mask, affine = _reference()
    other = affine.copy()
    if change == "shift":
        other[0, 3] += 0.5
    elif change == "spacing":
        other[1, 1] = 1.2
    if change == "reoriented_and_shifted":
        shifted = affine.copy()
        shifted[2, 3] += 2.0
        _write_reoriented(tmp_path / "p.nii.gz", mask, shifted, FLIP_AND_PERMUTE)
    else:
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), other), str(tmp_path / "p.nii.gz"))
    with pytest.raises(InputError) as info:
        PredictionFolder(tmp_path).mask_for("t", "p", mask.shape, affine=affine)
    text = str(info.value)
    assert "prediction file" in text and "p.nii.gz" in text and "another voxel grid" in text
    assert re.search(expected, text), text
    assert "[-0.8, 0, 0, 60]" in text  # the reference's affine is printed, and the prediction's
    assert "Resample the prediction onto the reference grid" in text and "\n" not in text


def test_files_without_an_affine_keep_the_array_comparison(tmp_path):
    mask, affine = _reference()
    np.save(tmp_path / "a.npy", mask.astype(np.uint8))
    np.testing.assert_array_equal(PredictionFolder(tmp_path).mask_for("t", "a", mask.shape, affine=affine), mask)
    with pytest.raises(InputError, match="does not match the case's shape"):
        PredictionFolder(tmp_path).mask_for("t", "a", mask.shape[::-1], affine=affine)


def test_score_names_a_reoriented_pair_instead_of_a_shape_mismatch(tmp_path):
    mask, affine = _reference()
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), str(tmp_path / "gt.nii.gz"))
    _write_reoriented(tmp_path / "pred.nii.gz", mask, affine, FLIP_AND_PERMUTE)
    with pytest.raises(InputError, match=r"pred\.nii\.gz' holds the same voxel grid as '.*gt\.nii\.gz' but in another "
                                         r"axis order or orientation \(axis codes .* → LAS.*reorient it"):
        check_same_grid(load_mask(tmp_path / "pred.nii.gz"), load_mask(tmp_path / "gt.nii.gz"))


def test_onto_reference_grid_returns_the_same_array_on_the_same_grid():
    from medmix.data.io import onto_reference_grid

    mask, affine = _reference()
    out, note = onto_reference_grid(mask, affine, mask.shape, affine + 1e-5, where="x")
    assert out is mask and note is None


# ----------------------------------------------------------------------------------------------- through the runner


def _run(tmp_path, name, suite, task, write, max_cases=3):
    from medmix.data.sources import case_ids, load_case
    from medmix.evaluation.runner import EvaluationConfig, evaluate
    from medmix.evaluation.suites import load_suite
    from scipy import ndimage

    card = load_suite(suite).card(task)
    root = tmp_path / name / "preds"
    (root / task).mkdir(parents=True)
    for case_id in case_ids(card, split="test")[:max_cases]:
        case = load_case(card, case_id)
        pred = ndimage.binary_dilation(case.label.astype(bool), iterations=2)
        pred[: pred.shape[0] // 3] = False  # an asymmetric error: a flipped copy would score differently
        write(root / task / f"{case_id}.nii.gz", pred, case)
    config = EvaluationConfig(suite=suite, out_dir=str(tmp_path / name / "run"), predictions=str(root),
                              tasks=[task], max_cases=max_cases)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = evaluate(config)
    volume = result.cases[result.cases["slice"] == "volume"].set_index(["case", "metric"])["value"]
    return volume, result, [str(w.message) for w in caught if "orientation" in str(w.message)]


def _original(path, pred, case):
    save_mask(path, pred.astype(np.uint8), spacing=case.spacing, affine=case.affine)


@pytest.mark.parametrize("ornt", [FLIP_AND_PERMUTE, FLIP_ONLY])
def test_evaluate_scores_a_reoriented_nifti_like_the_original(tmp_path, ornt):
    task = "phantom_flare22_liver"  # 64 × 64 × 24: permuting axes 0 and 1 keeps the shape
    original, _, notes = _run(tmp_path, "original", "phantom25", task, _original)
    assert not notes
    reoriented, result, notes = _run(tmp_path, "reoriented", "phantom25", task,
                                     lambda p, pred, case: _write_reoriented(p, pred, case.affine, ornt))
    assert len(notes) == 1 and task in notes[0]
    assert result.summary["model"]["notes"] == notes
    assert json.loads((tmp_path / "reoriented" / "run" / "summary.json").read_text())["model"]["notes"] == notes
    dice = original.xs("dice", level="metric")
    assert 0.2 < dice.mean() < 0.95
    np.testing.assert_allclose(reoriented.sort_index().values, original.sort_index().values, rtol=0, atol=0)


def test_evaluate_refuses_a_prediction_on_a_shifted_grid(tmp_path):
    def shifted(path, pred, case):
        affine = case.affine.copy()
        affine[:3, 3] += (1.0, 0.0, 0.0)
        save_mask(path, pred.astype(np.uint8), affine=affine)

    with pytest.raises(InputError, match=r"case_002\.nii\.gz': lies on another voxel grid .*origin off by 1 mm"):
        _run(tmp_path, "shifted", "phantom25", "phantom_flare22_liver", shifted, max_cases=1)


def test_evaluate_refuses_a_prediction_with_another_spacing(tmp_path):
    def respaced(path, pred, case):
        save_mask(path, pred.astype(np.uint8), affine=case.affine @ np.diag([1.0, 1.0, 0.5, 1.0]))

    with pytest.raises(InputError, match=r"lies on another voxel grid .*spacing \(5\.5, 5\.5, 4\.0\) vs "
                                         r"\(5\.5, 5\.5, 8\.0\) mm"):
        _run(tmp_path, "respaced", "phantom25", "phantom_flare22_liver", respaced, max_cases=1)


def test_evaluate_mni_lps_copy_scores_like_the_original(tmp_path):
    pytest.importorskip("nilearn")
    lps = np.array([[0, -1], [1, -1], [2, 1]])  # RAS → LPS, as a SimpleITK pipeline writes it
    original, _, _ = _run(tmp_path, "original", "mni", "mni_brain", _original, max_cases=1)
    flipped, _, notes = _run(tmp_path, "lps", "mni", "mni_brain",
                             lambda p, pred, case: _write_reoriented(p, pred, case.affine, lps), max_cases=1)
    assert len(notes) == 1 and "RAS" in notes[0]
    np.testing.assert_allclose(flipped.sort_index().values, original.sort_index().values, rtol=0, atol=0)

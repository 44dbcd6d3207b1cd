"""Lesion-wise metrics: BraTS 2023 against an implementation of its rules written here from reference.md §9
(whole-image operations, DeepMind's own HD95), the panoptica matching rules, edge cases, the registry and CLI."""

import json
import math

import numpy as np
import pytest
from scipy import ndimage
from surface_distance import metrics as deepmind
from typer.testing import CliRunner

from lesion_cases import edge_cases, glioma_case
from medmix.cli.main import app
from medmix.errors import InputError, UnknownNameError
from medmix.metrics import compute_metrics
from medmix.metrics.instances import components
from medmix.metrics.label_conventions import CHALLENGES, region_labels
from medmix.metrics.lesionwise import brats2023_region, lesionwise, match_instances, panoptica_region

# surface-distance 0.1 (the reference here) calls scipy's deprecated ndimage.filters / .morphology aliases
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def brats2023_reference(pred, gt, spacing, dilation, threshold):
    """§9 (A), literally: whole-image dilations and labellings, DeepMind HD95 on the full arrays."""
    s26 = ndimage.generate_binary_structure(3, 3)
    s18 = ndimage.generate_binary_structure(3, 2)
    gt_dil = ndimage.binary_dilation(gt, s18, iterations=dilation) if dilation else gt
    gt_cc, n = ndimage.label(gt_dil, s26)
    gt_cc = gt_cc * gt
    pred_cc, m = ndimage.label(pred, s26)
    dices, hds, served, counted_tp, counted = [], [], set(), 0, 0
    for j in range(1, n + 1):
        lesion = gt_cc == j
        near = ndimage.binary_dilation(lesion, s18, iterations=dilation) if dilation else lesion
        hits = set(np.unique(pred_cc[near]).tolist()) - {0}
        served |= hits
        if lesion.sum() * np.prod(spacing) <= threshold:
            continue
        counted += 1
        if not hits:
            dices.append(0.0)
            hds.append(374.0)
            continue
        counted_tp += 1
        union = np.isin(pred_cc, list(hits))
        dices.append(2 * (union & lesion).sum() / (union.sum() + lesion.sum()))
        d = deepmind.compute_surface_distances(lesion, union, list(spacing))
        hds.append(deepmind.compute_robust_hausdorff(d, 95))
    fp = m - len(served)
    if counted + fp == 0:
        return 1.0, 0.0, 0, 0, 0
    return (sum(dices) / (counted + fp), (sum(hds) + 374 * fp) / (counted + fp), counted_tp, fp,
            counted - counted_tp)


@pytest.mark.parametrize("challenge", ["glioma", "meningioma", "metastases"])
@pytest.mark.parametrize("seed", range(6))
def test_brats2023_equals_reference_on_multi_lesion_anisotropic_cases(seed, challenge):
    pred, gt, spacing = glioma_case(seed)
    spec = CHALLENGES[challenge]
    for region in ("wt", "tc", "et"):
        labels = region_labels("brats_glioma", region)
        p, g = np.isin(pred, labels), np.isin(gt, labels)
        got = brats2023_region(p, g, spacing, dilation_voxels=spec.dilation_voxels, threshold_mm3=spec.threshold_mm3)
        want = brats2023_reference(p, g, spacing, spec.dilation_voxels, spec.threshold_mm3)
        v = got.values
        assert v["lesion_dice"] == pytest.approx(want[0], abs=1e-12)
        assert v["lesion_hd95"] == pytest.approx(want[1], abs=1e-9)
        assert (v["tp"], v["fp"], v["fn"]) == want[2:]


@pytest.mark.parametrize("name", list(edge_cases()))
def test_brats2023_edge_cases_equal_reference(name):
    pred, gt, spacing = edge_cases()[name]
    got = brats2023_region(pred > 0, gt > 0, spacing, dilation_voxels=3, threshold_mm3=50.0).values
    want = brats2023_reference(pred > 0, gt > 0, spacing, 3, 50.0)
    assert (got["lesion_dice"], got["tp"], got["fp"], got["fn"]) == pytest.approx((want[0], *want[2:]), abs=1e-12)
    assert got["lesion_hd95"] == pytest.approx(want[1], abs=1e-9)


def test_brats2023_edge_values():
    cases = edge_cases()
    assert brats2023_region(*cases["empty"][:2], (1, 1, 1)).values["lesion_dice"] == 1.0
    only_fp = brats2023_region(*cases["only_fp"][:2], (1, 1, 1)).values
    assert (only_fp["lesion_dice"], only_fp["lesion_hd95"], only_fp["fp"]) == (0.0, 374.0, 1.0)
    only_fn = brats2023_region(*cases["only_fn"][:2], (1, 1, 1)).values
    assert (only_fn["lesion_dice"], only_fn["lesion_hd95"], only_fn["fn"]) == (0.0, 374.0, 1.0)
    joined = brats2023_region(*cases["joined_by_dilation"][:2], (1, 1, 1))
    assert [r.status for r in joined.lesions] == ["TP"]  # dilation makes the two GT blobs one lesion
    two = brats2023_region(*cases["one_prediction_two_lesions"][:2], (1, 1, 1), dilation_voxels=1)
    assert [(r.status, r.pred_components) for r in two.lesions] == [("TP", (1,)), ("TP", (1,))]
    small = brats2023_region(*cases["under_threshold"][:2], (1, 1, 1))
    assert [r.counted for r in small.lesions] == [True, False] and small.values["fn"] == 0.0
    touching = brats2023_region(*cases["touching_without_overlap"][:2], (1, 1, 1))
    assert touching.lesions[0].status == "TP" and touching.lesions[0].dice == 0.0
    # metastases: 1-voxel dilation does not reach a prediction 2 voxels away → FN + FP
    mets = brats2023_region(*cases["touching_without_overlap"][:2], (1, 1, 1), dilation_voxels=1, threshold_mm3=2)
    assert (mets.values["fn"], mets.values["fp"]) == (1.0, 1.0)


def test_2d_inputs():
    pred, gt, _ = glioma_case(3, shape=(1, 60, 60))
    p, g = pred[0] > 0, gt[0] > 0
    res = brats2023_region(p, g, (0.8, 1.1), dilation_voxels=1, threshold_mm3=2)
    assert res.values["tp"] >= 1 and 0 < res.values["lesion_dice"] < 1
    pan = panoptica_region(p, g, (0.8, 1.1))
    assert pan.values["tp"] >= 1 and 0 < pan.values["sq_dice"] <= 1


def test_surfel_option_equals_deepmind():
    pred, gt, spacing = glioma_case(1)
    p, g = pred > 0, gt > 0
    d = deepmind.compute_surface_distances(g, p, list(spacing))
    got = compute_metrics(p, g, ["hd95:surface=surfel", "nsd:surface=surfel,tolerance_mm=1.5",
                                 "assd:surface=surfel"], spacing).values
    assert got["hd95:surface=surfel"] == deepmind.compute_robust_hausdorff(d, 95)
    assert got["nsd:surface=surfel,tolerance_mm=1.5"] == deepmind.compute_surface_dice_at_tolerance(d, 1.5)
    a = d["surfel_areas_gt"] @ d["distances_gt_to_pred"] + d["surfel_areas_pred"] @ d["distances_pred_to_gt"]
    assert got["assd:surface=surfel"] == pytest.approx(a / (d["surfel_areas_gt"].sum() + d["surfel_areas_pred"].sum()))
    with pytest.raises(InputError, match="surface must be"):
        compute_metrics(p, g, ["hd95:surface=surfels"], spacing)


def test_bipartite_matching_is_optimal_not_greedy():
    ref = np.zeros((1, 12, 12), np.int32)
    ref[0, 0:4, 0:6] = 1
    ref[0, 6:10, 0:6] = 2
    pred = np.zeros_like(ref)
    pred[0, 0:8, 0:6] = 1  # overlaps both references
    pred[0, 9:12, 0:6] = 2  # overlaps reference 2 a little
    got = match_instances(ref, 2, pred, 2, "bipartite")
    assert got == [(1, 1), (2, 2)]  # total Dice beats giving pred 1 to its best partner alone
    assert match_instances(ref, 2, pred, 2, "greedy_iou") == [(1, 1)]  # IoU(1,1) = 24/48 = 0.5 ≥ 0.5


def test_panoptica_counts_and_penalties():
    cases = edge_cases()
    empty = panoptica_region(*cases["empty"][:2])
    assert math.isnan(empty.raw["rq"]) and empty.values["rq"] == 1.0 and empty.values["lesion_hd95"] == 0.0
    fp_fn = panoptica_region(*cases["fp_and_fn"][:2], (1, 1, 2))
    assert (fp_fn.values["tp"], fp_fn.values["fp"], fp_fn.values["fn"], fp_fn.values["rq"]) == (0, 1, 1, 0.0)
    assert fp_fn.raw["sq_hd95"] == math.inf and fp_fn.values["sq_hd95"] == 373.0
    mets = panoptica_region(*cases["fp_and_fn"][:2], (1, 1, 2), parser="metastases")
    assert (mets.values["lesion_dice"], mets.values["lesion_hd95"]) == (0.0, 373.0)


def test_lesionwise_label_map_regions_and_errors():
    pred, gt, spacing = glioma_case(2)
    res = lesionwise(pred, gt, spacing, definition="panoptica", challenge="paediatric")
    assert list(res) == list(CHALLENGES["paediatric"].panoptica_regions)
    assert list(lesionwise(pred, gt, spacing)) == ["wt", "tc", "et"]
    with pytest.raises(UnknownNameError, match="Did you mean 'glioma'"):
        lesionwise(pred, gt, spacing, challenge="gliomas")
    with pytest.raises(UnknownNameError, match="region of brats_glioma"):
        lesionwise(pred, gt, spacing, regions=["wtt"])


def test_registry_metrics_agree_with_engine_and_refuse_wrong_definition():
    pred, gt, spacing = glioma_case(4)
    p, g = np.isin(pred, (1, 2, 3)), np.isin(gt, (1, 2, 3))
    want = brats2023_region(p, g, spacing).values
    got = compute_metrics(p, g, ["lesion_dice", "lesion_hd95", "lesion_f1", "lesion_fp"], spacing).values
    assert got == {"lesion_dice": want["lesion_dice"], "lesion_hd95": want["lesion_hd95"],
                   "lesion_f1": want["f1"], "lesion_fp": want["fp"]}
    pan = compute_metrics(p, g, ["lesion_pq:definition=panoptica"], spacing).values
    assert pan["lesion_pq:definition=panoptica"] == panoptica_region(p, g, spacing).values["pq"]
    with pytest.raises(InputError, match="only for definition=panoptica"):
        compute_metrics(p, g, ["lesion_pq"], spacing)


def test_detection_staging_uses_the_same_instances():
    from medmix.staging import lesions

    _, gt, spacing = glioma_case(5)
    labels, count = components(gt > 0)
    assert sorted(x.voxel_count for x in lesions(gt > 0, spacing)) == sorted(np.bincount(labels.ravel())[1:])


def test_cli_score_lesionwise(tmp_path):
    import nibabel as nib

    pred, gt, spacing = glioma_case(0)
    for name, arr in (("pred", pred), ("gt", gt)):
        nib.save(nib.Nifti1Image(arr, np.diag(spacing + (1.0,))), tmp_path / f"{name}.nii.gz")
    runner = CliRunner()
    out = runner.invoke(app, ["score", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"),
                              "--lesionwise", "panoptica", "--challenge", "metastases", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data["regions"]) == {"et", "rc", "tc", "wt"} and "lesion_pq" not in data["regions"]["wt"]
    assert data["regions"]["wt"]["pq"] == pytest.approx(
        lesionwise(pred, gt, spacing, definition="panoptica", challenge="metastases")["wt"].values["pq"])
    table = runner.invoke(app, ["score", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"),
                                "--lesionwise", "brats2023", "--lesions"])
    assert table.exit_code == 0 and "lesion_hd95" in table.output and "FP" in table.output
    bad = runner.invoke(app, ["score", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"),
                              "--lesionwise", "brats2024"])
    assert bad.exit_code == 2 and "brats2023, panoptica" in bad.output


def test_evaluate_writes_lesion_rows_and_aggregates(tmp_path):
    import pandas as pd

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["evaluate", "--model", "tiny", "--suite", "phantom25", "--task",
                                      "phantom_flare22_liver", "-m", "dice", "-m", "lesion_dice", "-m",
                                      "lesion_sq_dice:definition=panoptica", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "lesions.csv" in result.output
    lesions = pd.read_csv(out / "lesions.csv")
    cases = pd.read_csv(out / "cases.csv")
    assert set(lesions["definition"]) == {"brats2023", "panoptica"}
    assert set(lesions["case"]) == set(cases["case"])
    volume = cases[(cases["slice"] == "volume") & (cases["metric"] == "lesion_dice")]
    assert len(volume) == cases["case"].nunique() and volume["value"].between(0, 1).all()
    # the aggregate row equals the per-lesion rows it comes from (BraTS 2023: Σ dice / (lesions + FP))
    one = lesions[(lesions["definition"] == "brats2023") & (lesions["case"] == volume["case"].iloc[0])]
    counted = one[one["counted"] & (one["status"] != "FP")]
    n_fp = (one["status"] == "FP").sum()
    assert volume["value"].iloc[0] == pytest.approx(counted["dice"].sum() / (len(counted) + n_fp))
    summary = json.loads((out / "summary.json").read_text())
    assert "lesion_dice" in json.dumps(summary)


def test_card_target_from_label_convention():
    import yaml

    from medmix.errors import ConfigError
    from medmix.evaluation.cards import card_from_dict

    path = "eval/tasks/phantom25/phantom_brats2021_whole_tumour.yaml"
    data = yaml.safe_load(open(path))
    by_labels = card_from_dict(data, where=path)
    data["target"] = {"name": "whole_tumour", "convention": "brats2021", "region": "wt"}
    assert card_from_dict(data, where=path).target == by_labels.target
    data["target"] = {"name": "whole_tumour", "convention": "brats2021", "region": "wtt"}
    with pytest.raises(ConfigError, match="target.convention.*Did you mean 'wt'"):
        card_from_dict(data, where=path)
    data["target"] = {"name": "whole_tumour", "convention": "brats2021", "region": "wt", "labels": [1]}
    with pytest.raises(ConfigError, match="either labels, or convention and region"):
        card_from_dict(data, where=path)


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_cc3d_numbering_equals_scipy(connectivity):
    rng = np.random.default_rng(connectivity)
    mask = ndimage.binary_opening(rng.random((30, 40, 25)) > 0.6)
    rank = {6: 1, 18: 2, 26: 3}[connectivity]
    want, n = ndimage.label(mask, ndimage.generate_binary_structure(3, rank))
    got, m = components(mask, connectivity)
    assert m == n > 5 and np.array_equal(got, want)
    got2d, _ = components(mask[3], 4)
    assert np.array_equal(got2d, ndimage.label(mask[3])[0])


def test_brats2023_legacy_values_are_the_whole_region_scores_and_optional():
    pred, gt, spacing = glioma_case(3)
    p, g = pred > 0, gt > 0
    values = brats2023_region(p, g, spacing).values
    whole = compute_metrics(p, g, ["dice", "hd95:surface=surfel"], spacing).values
    assert values["legacy_dice"] == whole["dice"]
    assert values["legacy_hd95"] == whole["hd95:surface=surfel"]
    lean = brats2023_region(p, g, spacing, legacy=False).values
    assert "legacy_dice" not in lean and lean == {k: v for k, v in values.items() if not k.startswith("legacy")}


def test_bad_lesion_option_stops_evaluate_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["evaluate", "--model", "tiny", "--suite", "phantom25", "--task",
                                      "phantom_flare22_liver", "-m", "lesion_dice:definition=brats2033",
                                      "--out", str(out)])
    assert result.exit_code == 2
    assert "lesion_dice: definition must be one of brats2023, panoptica, got 'brats2033'." in result.output
    assert not out.exists()
    with pytest.raises(InputError, match="unknown option 'matchr'"):
        compute_metrics(np.ones((4, 4), bool), np.ones((4, 4), bool), ["lesion_dice:matchr=greedy_iou"])
    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(app, ["metrics", "list", "--json"]).output)}
    assert rows["lesion_dice"]["builtin"] and rows["lesion_dice"]["options"]["definition"] == "brats2023"

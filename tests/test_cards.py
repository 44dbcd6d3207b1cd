"""Task cards, suites, the calibration/test split and the harness case source."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from medmix.data import layout
from medmix.data.sources import calibration_count, case_ids, load_case, split_cases
from medmix.errors import ConfigError, InputError, UnknownNameError
from medmix.evaluation.cards import TaskCard, card_from_dict, load_card
from medmix.evaluation.suites import eval_dir, find_card, list_suites, list_tasks, load_suite

EVAL = Path(__file__).resolve().parents[1] / "eval"
CARD_FILES = sorted((EVAL / "tasks").rglob("*.yaml"))
#: Dataset ids the `medmix data prepare` converters write.
CONVERTER_DATASETS = {"flare22", "promise12", "msd_task05", "msd_task02", "msd_task06", "msd_task07", "brats2021",
                      "kits", "lits", "topcow", "nasalseg", "refuge", "dofe_fundus", "fcon1000_freesurfer",
                      "fcon1000_freesurfer_raw", "rat"}


# --- every shipped card and suite -----------------------------------------------------------------------------


def test_cards_were_found():
    assert len(CARD_FILES) == 25 + 25 + 3 + 2  # medsamix25, phantom25, mni, refuge


@pytest.mark.parametrize("path", CARD_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_card_validates(path):
    card = load_card(path)
    assert isinstance(card, TaskCard)
    assert card.name == path.stem
    assert card.path == path
    assert card_from_dict(card.to_dict()) == card
    assert yaml.safe_load(yaml.safe_dump(card.to_dict())) == card.to_dict()  # plain data, YAML-ready
    assert card.metric_requests()
    assert card.provenance is not None, "every shipped card says where its task comes from"
    if card.source == "harness":
        from medmix.data.prepare import CONVERTERS

        assert set(card.datasets) <= CONVERTER_DATASETS
        assert card.download is not None and card.download.url and card.download.instructions
        commands = [c.strip() for c in card.prepare.split(";")]
        assert all(c.startswith("medmix data prepare ") for c in commands)
        assert all(c.split()[3] in CONVERTERS.names() for c in commands)
        # every dataset the card reads is written by one of its prepare commands
        written = {c.split("dataset_id=")[1].split()[0] if "dataset_id=" in c else c.split()[3] for c in commands}
        assert set(card.datasets) <= written
    if card.channels == "rgb":
        assert card.slice_axis is None and card.prompt.kind == "jittered_box"


def test_builtin_suites():
    assert {"medsamix25", "phantom25", "mni"} <= set(list_suites())
    sizes = {name: len(load_suite(name)) for name in ("medsamix25", "phantom25", "mni")}
    assert sizes == {"medsamix25": 25, "phantom25": 25, "mni": 3}
    real = load_suite("medsamix25")
    assert {c.source for c in real} == {"harness"}
    staged = {c.name: c.staging.rule.name for c in real if c.staging is not None}
    assert staged == {"kits_kidney_tumour": "kidney", "lits_liver_tumour": "liver_hcc",
                      "msd_task06_lung_tumour": "lung", "msd_task07_pancreas_tumour": "pancreas"}
    assert real.card("flare22_left_kidney").target.labels == (13,)
    assert real.card("topcow_vessels").target.labels == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15)
    assert eval_dir() == EVAL


def test_phantom_suite_mirrors_the_real_one():
    real = {c.name: c for c in load_suite("medsamix25")}
    phantom = load_suite("phantom25")
    assert sorted(c.name for c in phantom) == sorted(f"phantom_{n}" for n in real)
    for card in phantom:
        twin = real[card.name.removeprefix("phantom_")]
        assert card.source == "phantom"
        assert (card.target, card.modality, card.intensity, card.prompt, card.slice_axis, card.channels) == (
            twin.target, twin.modality, twin.intensity, twin.prompt, twin.slice_axis, twin.channels)
        assert (card.staging is None) == (twin.staging is None)


def test_unknown_suite_has_did_you_mean():
    with pytest.raises(UnknownNameError, match="medsamix25") as info:
        load_suite("medsamix26")
    assert "Did you mean" in str(info.value)


def test_suite_file_by_path(tmp_path):
    suite_file = tmp_path / "mine.yaml"
    suite_file.write_text("cards: [phantom25/phantom_flare22_liver.yaml, my_card.yaml]\n")
    mine = card_dict(name="my_task")
    (tmp_path / "my_card.yaml").write_text(yaml.safe_dump(mine))
    suite = load_suite(suite_file)
    assert suite.name == "mine" and suite.task_names == ["phantom_flare22_liver", "my_task"]
    suite_file.write_text("cards: [my_card.yaml, my_card.yaml]\n")
    with pytest.raises(ConfigError, match=r"cards\[1\].*already in the suite"):
        load_suite(suite_file)
    suite_file.write_text("cards: [nope.yaml]\ndescripton: x\n")
    with pytest.raises(ConfigError, match="did you mean 'description'"):
        load_suite(suite_file)


def test_find_card_and_list_tasks():
    assert "flare22_liver" in list_tasks()
    assert find_card("mni_brain").source == "mni"
    with pytest.raises(UnknownNameError, match="flare22_liver"):
        find_card("flare22_livr")


# --- validation errors with the field path ---------------------------------------------------------------------


def card_dict(**overrides) -> dict:
    base = {
        "name": "toy_liver", "description": "toy", "source": "phantom", "dataset": "flare22", "modality": "CT",
        "target": {"name": "liver", "labels": [1]}, "intensity": {"kind": "ct_window", "level": 40, "width": 400},
        "prompt": {"kind": "jittered_box", "jitter": {"shift_px": [0, 5], "scale_frac": [0.0, 0.1]}},
    }
    base.update(overrides)
    return base


def write_card(tmp_path, data, name="card.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_are_filled_in():
    card = card_from_dict(card_dict())
    assert card.slice_axis == 2 and card.channels == "grey"
    assert card.split.rule == "first_fraction" and card.split.fraction == 0.2
    assert card.metrics == ("dice", "iou", "hd95", "assd", "nsd", "bahd")
    assert card.prompt.seed == 0 and card.prompt.per_component is False
    assert card.prompt.jitter.shift_px == (0.0, 5.0)
    resolved = card.to_dict()
    assert resolved["split"] == {"rule": "first_fraction", "fraction": 0.2}
    assert resolved["intensity"] == {"kind": "ct_window", "level": 40.0, "width": 400.0}


def test_nested_unknown_key_names_file_and_path(tmp_path):
    data = card_dict()
    data["prompt"]["jitter"] = {"shfit_px": [0, 5]}
    path = write_card(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_card(path)
    message = str(info.value)
    assert message.startswith(f"{path}: prompt.jitter: unknown key 'shfit_px' (did you mean 'shift_px'?)")


def test_top_level_unknown_key(tmp_path):
    data = card_dict()
    data["modalty"] = data.pop("modality")
    with pytest.raises(ConfigError, match=r"unknown key 'modalty' \(did you mean 'modality'\?\)"):
        load_card(write_card(tmp_path, data))


@pytest.mark.parametrize("change, pattern", [
    ({"slice_axis": 3}, r"slice_axis: expected 0, 1 or 2"),
    ({"name": "Toy-Liver"}, r"name: expected a snake_case name"),
    ({"source": "harnes"}, r"source: .*did you mean 'harness'"),
    ({"modality": "mri"}, r"modality: .*did you mean 'MRI'"),
    ({"channels": "rgb"}, r"slice_axis: RGB images are 2D"),
    ({"target": {"name": "liver", "labels": [0]}}, r"target.labels\[0\]: expected an integer label id ≥ 1"),
    ({"target": {"name": "liver", "labels": ["1"]}}, r"target.labels\[0\]"),
    ({"target": {"name": "liver", "labels": [1, 1]}}, r"target.labels: label ids repeat"),
    ({"target": {"name": "liver"}}, r"target.labels: required"),
    ({"target": {"name": "liver", "labels": [1], "label": 2}}, r"target: unknown key 'label' \(did you mean"),
    ({"intensity": {"kind": "ct_windw"}}, r"intensity.kind: .*did you mean 'ct_window'"),
    ({"intensity": {"kind": "ct_window", "level": 40}}, r"intensity.width: required"),
    ({"intensity": {"kind": "ct_window", "level": 40, "width": -1}}, r"intensity.width: must be > 0"),
    ({"intensity": {"kind": "percentile", "low": 99, "high": 1}}, r"intensity: expected percentiles"),
    ({"intensity": {"kind": "minmax", "level": 3}}, r"intensity: unknown key 'level'"),
    ({"split": {"rule": "first_fraction", "fraction": 0}}, r"split.fraction: expected 0 < fraction ≤ 1"),
    ({"split": {"rule": "file"}}, r"split.path: required"),
    ({"split": {"rule": "random"}}, r"split.rule: expected one of first_fraction, medsamix, file, dataset"),
    ({"prompt": {"kind": "jittered_box"}}, r"prompt.jitter: kind 'jittered_box' needs a jitter block"),
    ({"prompt": {"kind": "tight_box", "jitter": {"shift_px": [0, 1]}}}, r"prompt: unknown key 'jitter' \('jitter' belongs to kind jittered_box"),
    ({"prompt": {"kind": "jittered_box", "jitter": {"shift_px": [5, 1]}}}, r"prompt.jitter.shift_px: lo must be"),
    ({"prompt": {"kind": "jittered_box", "jitter": {"shift_px": [0, 1], "shift_frac": [0, 1]}}},
     r"prompt.jitter: give shift_px or shift_frac, not both"),
    ({"prompt": {"kind": "tight_box", "per_component": "yes"}}, r"prompt.per_component: expected true or false"),
    ({"prompt": {"kind": "tight_box", "seed": -1}}, r"prompt.seed"),
    ({"metrics": ["dice", "dcie"]}, r"metrics\[1\]: Unknown metric 'dcie'. Did you mean 'dice'"),
    ({"metrics": ["nsd:tolerance=2"]}, r"metrics\[0\]: .*unknown option 'tolerance'"),
    ({"metrics": ["dice", "dice"]}, r"metrics\[1\]: 'dice' is listed twice"),
    ({"staging": {"rule": "lungs"}}, r"staging.rule: Unknown staging rule 'lungs'. Did you mean 'lung'"),
    ({"staging": {"rule": "lung", "feret": "2d"}}, r"staging.feret: expected one of 3d, in_slice"),
    ({"staging": {"rule": {"measure": "diameter", "unit": "cm", "categorys": []}}},
     r"staging.rule.categorys: unknown field"),
    ({"download": {"link": "x"}}, r"download: unknown key 'link'"),
    ({"dataset": "flare23"}, r"dataset: unknown phantom scene 'flare23' \(did you mean 'flare22'\?\)"),
    ({"target": {"name": "liver", "labels": [7]}}, r"target.labels: unknown label id 7 for phantom scene 'flare22'"),
    ({"source": "mni", "dataset": "flare22"}, r"dataset: source 'mni' reads the MNI152 template"),
])
def test_bad_values_are_refused_with_the_field_path(tmp_path, change, pattern):
    data = card_dict()
    data.update(copy.deepcopy(change))
    path = write_card(tmp_path, data)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_card(path)
    assert str(info.value).startswith(str(path))


def test_missing_required_field():
    data = card_dict()
    del data["target"]
    with pytest.raises(ConfigError, match="target: required field is missing"):
        card_from_dict(data, where="x.yaml")


def test_custom_staging_rule_round_trips():
    rule = {"name": "my_rule", "measure": "diameter", "unit": "cm",
            "categories": [{"name": "small", "max": 2}, {"name": "large"}]}
    card = card_from_dict(card_dict(staging={"rule": rule, "feret": "in_slice"}))
    assert card.staging.rule.categories == ("T0", "small", "large")
    assert card.staging.to_dict()["rule"] == rule
    assert card_from_dict(card.to_dict()) == card


def test_bad_yaml_and_missing_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_card(path)
    with pytest.raises(ConfigError, match="not found"):
        load_card(tmp_path / "absent.yaml")
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_card(path)


# --- split --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, expected", [(1, (1, 0)), (2, (1, 1)), (5, (1, 4)), (10, (2, 8)), (11, (3, 8)),
                                         (15, (3, 12))])
def test_first_fraction_split(n, expected):
    ids = [f"case_{i:03d}" for i in reversed(range(n))]  # unsorted on purpose
    if n == 1:
        with pytest.warns(UserWarning, match="test split is empty"):
            calibration, test = split_cases(ids, 0.2)
    else:
        calibration, test = split_cases(ids, 0.2)
    assert (len(calibration), len(test)) == expected
    assert calibration + test == sorted(ids)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 500), st.floats(0.001, 1.0))
def test_split_properties(n, fraction):
    import math
    from fractions import Fraction

    k = calibration_count(n, fraction)
    reference = max(1, math.ceil(Fraction(repr(fraction)) * n))  # exact decimal product, no binary rounding
    assert k == (min(reference, n - 1) if n >= 2 else 1)
    calibration, test = split_cases([f"c{i:04d}" for i in range(n)], fraction) if n > 1 else ([0], [])
    assert len(calibration) + len(test) == n


def test_split_on_cards():
    card = card_from_dict(card_dict())
    assert case_ids(card, split="calibration") == ["case_000", "case_001"]
    assert case_ids(card) == [f"case_{i:03d}" for i in range(2, 10)]
    assert len(case_ids(card, split="all")) == 10
    with pytest.raises(InputError, match="did you mean 'test'|Did you mean 'test'"):
        case_ids(card, split="tset")


def test_split_file(tmp_path):
    (tmp_path / "split.json").write_text(json.dumps({"calibration": ["case_009"], "test": ["case_000", "case_001"]}))
    path = write_card(tmp_path, card_dict(split={"rule": "file", "path": "split.json"}))
    card = load_card(path)
    assert case_ids(card, split="calibration") == ["case_009"]
    assert case_ids(card, split="test") == ["case_000", "case_001"]
    (tmp_path / "split.json").write_text(json.dumps({"calibration": ["case_09"], "test": []}))
    with pytest.raises(ConfigError, match="did you mean 'case_009'"):
        case_ids(card, split="test")
    (tmp_path / "split.json").write_text(json.dumps({"calibration": ["case_001"], "test": ["case_001"]}))
    with pytest.raises(ConfigError, match="in both calibration and test"):
        case_ids(card)


# --- the harness source -------------------------------------------------------------------------------------------

SPACING = (0.8, 0.9, 2.5)


def make_dataset(root: Path, dataset: str = "toy", n: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    cases = {}
    for i in range(n):
        image = rng.normal(40, 30, size=(12, 10, 6)).astype(np.float32)
        label = np.zeros((12, 10, 6), dtype=np.uint8)
        label[2:6, 3:7, 1:4] = 1
        label[7:10, 2:5, 2:5] = 2
        cases[f"case_{i}"] = (image, label)
        layout.write_case(root, dataset, f"case_{i}", image, label, spacing=SPACING)
    layout.write_dataset_json(root, dataset, modality="CT", labels={1: "liver", 2: "kidney"}, source="test")
    return cases


def harness_card(**overrides) -> TaskCard:
    data = card_dict(source="harness", dataset="toy", target={"name": "kidney", "labels": [2]},
                     prompt={"kind": "tight_box"},
                     download={"url": "https://example.org/toy", "instructions": "register first"},
                     prepare="medmix data prepare toy --src /path/to/toy --dst $MEDMIX_DATA")
    data.update(overrides)
    return card_from_dict(data, where="toy.yaml")


def test_harness_loads_binary_target_spacing_and_affine(tmp_path):
    cases = make_dataset(tmp_path)
    card = harness_card()
    assert case_ids(card, tmp_path, "all") == ["case_0", "case_1", "case_2"]
    assert case_ids(card, tmp_path, "calibration") == ["case_0"]
    case = load_case(card, "case_1", tmp_path)
    image, label = cases["case_1"]
    assert case.task == "toy_liver" and case.case_id == "case_1"
    assert case.label.dtype == np.uint8 and set(np.unique(case.label)) == {0, 1}
    np.testing.assert_array_equal(case.label, (label == 2).astype(np.uint8))
    assert case.image.dtype == np.float32
    np.testing.assert_allclose(case.image, image, rtol=1e-6)  # raw intensities by default
    assert case.spacing == pytest.approx(SPACING)
    np.testing.assert_allclose(case.affine, np.diag([*SPACING, 1.0]))
    union = load_case(harness_card(target={"name": "both", "labels": [1, 2]}), "case_1", tmp_path)
    assert union.label.sum() == (label > 0).sum()
    normalised = load_case(harness_card(), "case_1", tmp_path, normalise=True)
    assert normalised.image.min() >= 0 and normalised.image.max() <= 255
    assert normalised.meta["intensity"] == {"kind": "ct_window", "level": 40.0, "width": 400.0}


def test_harness_data_root_from_environment(tmp_path, monkeypatch):
    make_dataset(tmp_path)
    monkeypatch.setenv("MEDMIX_DATA", str(tmp_path))
    assert load_case(harness_card(), "case_0").label.sum() > 0
    monkeypatch.delenv("MEDMIX_DATA")
    with pytest.raises(InputError, match="MEDMIX_DATA"):
        case_ids(harness_card())


def test_missing_dataset_names_download_and_prepare(tmp_path):
    with pytest.raises(InputError) as info:
        case_ids(harness_card(), tmp_path)
    message = str(info.value)
    assert "dataset 'toy'" in message and "https://example.org/toy" in message and "register first" in message
    assert f"medmix data prepare toy --src /path/to/toy --dst {tmp_path}" in message


def test_unknown_case_id(tmp_path):
    make_dataset(tmp_path)
    with pytest.raises(UnknownNameError, match="Unknown toy case 'case_l'. Did you mean .*'case_1'"):
        load_case(harness_card(), "case_l", tmp_path)


def test_unknown_label_id(tmp_path):
    make_dataset(tmp_path)
    card = harness_card(target={"name": "x", "labels": [7]})
    with pytest.raises(InputError, match=r"unknown label id 7 for dataset toy; ids present: 1 \(liver\), "
                                         r"2 \(kidney\)"):
        load_case(card, "case_0", tmp_path)


def test_shape_mismatch(tmp_path):
    import nibabel as nib

    make_dataset(tmp_path)
    nib.save(nib.Nifti1Image(np.zeros((12, 10, 5), np.float32), np.diag([*SPACING, 1.0])),
             tmp_path / "toy" / "images" / "case_2.nii.gz")
    with pytest.raises(InputError, match=r"case 'case_2'.*shape \(12, 10, 5\).*shape \(12, 10, 6\)"):
        load_case(harness_card(), "case_2", tmp_path)


def test_affine_mismatch(tmp_path):
    import nibabel as nib

    make_dataset(tmp_path)
    affine = np.diag([*SPACING, 1.0])
    affine[0, 3] = 5.0
    nib.save(nib.Nifti1Image(np.zeros((12, 10, 6), np.float32), affine), tmp_path / "toy" / "images" / "case_2.nii.gz")
    with pytest.raises(InputError, match=r"case 'case_2'.*different affines"):
        load_case(harness_card(), "case_2", tmp_path)


def test_corrupt_nifti(tmp_path):
    make_dataset(tmp_path)
    bad = tmp_path / "toy" / "labels" / "case_0.nii.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match=r"case 'case_0'.*labels/case_0.nii.gz.*cannot read it as NIfTI"):
        load_case(harness_card(), "case_0", tmp_path)
    (tmp_path / "toy" / "images" / "case_1.nii.gz").unlink()
    with pytest.raises(InputError, match=r"case 'case_1'.*image file .* is missing"):
        load_case(harness_card(), "case_1", tmp_path)


def test_slice_axis_is_checked_against_the_affine(tmp_path):
    rng = np.random.default_rng(2)
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = 3.0, 0.8, 0.8, 1.0  # axis 0 is superior–inferior
    label = np.zeros((6, 10, 12), np.uint8)
    label[1:4, 2:6, 3:8] = 1
    layout.write_case(tmp_path, "zyx", "c0", rng.normal(size=label.shape).astype(np.float32), label, affine=affine)
    layout.write_dataset_json(tmp_path, "zyx", modality="CT", labels={1: "kidney"}, source="test")
    good = harness_card(dataset="zyx", name="zyx_ok", slice_axis=0, target={"name": "kidney", "labels": [1]})
    case = load_case(good, "c0", tmp_path)
    assert case.spacing == pytest.approx((3.0, 0.8, 0.8))
    with pytest.warns(UserWarning, match="axial .* array axis of case 'c0' is 0"):
        load_case(harness_card(dataset="zyx", name="zyx_bad", target={"name": "kidney", "labels": [1]}), "c0",
                  tmp_path)


def test_rgb_2d_dataset(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(20, 24, 3)).astype(np.uint8)
    label = np.zeros((20, 24), np.uint8)
    label[5:9, 6:12] = 1
    label[6:8, 8:10] = 2
    layout.write_case(tmp_path, "fundus", "img_0", image, label)
    layout.write_dataset_json(tmp_path, "fundus", modality="fundus", channels="rgb",
                              labels={1: "rim", 2: "cup"}, source="test")
    card = card_from_dict(card_dict(source="harness", dataset="fundus", modality="fundus", channels="rgb",
                                    slice_axis=None, intensity={"kind": "none"},
                                    target={"name": "disc", "labels": [1, 2]}))
    case = load_case(card, "img_0", tmp_path)
    assert case.channels == "rgb" and case.image.shape == (20, 24, 3) and case.ndim == 2
    assert case.label.sum() == 24
    np.testing.assert_array_equal(case.image, image.astype(np.float32))
    wrong = card_from_dict(card_dict(source="harness", dataset="fundus", modality="fundus", slice_axis=2,
                                     target={"name": "disc", "labels": [1, 2]}))
    with pytest.raises(InputError, match="the image looks RGB: set channels: rgb"):
        load_case(wrong, "img_0", tmp_path)

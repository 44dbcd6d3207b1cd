"""The MedSAMix-exact protocol (reference.md §3a) against small re-implementations of MedSAMix's released code,
written here from its text: intensity pipeline, fundus jitter, split arithmetic, slicing, SAM preprocessing, Dice."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from medmix.data.intensity import IntensitySpec, apply_intensity
from medmix.data.prompts import PromptSpec, slice_boxes
from medmix.data.sources import case_ids, load_case, medsamix_calibration_count
from medmix.errors import ConfigError, InputError
from medmix.evaluation.cards import card_from_dict
from medmix.evaluation.protocol import Protocol, parse_protocol
from medmix.evaluation.suites import load_suite


# --- MedSAMix's code, re-implemented from reference.md §3a (global np.random, its own arithmetic) -------------------


def medsamix_volume_slices(volume: np.ndarray) -> list[np.ndarray]:
    """dataloader.load_data (clip_percentiles, z_score_normalization) → get_single_item
    (min_max_normalize_with_clipping(clip=False)) → image_loader_3D (image[..., k] · 255 → uint8), per slice k."""
    img = volume.astype(np.float64)  # nibabel get_fdata
    img = np.clip(img, np.percentile(img, 0.5), np.percentile(img, 99.5))
    img = (img - np.mean(img)) / np.std(img)
    img = (img - img.min()) / (img.max() - img.min() + 1e-5)
    tensor = torch.tensor(img)[None]  # (1, H, W, D)
    return [(tensor[:, :, :, k] * 255).to(torch.uint8)[0].numpy() for k in range(volume.shape[-1])]


def medsamix_fundus_boxes(masks: list[np.ndarray]) -> list[tuple[int, int, int, int]]:
    """evaluate_2d.eval_fundus: np.random seeded 42 once, augment_bounding_box per image in sorted-file order."""
    np.random.seed(42)
    out = []
    for seg in masks:
        height, width = seg.shape
        nz = np.nonzero(seg)
        min_y, min_x = np.min(nz, axis=1)
        max_y, max_x = np.max(nz, axis=1)
        w, h = max_x - min_x, max_y - min_y
        jx, jy = w * 0.05, h * 0.05
        min_x += int(np.random.uniform(-jx * 0.4, jx))
        max_x += int(np.random.uniform(-jx * 0.4, jx))
        min_y += int(np.random.uniform(-jy * 0.4, jy))
        max_y += int(np.random.uniform(-jy * 0.4, jy))
        sx = int(np.random.uniform(-w * 0.05, w * 0.05))
        sy = int(np.random.uniform(-h * 0.05, h * 0.05))
        min_x, max_x, min_y, max_y = min_x + sx, max_x + sx, min_y + sy, max_y + sy
        if np.random.rand() < 0.3:
            kx, ky = np.random.uniform(0.95, 1.2), np.random.uniform(0.95, 1.2)
            cx, cy = (min_x + max_x) / 2, (min_y + max_y) / 2
            min_x, max_x = int(cx - w * kx / 2), int(cx + w * kx / 2)
            min_y, max_y = int(cy - h * ky / 2), int(cy + h * ky / 2)
        out.append((max(0, min_x), max(0, min_y), min(width - 1, max_x), min(height - 1, max_y)))
    return out


def medsamix_split(ids: list[str]) -> tuple[list[str], list[str]]:
    """dataloader.loaddata_from_config with train_or_val_split_rate 0.8 (its literal expression)."""
    samples = sorted(set(ids))
    split_point = int(len(samples) - len(samples) * 0.8)
    return samples[:split_point], samples[split_point:]


# --- intensity -----------------------------------------------------------------------------------------------------


def _volumes():
    rng = np.random.default_rng(7)
    ct = rng.normal(40, 300, size=(31, 27, 9)).round().clip(-1024, 3000).astype(np.int16)
    mri = np.where(rng.random((24, 20, 11)) < 0.4, 0.0, rng.gamma(2.0, 300.0, size=(24, 20, 11))).astype(np.float32)
    spiky = rng.normal(0, 1, size=(17, 33, 5)).astype(np.float32)
    spiky[3, 4, 2] = 1e4  # an outlier the 99.5th percentile clips
    return [ct, mri, spiky, rng.integers(0, 4096, size=(8, 8, 3)).astype(np.uint16)]


@pytest.mark.parametrize("index", range(4))
def test_intensity_pipeline_equals_medsamix_code(index):
    volume = _volumes()[index]
    ours = apply_intensity(volume, IntensitySpec("medsamix"))
    assert ours.dtype == np.float32 and ours.max() <= 254 and ours.min() >= 0
    expected = medsamix_volume_slices(volume)
    for k, slice_ in enumerate(expected):
        assert np.array_equal(ours[..., k].astype(np.uint8), slice_), k
        assert np.array_equal(ours[..., k], slice_.astype(np.float32))  # whole numbers, nothing rounded away


# --- fundus jitter -------------------------------------------------------------------------------------------------


def _fundus_masks(n=40, seed=3):
    rng = np.random.default_rng(seed)
    masks = []
    for i in range(n):
        h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        m = np.zeros((h, w), bool)
        y0, x0 = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
        y1, x1 = int(rng.integers(y0, min(h, y0 + 50))), int(rng.integers(x0, min(w, x0 + 50)))
        if i % 7 == 0:
            x1 = x0  # a one-pixel-wide box: zero-width draws still advance the stream
        m[y0:y1 + 1, x0:x1 + 1] = True
        masks.append(m)
    return masks


def test_fundus_jitter_equals_medsamix_code_in_any_order():
    masks = _fundus_masks()
    expected = medsamix_fundus_boxes(masks)
    spec = PromptSpec("medsamix_jitter", seed=42)
    order = list(range(len(masks)))
    random.Random(0).shuffle(order)  # cases scored in any order (resume, a subset) get the same boxes
    for i in order:
        boxes = slice_boxes(masks[i], None, spec, stream_index=i)
        assert boxes[0].shape == (1, 4)
        assert tuple(int(v) for v in boxes[0][0]) == expected[i], i
    assert sum(b != (0, 0, 0, 0) for b in expected) == len(masks)


def test_fundus_jitter_needs_its_position_and_a_2d_image():
    with pytest.raises(InputError, match="stream_index"):
        slice_boxes(np.ones((4, 4), bool), None, PromptSpec("medsamix_jitter", seed=42))
    with pytest.raises(InputError, match="2-D"):
        slice_boxes(np.ones((4, 4, 2), bool), 2, PromptSpec("medsamix_jitter", seed=42), stream_index=0)
    assert slice_boxes(np.zeros((4, 4), bool), None, PromptSpec("medsamix_jitter"), stream_index=0) == {}


# --- split ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, n_cal", [(1251, 250), (32, 6), (50, 10), (20, 4)])
def test_split_arithmetic(n, n_cal):
    assert medsamix_calibration_count(n) == n_cal
    ids = [f"case_{i}" for i in range(n)]  # string order ≠ numeric order: case_10 sorts before case_2
    calibration, test = medsamix_split(ids)
    assert len(calibration) == n_cal
    card = _harness_card(split={"rule": "medsamix"})
    with _dataset(ids) as root:
        assert case_ids(card, root, "calibration") == calibration
        assert case_ids(card, root, "test") == test
        quirky = _harness_card(split={"rule": "medsamix", "drop_last": True})
        assert case_ids(quirky, root, "calibration") == calibration[:-1]
        assert case_ids(quirky, root, "test") == test[:-1]
        assert case_ids(quirky, root, "all") == sorted(ids)


def test_multi_entry_split_is_per_entry_and_the_quirk_drops_the_last_volume_of_the_task(tmp_path):
    a, b = [f"s{i:02d}" for i in range(20)], [f"r{i:02d}" for i in range(32)]
    _write_dataset(tmp_path, "proc", a)
    _write_dataset(tmp_path, "raw", b)
    entries = [{"dataset": "proc"}, {"dataset": "raw"}]
    card = _harness_card(split={"rule": "medsamix", "drop_last": True}, entries=entries, dataset=None)
    cal_a, test_a = medsamix_split(a)
    cal_b, test_b = medsamix_split(b)
    assert case_ids(card, tmp_path, "calibration") == [f"proc/{i}" for i in cal_a] + [f"raw/{i}" for i in cal_b][:-1]
    assert case_ids(card, tmp_path, "test") == ([f"proc/{i}" for i in test_a] + [f"raw/{i}" for i in test_b])[:-1]


# --- multi-entry and multi-channel cases -----------------------------------------------------------------------------


def test_multi_channel_dataset_and_entries(tmp_path):
    import nibabel as nib

    base = tmp_path / "brats2021"
    (base / "images").mkdir(parents=True)
    (base / "labels").mkdir()
    rng = np.random.default_rng(0)
    image = rng.normal(size=(6, 5, 4, 4)).astype(np.float32)
    label = np.zeros((6, 5, 4), np.uint8)
    label[2:4, 1:3, 1:3] = 4
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    nib.save(nib.Nifti1Image(image, affine), base / "images" / "c1.nii.gz")
    nib.save(nib.Nifti1Image(label, affine), base / "labels" / "c1.nii.gz")
    meta = {"name": "brats2021", "channels": "multi", "channel_names": ["flair", "t1", "t1ce", "t2"],
            "labels": {"1": "ncr", "2": "ed", "4": "et"}, "cases": ["c1"]}
    (base / "dataset.json").write_text(json.dumps(meta))
    card = _harness_card(entries=[{"dataset": "brats2021", "channel": "t1"}, {"dataset": "brats2021", "channel": 2}],
                         dataset=None, target={"name": "whole_tumour", "labels": [1, 2, 4]})
    assert case_ids(card, tmp_path, "all") == ["brats2021.t1/c1", "brats2021.2/c1"]
    first = load_case(card, "brats2021.t1/c1", tmp_path)
    second = load_case(card, "brats2021.2/c1", tmp_path)
    assert np.array_equal(first.image, image[..., 1]) and np.array_equal(second.image, image[..., 2])
    assert first.label.sum() == 8 and first.case_id == "brats2021.t1/c1" and first.slice_axis == 2
    wrong = _harness_card(dataset="brats2021", channel="t1c", target={"name": "whole_tumour", "labels": [4]})
    with pytest.raises(InputError, match=r"did you mean 't1ce'"):
        load_case(wrong, "c1", tmp_path)
    missing = _harness_card(dataset="brats2021", target={"name": "whole_tumour", "labels": [4]})
    with pytest.raises(InputError, match="holds 4 channels"):
        load_case(missing, "c1", tmp_path)


def test_medsamix25_says_what_each_task_is():
    suite = load_suite("medsamix25")
    kinds = {c.name: c.provenance for c in suite}
    assert all(p is not None for p in kinds.values())
    assert kinds["nasalseg_nasal_cavities"].medsamix_key == "NasalSeg_3_4"
    assert suite.card("nasalseg_maxillary_sinuses").target.labels == (1, 2)
    assert suite.card("nasalseg_nasal_cavities").target.labels == (3, 4)
    assert suite.card("nasalseg_nasopharynx").target.labels == (5,)
    assert [suite.card(n).target.labels for n in ("rat_lung", "rat_pancreas", "rat_brain")] == [(4,), (12,), (1,)]
    assert all(kinds[n].kind == "inferred" for n in ("rat_lung", "rat_pancreas", "rat_brain"))
    brats = suite.card("brats2021_whole_tumour")
    assert [(e.dataset, e.channel) for e in brats.entries] == [("brats2021", "t1"), ("brats2021", "t1ce")]
    assert [e.dataset for e in suite.card("fcon1000_hippocampus").entries] == ["fcon1000_freesurfer",
                                                                                "fcon1000_freesurfer_raw"]
    cup = suite.card("fundus_domain1_optic_cup")
    assert (cup.dataset, cup.split.rule, cup.split.name, cup.target.labels) == ("dofe_fundus", "dataset", "domain1",
                                                                               (2,))
    guesses = sorted(n for n, p in kinds.items() if p.guess)
    assert guesses == ["fcon1000_thalamus", "msd_task05_prostate"]
    medmix_own = sorted(n for n, p in kinds.items() if p.kind == "medmix")
    assert medmix_own == ["kits_kidney_tumour", "lits_liver_tumour", "msd_task05_prostate", "msd_task06_lung_tumour",
                          "msd_task07_pancreas_tumour"]
    exact = load_suite("medsamix_exact")
    assert exact.protocol == Protocol("medsamix") and len(exact) == 19
    assert not any(c.provenance.guess or c.provenance.kind == "medmix" for c in exact)


def test_provenance_is_validated():
    with pytest.raises(ConfigError, match="provenance.medsamix_key: required"):
        _harness_card(provenance={"kind": "medsamix-code"})
    with pytest.raises(ConfigError, match="provenance.evidence: required"):
        _harness_card(provenance={"kind": "inferred", "medsamix_key": "X"})
    with pytest.raises(ConfigError, match="provenance.reason: required"):
        _harness_card(provenance={"kind": "medmix"})
    with pytest.raises(ConfigError, match=r"provenance.kind: .*did you mean 'medmix'"):
        _harness_card(provenance={"kind": "medmx", "reason": "x"})


# --- the protocol as a whole -----------------------------------------------------------------------------------------


def test_protocol_rewrites_cards_and_parses():
    suite = load_suite("phantom25")
    volume = Protocol("medsamix", drop_last_volume=True).apply(suite.card("phantom_fcon1000_hippocampus"))
    assert (volume.slice_axis, volume.intensity.kind, volume.split.rule, volume.split.drop_last,
            volume.prompt.kind) == ("last", "medsamix", "medsamix", True, "tight_box")
    fundus = Protocol("medsamix", drop_last_volume=True).apply(suite.card("phantom_fundus_domain1_optic_cup"))
    assert (fundus.slice_axis, fundus.intensity.kind, fundus.split.drop_last, fundus.prompt.kind,
            fundus.prompt.seed) == (None, "none", False, "medsamix_jitter", 42)
    card = suite.card("phantom_flare22_liver")
    assert Protocol().apply(card) is card
    assert parse_protocol("medsamix:drop_last_volume=true") == Protocol("medsamix", True)
    assert parse_protocol({"name": "medmix"}) == Protocol()
    with pytest.raises(ConfigError, match="Did you mean 'medsamix'"):
        parse_protocol("medsamx")
    with pytest.raises(ConfigError, match="needs protocol medsamix"):
        parse_protocol("medmix:drop_last_volume=true")


class Recorder:
    """A callable model that records what it is shown and fills its box."""

    def __init__(self):
        self.seen = []

    def __call__(self, image, box):
        self.seen.append((np.array(image), tuple(int(v) for v in box)))
        mask = np.zeros(image.shape[:2], bool)
        x0, y0, x1, y1 = (int(v) for v in box)
        mask[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = True
        return mask


def test_medsamix_protocol_shows_untransposed_last_axis_slices(tmp_path):
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    runs = {}
    for protocol in ("medmix", "medsamix"):
        model = Recorder()
        config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path / protocol), model="recorder",
                                  tasks=["phantom_fcon1000_hippocampus"], max_cases=1, protocol=protocol)
        result = evaluate(config, model=model)
        runs[protocol] = (model.seen, result)
    card = load_suite("phantom25").card("phantom_fcon1000_hippocampus")
    case = load_case(Protocol("medsamix").apply(card), "case_002")
    volume = apply_intensity(case.image, IntensitySpec("medsamix"))
    seen, result = runs["medsamix"]
    indices = np.flatnonzero(case.label.any(axis=(0, 1)))
    assert len(seen) == len(indices)
    for (image, box), k in zip(seen, indices):
        assert np.array_equal(image, volume[..., k])  # image[..., k], rows = array axis 0, MedSAMix's intensities
        ys, xs = np.nonzero(case.label[..., k])
        assert box == (xs.min(), ys.min(), xs.max(), ys.max())  # x = column
    assert result.summary["protocol"] == {"name": "medsamix", "drop_last_volume": False}
    medmix_seen, medmix_result = runs["medmix"]
    assert medmix_result.summary["protocol"]["name"] == "medmix"
    assert medmix_seen[0][0].shape != seen[0][0].shape  # medmix slices across axis 1 (axial), transposed


def test_medsamix_protocol_fundus_boxes_follow_the_stream(tmp_path):
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    model = Recorder()
    config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path), model="recorder", protocol="medsamix",
                              tasks=["phantom_fundus_domain1_optic_cup"])
    evaluate(config, model=model)
    card = Protocol("medsamix").apply(load_suite("phantom25").card("phantom_fundus_domain1_optic_cup"))
    masks = [load_case(card, c).label.astype(bool) for c in case_ids(card, split="test")]
    assert [box for _, box in model.seen] == medsamix_fundus_boxes(masks)


def test_sam_preprocessing_equals_sam_predictor():
    from segment_anything import SamPredictor

    from medmix.models import SamFamilyModel
    from medmix.models.preprocess import Preprocessing
    from medmix.models.sam import build_tiny_sam

    module = build_tiny_sam(0).eval()
    image = (np.random.default_rng(1).random((37, 52)) * 254).astype(np.uint8)
    box = np.array([5, 7, 30, 28])
    predictor = SamPredictor(module)
    predictor.set_image(np.repeat(image[..., None], 3, axis=2))
    masks, _, _ = predictor.predict(box=box, multimask_output=False)
    model = SamFamilyModel(module, Preprocessing("sam", image_size=64, resize_backend="pil"), device="cpu")
    from medmix.models.preprocess import preprocess_images

    inputs, _ = preprocess_images([torch.from_numpy(image.astype(np.float32))], model.preprocessing)
    with torch.inference_mode():
        assert torch.equal(model.encode(inputs), predictor.features)
    ours = model.predict_slices([image.astype(np.float32)], [box[None, :].astype(float)])[0]
    assert np.array_equal(ours, masks[0])


def test_slice_dice_epsilon():
    from medmix.evaluation.runner import score_case

    card = load_suite("phantom25").card("phantom_flare22_liver")
    case = load_case(card, "case_000")
    pred = np.roll(case.label.astype(bool), 2, axis=0)
    plain, _, _ = score_case(pred, case, card, ["dice"])
    eps, _, _ = score_case(pred, case, card, ["dice"], slice_dice_epsilon=1e-8)
    for a, b in zip(plain, eps):
        assert a["metric"] == b["metric"]
        if a["slice"] == "volume" or a["metric"] != "dice":
            assert a["value"] == b["value"]
            continue
        k = int(a["slice"])
        p, g = pred[..., k], case.label[..., k].astype(bool)
        assert b["value"] == 2.0 * (p & g).sum() / (p.sum() + g.sum() + 1e-8)


def test_merge_searched_under_one_protocol_is_stated_when_evaluated_under_the_other(tmp_path):
    from medmix.evaluation.runner import EvaluationConfig, evaluate
    from medmix.merging.apply import write_merged_folder
    from medmix.merging.recipe import recipe_from_dict
    from medmix.models.sam import build_tiny_sam

    torch.save(build_tiny_sam(0).state_dict(), tmp_path / "a.pth")
    pool = [{"name": n, "path": str(tmp_path / "a.pth")} for n in ("a", "b")]
    recipe = recipe_from_dict({"arch": "tiny", "pool": pool, "units": {"scheme": "medsamix", "granularity": 1},
                               "default": {"method": "linear", "weights": [1.0, 0.0]}})
    folder = write_merged_folder(build_tiny_sam(0).state_dict(), recipe, tmp_path / "best",
                                 model_provenance={"search": {"protocol": {"name": "medsamix"}}})
    config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path / "eval"), model=f"merged:{folder}",
                              tasks=["phantom_flare22_liver"], max_cases=1)
    summary = evaluate(config).summary
    assert "searched under protocol 'medsamix'" in summary["protocol_note"]
    same = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path / "eval2"), model=f"merged:{folder}",
                            tasks=["phantom_flare22_liver"], max_cases=1, protocol="medsamix")
    summary = evaluate(same).summary
    assert "protocol_note" not in summary
    assert summary["model"]["preprocessing"]["resize_backend"] == "pil"


def test_protocol_refuses_an_explicit_preprocessing_it_would_replace(tmp_path):
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path), model="tiny", protocol="medsamix",
                              tasks=["phantom_flare22_liver"], max_cases=1, preprocessing={"kind": "medsam"})
    with pytest.raises(InputError, match="feeds every model through SAM's preprocessing"):
        evaluate(config)


# --- helpers -------------------------------------------------------------------------------------------------------


def _harness_card(**overrides):
    data = {"name": "toy", "source": "harness", "dataset": "toyset", "modality": "CT",
            "target": {"name": "organ", "labels": [1]}}
    data.update(overrides)
    return card_from_dict({k: v for k, v in data.items() if v is not None})


def _write_dataset(root, name, ids):
    base = root / name
    base.mkdir(parents=True, exist_ok=True)
    (base / "dataset.json").write_text(json.dumps({"name": name, "cases": ids, "labels": {"1": "organ"}}))


class _dataset:
    def __init__(self, ids):
        import tempfile

        self.tmp = tempfile.TemporaryDirectory()
        self.ids = ids

    def __enter__(self):
        from pathlib import Path

        root = Path(self.tmp.name)
        _write_dataset(root, "toyset", self.ids)
        return root

    def __exit__(self, *exc):
        self.tmp.cleanup()


def test_dofe_fundus_end_to_end_under_the_medsamix_protocol(tmp_path):
    """Converter → card → protocol: the boxes MedSAMix would draw for Domain1's test folder, in file order."""
    from PIL import Image

    from medmix.data.prepare import prepare_dataset
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    rng = np.random.default_rng(5)
    masks = {}
    for split, names in (("train", ["gdrishtiGS_002", "gdrishtiGS_004"]),
                         ("test", ["gdrishtiGS_001", "gdrishtiGS_003", "gdrishtiGS_010", "ndrishtiGS_005"])):
        for folder in ("image", "mask"):
            (tmp_path / "Fundus" / "Domain1" / split / "ROIs" / folder).mkdir(parents=True)
        for name in names:
            h, w = int(rng.integers(50, 70)), int(rng.integers(50, 70))
            red = np.full((h, w), 255, np.uint8)
            y0, x0 = int(rng.integers(5, 20)), int(rng.integers(5, 20))
            red[y0:y0 + 25, x0:x0 + 22] = 128
            red[y0 + 6:y0 + 14, x0 + 5:x0 + 12] = 0
            Image.fromarray(np.stack([red, red, red], -1)).save(
                tmp_path / "Fundus" / "Domain1" / split / "ROIs" / "mask" / f"{name}.png")
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
                tmp_path / "Fundus" / "Domain1" / split / "ROIs" / "image" / f"{name}.png")
            masks[(split, name)] = red == 0
    prepare_dataset("dofe_fundus", tmp_path / "Fundus", tmp_path / "data")
    model = Recorder()
    config = EvaluationConfig(suite="medsamix25", tasks=["fundus_domain1_optic_cup"], out_dir=str(tmp_path / "run"),
                              model="recorder", protocol="medsamix", data_root=str(tmp_path / "data"))
    result = evaluate(config, model=model)
    test_files = sorted(n for s, n in masks if s == "test")  # MedSAMix: sorted(os.listdir(test/ROIs/image))
    assert [box for _, box in model.seen] == medsamix_fundus_boxes([masks[("test", n)] for n in test_files])
    assert sorted(result.cases["case"].unique()) == [f"domain1_test_{n}" for n in test_files]
    cal = evaluate(EvaluationConfig(suite="medsamix25", tasks=["fundus_domain1_optic_cup"], split="calibration",
                                    out_dir=str(tmp_path / "cal"), model="recorder", protocol="medsamix",
                                    data_root=str(tmp_path / "data")), model=Recorder())
    assert sorted(cal.cases["case"].unique()) == ["domain1_train_gdrishtiGS_002", "domain1_train_gdrishtiGS_004"]


def test_readme_task_table_is_the_cards():
    from pathlib import Path

    from medmix.evaluation.suites import suite_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for i, r in enumerate(suite_table(load_suite("medsamix25")), 1):
        row = (f"| {i} | `{r['task']}` | {r['data'].removeprefix('harness: ')} | {r['labels']} | "
               f"{r['provenance']} |")
        assert row in readme, row

"""Output-space ensembles: the fusion functions (majority vote, mean probability, STAPLE: identities, properties and
a live cross-check against SimpleITK's STAPLEImageFilter), the "ensemble" adapter and an evaluation run of one."""

import json

import numpy as np
import pytest

from medmix.errors import ConfigError, InputError
from medmix.models.ensemble import EnsembleModel, FolderEnsemble
from medmix.models.fusion import majority_vote, mean_probability, staple, vote_fraction
from medmix.models.specs import load_model

TINY_MEMBERS = ["tiny:seed=0", "tiny:seed=1", "tiny:seed=2"]


def _ellipse(shape, centre, radii) -> np.ndarray:
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1


def _noisy_copies(truth, rates, seed) -> np.ndarray:
    """One copy of `truth` per (missed-foreground rate, false-foreground rate), pixels flipped at random."""
    rng = np.random.default_rng(seed)
    copies = []
    for miss, false in rates:
        mask = truth.copy()
        mask[truth & (rng.random(truth.shape) < miss)] = False
        mask[~truth & (rng.random(truth.shape) < false)] = True
        copies.append(mask)
    return np.stack(copies)


def _dice(a, b) -> float:
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


# ------------------------------------------------------------------------------------------- majority, mean


def test_majority_vote_identities_and_tie_rule():
    rng = np.random.default_rng(0)
    mask = rng.random((3, 5, 7)) < 0.4
    assert np.array_equal(majority_vote(np.stack([mask] * 4)), mask)  # unanimous members: their mask
    a = np.array([1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 1, 0, 0], bool)
    c = np.array([0, 1, 1, 0, 0], bool)
    assert majority_vote(np.stack([a, b, c])).tolist() == [True, True, True, False, False]  # 2 of 3 wins
    # even count, exactly half: background by default, foreground on request
    assert majority_vote(np.stack([a, b])).tolist() == [True, False, False, False, False]
    assert majority_vote(np.stack([a, b]), ties="foreground").tolist() == [True, True, True, False, True]
    four = np.stack([a, b, c, a])
    assert majority_vote(four).tolist() == [True, True, False, False, False]  # 3 of 4 in, 2 of 4 out
    assert np.array_equal(majority_vote(four.astype(np.uint8)), majority_vote(four))
    assert vote_fraction(four).tolist() == pytest.approx([0.75, 0.75, 0.5, 0.0, 0.5])
    with pytest.raises(InputError, match="binary masks"):
        majority_vote(np.stack([a, b]) * 0.7)
    with pytest.raises(InputError, match="ties"):
        majority_vote(np.stack([a, b]), ties="coin")
    with pytest.raises(InputError, match="n_members"):
        majority_vote(a)


def test_mean_probability_thresholds_the_mean():
    maps = np.array([[0.2, 0.9, 0.5, 0.6], [0.6, 0.3, 0.5, 0.6]], np.float32)
    assert mean_probability(maps).tolist() == [False, True, False, True]  # the mean must exceed 0.5
    assert mean_probability(maps, threshold=0.35).tolist() == [True, True, True, True]
    with pytest.raises(InputError, match="logits"):
        mean_probability(maps * 4 - 2)


# ------------------------------------------------------------------------------------------- STAPLE


def test_staple_of_identical_members_is_their_mask():
    truth = _ellipse((40, 50), (20, 24), (12, 17))
    result = staple(np.stack([truth] * 3))
    assert np.array_equal(result.posterior >= 0.5, truth)
    assert np.allclose(result.sensitivity, 1) and np.allclose(result.specificity, 1)
    assert result.iterations == 2  # the second iteration sees no change
    empty = staple(np.zeros((3, 4, 4), bool))
    assert not empty.posterior.any() and np.isnan(empty.sensitivity).all() and empty.iterations == 0


def test_staple_down_weights_an_empty_member():
    truth = _ellipse((64, 64), (30, 34), (18, 12))
    good = _noisy_copies(truth, [(0.05, 0.01), (0.1, 0.02), (0.15, 0.03)], seed=1)
    masks = np.concatenate([good, np.zeros((1, 64, 64), bool)])  # a fourth member that finds nothing
    result = staple(masks)
    assert result.sensitivity[3] == pytest.approx(0.0, abs=1e-12)  # it never marks what the others find
    assert result.specificity[3] == pytest.approx(1.0)
    assert (result.sensitivity[:3] > 0.8).all()
    fused = result.posterior >= 0.5
    # it carries no weight: the fusion is the three agreeing members' STAPLE
    assert _dice(fused, staple(good).posterior >= 0.5) > 0.999 and _dice(fused, truth) > 0.97
    assert _dice(majority_vote(masks), truth) < _dice(fused, truth) - 0.05  # the vote needs 3 of 4 and loses


def _itk_staple(masks):
    sitk = pytest.importorskip("SimpleITK")
    images = [sitk.GetImageFromArray(m.astype(np.uint8)) for m in masks]
    flt = sitk.STAPLEImageFilter()
    flt.SetForegroundValue(1.0)
    flt.SetMaximumIterations(100)
    posterior = sitk.GetArrayFromImage(flt.Execute(images))
    return posterior, np.array(flt.GetSensitivity()), np.array(flt.GetSpecificity()), flt.GetElapsedIterations()


@pytest.mark.parametrize("case", ["2d", "3d", "2d_disagreeing"])
def test_staple_matches_simpleitk(case):
    if case == "3d":
        truth = _ellipse((20, 40, 44), (10, 20, 21), (7, 14, 11))
    else:
        truth = _ellipse((80, 96), (40, 44), (26, 30))
    rates = [(0.05, 0.01), (0.2, 0.02), (0.1, 0.05), (0.3, 0.001), (0.02, 0.1)]
    if case == "2d_disagreeing":  # members near chance: the EM runs to the iteration cap
        rates = [(0.45, 0.4), (0.5, 0.2), (0.1, 0.6)]
    masks = _noisy_copies(truth, rates, seed={"2d": 2, "3d": 3, "2d_disagreeing": 4}[case])
    posterior, sensitivity, specificity, itk_iterations = _itk_staple(masks)
    ours = staple(masks)
    assert np.array_equal(ours.posterior >= 0.5, posterior >= 0.5)
    np.testing.assert_allclose(ours.posterior, posterior, atol=1e-8)
    np.testing.assert_allclose(ours.sensitivity, sensitivity, atol=1e-8)
    np.testing.assert_allclose(ours.specificity, specificity, atol=1e-8)
    # ITK counts from 0 and stops on the iteration that converged; we count the iterations run
    assert ours.iterations == (itk_iterations + 1 if itk_iterations < 100 else 100)
    if case != "2d_disagreeing":
        assert _dice(ours.posterior >= 0.5, truth) > 0.97


# ------------------------------------------------------------------------------------------- ensembles


def _slices(n=3, seed=0):
    rng = np.random.default_rng(seed)
    images = [rng.uniform(0, 255, (64, 64)).astype(np.float32) for _ in range(n)]
    boxes = [np.array([[8 + 4 * i, 10, 40 + 4 * i, 46]], float) for i in range(n - 1)] + [np.zeros((0, 4))]
    return images, boxes


@pytest.mark.parametrize("method", ["mean", "majority", "staple"])
def test_ensemble_adapter_fuses_tiny_members(method):
    images, boxes = _slices()
    spec = {"adapter": "ensemble", "options": {"method": method, "members": TINY_MEMBERS[:2] + [
        {"adapter": "tiny", "seed": 2}], "names": ["a", "b", "c"]}}
    model = load_model(spec)
    masks = model.predict_slices(images, boxes)
    assert [m.shape for m in masks] == [(64, 64)] * 3 and all(m.dtype == bool for m in masks)
    assert not masks[2].any()  # no prompt, no prediction
    members = [load_model(s) for s in TINY_MEMBERS]
    prompted = slice(0, 2)
    if method == "mean":
        maps = [m.predict_probabilities(images, boxes)[prompted] for m in members]
        expected = [mean_probability(np.stack(per_image)) for per_image in zip(*maps)]
    else:
        outs = [m.predict_slices(images, boxes)[prompted] for m in members]
        if method == "majority":
            expected = [majority_vote(np.stack(per_image)) for per_image in zip(*outs)]
        else:  # one joint estimate over the prompted slices of the call
            joint = staple(np.stack([np.stack(out) for out in outs])).posterior >= 0.5
            expected = list(joint)
    for got, want in zip(masks[prompted], expected):
        assert np.array_equal(got, want)
    described = model.describe()
    assert described["adapter"] == "ensemble" and described["method"] == method
    assert described["threshold"] == 0.5
    assert described["members"]["b"] == members[1].describe()
    assert described["parameters"] == sum(m.describe()["parameters"] for m in members)  # all members run
    assert ("ties" in described) == (method == "majority") and ("staple" in described) == (method == "staple")


def test_ensembles_of_callables_and_their_errors():
    images, boxes = _slices()

    def box_fill(grow):
        def fn(image, box):
            mask = np.zeros(image.shape[:2], bool)
            x0, y0, x1, y1 = (int(v) for v in box)
            mask[max(y0 - grow, 0):y1 + 1 + grow, max(x0 - grow, 0):x1 + 1 + grow] = True
            return mask
        return fn

    ensemble = EnsembleModel([box_fill(0), box_fill(2), box_fill(4)], method="majority")
    assert np.array_equal(ensemble.predict_slices(images, boxes)[0], box_fill(2)(images[0], boxes[0][0]))
    with pytest.raises(ConfigError, match=r"member 1 .*gives no probabilities.*'majority' or 'staple'"):
        EnsembleModel([load_model("tiny"), box_fill(0)], method="mean")
    with pytest.raises(ConfigError, match="did you mean 'staple'"):
        load_model({"adapter": "ensemble", "options": {"method": "stapel", "members": TINY_MEMBERS}})
    with pytest.raises(ConfigError, match="at least 2 members"):
        load_model({"adapter": "ensemble", "options": {"method": "majority", "members": ["tiny"]}})
    with pytest.raises(ConfigError, match=r"model\.options\.members\[1\]\.sed: unknown field \(did you mean 'seed'"):
        load_model({"adapter": "ensemble", "options": {"members": ["tiny", {"adapter": "tiny", "sed": 1}]}})
    with pytest.raises(ConfigError, match=r"model\.options\.members\[1\]: Unknown model adapter 'tinyy'"):
        load_model({"adapter": "ensemble", "options": {"members": ["tiny", "tinyy:seed=1"]}})
    with pytest.raises(ConfigError, match=r"model\.options\.methd: unknown option \(did you mean 'method'"):
        load_model({"adapter": "ensemble", "options": {"methd": "mean", "members": TINY_MEMBERS}})
    with pytest.raises(ConfigError, match="takes no threshold"):
        load_model({"adapter": "ensemble", "options": {"method": "majority", "threshold": 0.3,
                                                       "members": TINY_MEMBERS}})


# ------------------------------------------------------------------------------------------- evaluations

TASK = "phantom_fundus_domain1_optic_cup"  # 2-D: the quickest phantom task


def test_evaluate_an_ensemble_of_tiny_models(tmp_path):
    from medmix.evaluation.runner import EvaluationConfig, evaluate

    spec = {"adapter": "ensemble", "options": {"method": "majority", "members": TINY_MEMBERS}}
    result = evaluate(EvaluationConfig(suite="phantom25", out_dir=str(tmp_path), model=spec, tasks=[TASK],
                                       max_cases=1))
    assert len(result.cases) and result.cases["task"].unique().tolist() == [TASK]
    model = json.loads((tmp_path / "summary.json").read_text())["model"]
    assert model["adapter"] == "ensemble" and model["method"] == "majority" and model["ties"] == "background"
    assert [m["seed"] for m in model["members"].values()] == [0, 1, 2]


def test_evaluate_an_ensemble_of_prediction_folders(tmp_path):
    """Dilated, exact and eroded references: 2 of 3 vote for exactly the reference, so majority scores Dice 1."""
    from scipy import ndimage

    from medmix.data.io import save_mask
    from medmix.data.sources import case_ids, load_case
    from medmix.evaluation.config_file import load_model_config
    from medmix.evaluation.runner import EvaluationConfig, evaluate
    from medmix.evaluation.suites import load_suite

    card = load_suite("phantom25").card(TASK)
    case_id = case_ids(card, split="test")[0]
    label = load_case(card, case_id).label.astype(bool)
    for name, mask in {"dilated": ndimage.binary_dilation(label, iterations=2), "exact": label,
                       "eroded": ndimage.binary_erosion(label, iterations=2)}.items():
        (tmp_path / name).mkdir()
        save_mask(tmp_path / name / f"{case_id}.npy", mask.astype(np.uint8))
    config = tmp_path / "ensemble.yaml"
    config.write_text("adapter: ensemble\noptions:\n  method: majority\n  members:\n"
                      "    - {predictions: dilated}\n    - {predictions: exact}\n    - {predictions: eroded}\n")
    spec = load_model_config(config)  # relative folders resolve against the config file's folder
    assert spec["options"]["members"][0]["predictions"] == str(tmp_path / "dilated")
    assert isinstance(load_model(spec), FolderEnsemble)
    result = evaluate(EvaluationConfig(suite="phantom25", out_dir=str(tmp_path / "run"), model=spec, tasks=[TASK],
                                       max_cases=1))
    volume = result.cases[(result.cases["slice"] == "volume") & (result.cases["metric"] == "dice")]
    assert volume["value"].tolist() == [1.0]
    with pytest.raises(ConfigError, match="mixes prediction folders"):
        load_model({"adapter": "ensemble", "options": {"method": "staple",
                                                       "members": ["tiny", {"predictions": str(tmp_path / "exact")}]}})

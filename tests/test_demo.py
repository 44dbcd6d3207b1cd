"""The embedded default (`medmix demo`) in its reduced, seeded form: every step runs and writes its files."""

import json

import pytest

from medmix.embedded import DemoSettings, run_demo


@pytest.fixture(scope="module")
def demo(medmix_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, DemoSettings(quick=True, cache_dir=medmix_cache), progress=False, log=lambda *a: None)


def test_demo_writes_every_artefact(demo):
    out = demo.out_dir
    for name in ("merge_multi_task", "merge_single_task"):
        folder = out / "search" / name
        for f in ("trials.csv", "pareto.csv", "best_recipe.yaml", "best/merged.pth", "best/model.json",
                  "best_so_far.png"):
            assert (folder / f).is_file(), f"{name}/{f}"
    for name in ("generalist", "specialist", "merge_multi_task", "merge_single_task"):
        assert (out / "eval" / name / "summary.json").is_file()
    for f in ("leaderboard.md", "leaderboard.html", "leaderboard.csv", "leaderboard.json", "bootstrap_ranks.png"):
        assert (out / "leaderboard" / f).is_file(), f
    for f in ("merge_multi_task.yaml", "eval_generalist.yaml"):
        assert (out / "configs" / f).is_file()
    summary = json.loads((out / "demo.json").read_text())
    assert set(summary["models"]) == {"generalist", "specialist", "merge_multi_task", "merge_single_task"}
    assert sorted(m["rank"] for m in summary["models"].values()) == [1, 2, 3, 4]


def test_multi_task_merge_beats_both_sources_on_calibration(demo):
    search = demo.searches["merge_multi_task"]
    warm = [t for t in search.trials if t["origin"] == "warm start"][:2]  # the two pure models come first
    pure = [sum(t["scores"].values()) / len(t["scores"]) for t in warm]
    assert search.best["mean_dice"] > max(pure)


def test_cli_reruns_from_what_is_there_and_prints_the_table(demo, medmix_cache, monkeypatch):
    from typer.testing import CliRunner

    from medmix.cli.main import app

    monkeypatch.setenv("MEDMIX_CACHE", str(medmix_cache))
    before = (demo.out_dir / "search" / "merge_multi_task" / "trials.jsonl").read_text()
    # Same seed and settings into the same folder: searches and evaluations resume with nothing left to run.
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(demo.out_dir)])
    assert (demo.out_dir / "search" / "merge_multi_task" / "trials.jsonl").read_text() == before
    assert result.exit_code == 0, result.output
    assert "mean Dice" in result.output and "merge_multi_task" in result.output and "leaderboard" in result.output

"""Run folders: a failed command never blocks its fix, one writer at a time, damaged logs repaired, progress in
every log, partially prepared suites evaluated for what is there."""

from __future__ import annotations

import io
import json
import time

import pytest

from medmix.errors import InputError, MedmixError
from medmix.evaluation.runner import EvaluationConfig, evaluate
from medmix.progress import Progress
from medmix.run_folder import RunFolderBusy, RunLock

TASK = "phantom_flare22_liver"


def _config(out, **kw):
    return EvaluationConfig(suite="phantom25", out_dir=str(out), model="tiny", tasks=[TASK], max_cases=1, **kw)


def test_a_failed_evaluation_does_not_block_its_corrected_rerun(tmp_path):
    with pytest.raises(MedmixError, match="dcie"):
        evaluate(_config(tmp_path, metrics=["dcie"]))
    assert not (tmp_path / "run.json").exists()
    result = evaluate(_config(tmp_path, metrics=["dice"]))
    assert set(result.cases["metric"]) == {"dice", "iou"}


def test_a_folder_with_results_of_another_run_is_refused_but_one_without_is_taken(tmp_path):
    evaluate(_config(tmp_path, metrics=["dice"]))
    with pytest.raises(MedmixError, match="different evaluation"):
        evaluate(_config(tmp_path, metrics=["iou"]))
    for part in (tmp_path / "parts").rglob("*.json"):
        part.unlink()  # a run that finished nothing: its stamp no longer blocks another
    evaluate(_config(tmp_path, metrics=["iou"]))
    assert json.loads((tmp_path / "summary.json").read_text())["tasks"][TASK]["volumetric"].keys() == {"iou"}


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    import os

    with RunLock(tmp_path, "evaluation"):
        with pytest.raises(RunFolderBusy, match=f"pid {os.getpid()}"):
            evaluate(_config(tmp_path))
    evaluate(_config(tmp_path))  # released: the same command now runs


def test_the_lock_is_released_when_its_holder_dies(tmp_path):
    import subprocess
    import sys

    code = ("import sys, time; from medmix.run_folder import RunLock; l = RunLock(sys.argv[1]).__enter__(); "
            "print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusy, match=f"pid {holder.pid}"):
            RunLock(tmp_path).__enter__()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path):  # kill -9 leaves no stale lock
        pass


def test_an_unreadable_part_is_computed_again(tmp_path):
    first = evaluate(_config(tmp_path))
    part = next((tmp_path / "parts").rglob("*.json"))
    part.write_text('{"rows": [')  # e.g. a full disk
    with pytest.warns(UserWarning, match="did not read back"):
        again = evaluate(_config(tmp_path))
    assert again.cases.equals(first.cases)
    assert part.with_name(part.name + ".bad").exists()


def test_a_task_given_twice_is_an_error(tmp_path):
    config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path), model="tiny", tasks=[TASK, TASK])
    with pytest.raises(InputError, match="given twice"):
        evaluate(config)


def test_a_partially_prepared_suite_is_evaluated_for_what_is_there(tmp_path):
    import numpy as np

    from medmix.data import layout

    rng = np.random.default_rng(0)
    organs = {1: "liver", 2: "right_kidney", 3: "spleen", 4: "pancreas", 13: "left_kidney"}
    for i in range(5):
        label = np.zeros((30, 30, 6), np.uint8)
        for j, organ in enumerate(organs):
            label[2 + 5 * j:6 + 5 * j, 8:16, 1:5] = organ
        image = (rng.normal(0, 20, label.shape) + 8 * label).astype(np.float32)
        layout.write_case(tmp_path / "data", "flare22", f"FLARE22_Tr_{i:04d}", image, label,
                          spacing=(1.0, 1.0, 2.0))
    layout.write_dataset_json(tmp_path / "data", "flare22", modality="CT", labels=organs, source="mimic")
    config = EvaluationConfig(suite="medsamix25", out_dir=str(tmp_path / "run"), model="tiny", max_cases=1,
                              data_root=str(tmp_path / "data"))
    result = evaluate(config)
    assert list(result.summary["tasks"]) == [f"flare22_{o}" for o in organs.values()]
    missing = result.summary["missing_tasks"]
    assert len(missing) == 20 and not any(t.startswith("flare22") for t in missing)
    assert "needs dataset 'promise12'" in missing["promise12_prostate"]
    assert "medmix data prepare promise12" in missing["promise12_prostate"]


def test_no_data_at_all_says_why_once(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDMIX_DATA", raising=False)
    config = EvaluationConfig(suite="medsamix25", out_dir=str(tmp_path), model="tiny")
    with pytest.raises(MedmixError, match=r"No task has its data: \[flare22_liver, .*\] no data root") as info:
        evaluate(config)
    assert str(info.value).count("no data root") == 1
    assert not any(tmp_path.iterdir())  # nothing written


def test_progress_lines_without_a_terminal():
    stream = io.StringIO()
    with Progress("evaluate", 5, stream=stream, interval_s=0.0, context="model tiny", live=False) as bar:
        bar.advance(text="t1", resumed=True)
        for _ in range(4):
            time.sleep(0.01)
            bar.advance(text="t1")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[medmix evaluate] 0/5 (0%)")
    assert any("2/5 (40%)" in line and "ETA" in line and "t1 · model tiny" in line for line in lines)
    assert lines[-1].startswith("[medmix evaluate] 5/5 (100%)") and "done" in lines[-1]
    quiet = io.StringIO()
    with Progress("evaluate", 100, stream=quiet, interval_s=3600, live=False) as bar:
        for _ in range(100):
            bar.advance()
    assert len(quiet.getvalue().splitlines()) == 2  # the first and the last line only, within the interval


def test_evaluate_cli_prints_progress_and_missing_tasks_into_a_log(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from medmix.cli.main import app

    monkeypatch.setenv("MEDMIX_PROGRESS_INTERVAL_S", "0")
    result = CliRunner().invoke(app, ["evaluate", "--model", "tiny", "--suite", "phantom25", "--task", TASK,
                                      "--max-cases", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "[medmix evaluate] 1/2 (50%)" in result.output and "phantom_flare22_liver" in result.output

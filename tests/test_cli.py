"""The `medmix` CLI: the real console script for startup, help and one analytic score; CliRunner for the rest."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medmix import __version__
from medmix.cli.main import app
from medmix.data.io import save_mask

BUILTINS = {
    "dice": True, "iou": True, "hd": False, "hd95": False, "assd": False, "masd": False, "nsd": True, "ahd": False,
    "bahd": False,
}
HEAVY = ("torch", "scipy", "pandas", "nibabel")

runner = CliRunner()


def _medmix_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "medmix"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("medmix")
    return [found] if found else [sys.executable, "-m", "medmix.cli.main"]


def _run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*_medmix_cmd(), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def _cubes(shape=(20, 20, 20), shift=2, axis=2):
    """Reference cube [4:12]^3 and the same cube shifted by `shift` voxels along `axis`."""
    gt = np.zeros(shape, np.uint8)
    gt[4:12, 4:12, 4:12] = 1
    pred = np.roll(gt, shift, axis=axis)
    return pred, gt


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _assert_one_paragraph_error(result):
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("Error:"), err
    assert "\n" not in err and "Traceback" not in result.output
    assert result.stdout == ""
    return err


# --- real console script (subprocess) --------------------------------------------------------------------------


def test_version_subprocess():
    proc = _run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"medmix {__version__}"


def test_help_subprocess_is_light():
    proc = _run("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("score", "metrics", "demo", "--plugin", "--version"):
        assert command in proc.stdout
    probe = (
        "import sys, medmix.cli.main as m\n"
        "sys.argv = ['medmix', '--help']\n"
        "try:\n    m.run()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', sorted(x for x in {HEAVY!r} if x in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY []"
    out = subprocess.run(
        [sys.executable, "-c", "import sys, medmix.cli.main; print('torch' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.stdout.strip() == "False"


def test_score_json_nifti_analytic_subprocess(tmp_path):
    # Cube of 8 voxels per side, shifted by 2 voxels along axis 2 whose spacing (from the header) is 2.5 mm.
    pred, gt = _cubes()
    save_mask(tmp_path / "gt.nii.gz", gt, spacing=(0.8, 0.9, 2.5))
    save_mask(tmp_path / "pred.nii.gz", pred, spacing=(0.8, 0.9, 2.5))
    proc = _run("score", "pred.nii.gz", "gt.nii.gz", "--json", "-m", "dice", "-m", "iou", "-m", "hd", "-m", "hd95",
                "-m", "ahd", "-m", "bahd", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # stdout holds only JSON
    assert out["dice"] == 0.75  # overlap 8·8·6 of 8³: 2·384/(2·512)
    assert out["iou"] == 0.6
    assert out["hd"] == 5.0  # 2 voxels × 2.5 mm
    assert out["hd95"] == 5.0
    # 64 voxels at 5 mm + 64 at 2.5 mm in each direction, over 512 → 0.9375
    assert out["ahd"] == pytest.approx(0.9375, abs=1e-12)
    assert out["bahd"] == pytest.approx(0.9375, abs=1e-12)
    assert out["empty_gt"] is False and out["empty_pred"] is False
    assert out["spacing_mm"] == [0.8, 0.9, 2.5]
    assert out["spacing_source"] == "header of gt.nii.gz"
    assert out["units"]["hd"] == "mm" and out["units"]["dice"] == "1"


def test_bad_input_subprocess_exit_2(tmp_path):
    (tmp_path / "gt.nii.gz").write_bytes(np.random.default_rng(0).bytes(256))
    save_mask(tmp_path / "pred.nii.gz", _cubes()[0])
    proc = _run("score", "pred.nii.gz", "gt.nii.gz", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: gt file 'gt.nii.gz'")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = _run("score", "pred.nii.gz", "gt.nii.gz", "-v", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" in proc.stderr


# --- CliRunner -------------------------------------------------------------------------------------------------


def test_score_table_output(tmp_path):
    pred, gt = _cubes()
    save_mask(tmp_path / "gt.nii.gz", gt, spacing=(0.8, 0.9, 2.5))
    save_mask(tmp_path / "pred.nii.gz", pred, spacing=(0.8, 0.9, 2.5))
    result = runner.invoke(app, ["score", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz")])
    assert result.exit_code == 0, result.output
    for text in ("dice", "0.7500", "hd95", "5.0000", "lower is better", "higher is better", "mm",
                 "empty_gt=false", "empty_pred=false", "0.8 × 0.9 × 2.5"):
        assert text in result.stdout


def test_score_npz_with_and_without_spacing(tmp_path):
    pred, gt = _cubes()
    save_mask(tmp_path / "gt.npz", gt, spacing=(1.0, 1.0, 3.0))
    save_mask(tmp_path / "pred.npz", pred, spacing=(1.0, 1.0, 3.0))
    out = _json(runner.invoke(app, ["score", str(tmp_path / "pred.npz"), str(tmp_path / "gt.npz"), "--json"]))
    assert out["dice"] == 0.75 and out["hd"] == 6.0
    assert out["spacing_mm"] == [1.0, 1.0, 3.0] and out["units"]["hd"] == "mm"

    save_mask(tmp_path / "gt_nospacing.npz", gt)
    save_mask(tmp_path / "pred_nospacing.npz", pred)
    out = _json(runner.invoke(app, ["score", str(tmp_path / "pred_nospacing.npz"),
                                    str(tmp_path / "gt_nospacing.npz"), "--json"]))
    assert out["hd"] == 2.0 and out["units"]["hd"] == "voxels" and out["spacing_mm"] == [1.0, 1.0, 1.0]
    assert "voxels" in out["spacing_source"]


def test_score_spacing_override(tmp_path):
    pred, gt = _cubes()
    save_mask(tmp_path / "gt.nii.gz", gt, spacing=(0.8, 0.9, 2.5))
    save_mask(tmp_path / "pred.nii.gz", pred, spacing=(0.8, 0.9, 2.5))
    args = ["score", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"), "--json", "-m", "hd"]
    out = _json(runner.invoke(app, [*args, "--spacing", "1,1,4"]))
    assert out["hd"] == 8.0 and out["spacing_mm"] == [1.0, 1.0, 4.0] and out["spacing_source"] == "argument"
    result = runner.invoke(app, [*args, "--spacing", "1,1"])
    assert "2 values for 3D" in _assert_one_paragraph_error(result)


def test_score_png_2d(tmp_path):
    gt = np.zeros((30, 30), np.uint8)
    gt[10:20, 10:20] = 1
    pred = np.roll(gt, 3, axis=1)
    save_mask(tmp_path / "gt.png", gt)
    save_mask(tmp_path / "pred.png", pred)
    out = _json(runner.invoke(app, ["score", str(tmp_path / "pred.png"), str(tmp_path / "gt.png"), "--json",
                                    "--spacing", "0.5,0.5"]))
    assert out["dice"] == 0.7 and out["hd"] == 1.5 and out["spacing_mm"] == [0.5, 0.5]


def test_score_labels(tmp_path):
    gt = np.zeros((30, 30), np.uint8)
    gt[2:8, 2:8] = 1
    gt[15:25, 15:25] = 2
    pred = gt.copy()
    pred[15:25, 15:20] = 0  # label 2 half missed
    save_mask(tmp_path / "gt.png", gt)
    save_mask(tmp_path / "pred.png", pred)
    base = ["score", str(tmp_path / "pred.png"), str(tmp_path / "gt.png"), "--json", "-m", "dice"]

    out = _json(runner.invoke(app, base))  # ids above 1 → per-label automatically
    assert set(out["labels"]) == {"1", "2"}
    assert out["labels"]["1"]["dice"] == 1.0
    assert out["labels"]["2"]["dice"] == pytest.approx(2 * 50 / 150)

    out = _json(runner.invoke(app, [*base, "--label", "2"]))
    assert out["label"] == 2 and out["dice"] == pytest.approx(2 * 50 / 150) and "labels" not in out

    # A label in neither file is an error listing the labels present (both-empty would score it Dice 1).
    absent = runner.invoke(app, [*base, "--label", "1", "--label", "3"])
    assert absent.exit_code == 2 and "label 3 is in neither file" in absent.output
    assert "pred.png': 1, 2" in absent.output and "gt.png': 1, 2" in absent.output

    table = runner.invoke(app, base[:-3])
    assert table.exit_code == 0 and "label 1" in table.stdout and "label 2" in table.stdout


def test_score_metric_options(tmp_path):
    pred, gt = _cubes()
    save_mask(tmp_path / "gt.nii.gz", gt, spacing=(0.8, 0.9, 2.5))
    save_mask(tmp_path / "pred.nii.gz", pred, spacing=(0.8, 0.9, 2.5))
    args = ["score", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"), "--json"]
    out = _json(runner.invoke(app, [*args, "--metric", "nsd", "--metric", "nsd:tolerance_mm=2",
                                    "--metric", "nsd:tolerance_mm=5"]))
    # A larger tolerance admits more surface voxels; 5 mm = HD admits them all.
    assert out["nsd"] < out["nsd:tolerance_mm=2"] < 1.0
    assert out["nsd:tolerance_mm=5"] == 1.0

    err = _assert_one_paragraph_error(runner.invoke(app, [*args, "--metric", "dcie"]))
    assert "Unknown metric 'dcie'" in err and "Did you mean 'dice'" in err
    err = _assert_one_paragraph_error(runner.invoke(app, [*args, "--metric", "nsd:tol=2"]))
    assert "unknown option 'tol'" in err


def test_metrics_list_json():
    result = runner.invoke(app, ["metrics", "list", "--json"])
    rows = {r["name"]: r for r in _json_list(result)}
    assert set(BUILTINS) <= set(rows)
    for name, higher in BUILTINS.items():
        assert rows[name]["higher_is_better"] is higher
        assert rows[name]["direction"] == ("higher is better" if higher else "lower is better")
        assert rows[name]["citation"] and rows[name]["convention"]
    assert rows["bahd"]["units"] == "mm" and rows["dice"]["units"] == "1"
    assert rows["nsd"]["options"] == {"tolerance_mm": 1.0, "surface": "voxel"}


def _json_list(result) -> list:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_metrics_list_table():
    result = runner.invoke(app, ["metrics", "list"])
    assert result.exit_code == 0, result.output
    for name in BUILTINS:
        assert name in result.stdout
    assert "Aydin" in result.stdout


PLUGIN = textwrap.dedent(
    """
    import numpy as np
    import medmix

    @medmix.metric("volume_diff", higher_is_better=False, units="ml", empty={"both": 0.0, "one": 100.0},
                   convention="|V_pred - V_gt| in ml", citation="test plugin")
    def volume_diff(pred, gt, spacing=None):
        voxel_ml = float(np.prod(spacing)) / 1000.0
        return abs(int(pred.sum()) - int(gt.sum())) * voxel_ml
    """
)


@pytest.fixture
def plugin_file(tmp_path):
    from medmix.metrics import plugins
    from medmix.metrics.registry import METRICS

    path = tmp_path / "my_metrics.py"
    path.write_text(PLUGIN)
    yield path
    METRICS.remove("volume_diff")
    plugins._LOADED_FILES.pop(path.resolve(), None)


def test_plugin_on_score_and_metrics_list(tmp_path, plugin_file):
    gt = np.zeros((10, 10, 10), np.uint8)
    gt[2:6, 2:6, 2:6] = 1  # 64 voxels
    pred = np.zeros_like(gt)
    pred[2:6, 2:6, 2:8] = 1  # 96 voxels
    save_mask(tmp_path / "gt.nii.gz", gt, spacing=(2.0, 2.0, 2.5))
    save_mask(tmp_path / "pred.nii.gz", pred, spacing=(2.0, 2.0, 2.5))
    args = ["score", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"), "--json"]

    out = _json(runner.invoke(app, [*args, "--metric", "volume_diff", "--metric", "dice", "--plugin",
                                    str(plugin_file)]))
    assert out["volume_diff"] == pytest.approx(32 * 10.0 / 1000.0)
    assert out["units"]["volume_diff"] == "ml"

    # Given before the command (app-level), same effect; metrics list shows it with its direction.
    rows = {r["name"]: r for r in _json_list(runner.invoke(app, ["--plugin", str(plugin_file), "metrics", "list",
                                                                  "--json"]))}
    assert rows["volume_diff"]["higher_is_better"] is False and rows["volume_diff"]["builtin"] is False
    table = runner.invoke(app, ["metrics", "list", "--plugin", str(plugin_file)])
    assert table.exit_code == 0 and "volume_diff" in table.stdout and "[plugin]" in table.stdout

    # The plugin's empty values apply: empty prediction → "one".
    save_mask(tmp_path / "empty.nii.gz", np.zeros_like(gt), spacing=(2.0, 2.0, 2.5))
    out = _json(runner.invoke(app, ["score", str(tmp_path / "empty.nii.gz"), str(tmp_path / "gt.nii.gz"), "--json",
                                    "-m", "volume_diff", "--plugin", str(plugin_file)]))
    assert out["volume_diff"] == 100.0 and out["empty_pred"] is True


def test_plugin_missing_file_is_clean_error(tmp_path):
    err = _assert_one_paragraph_error(runner.invoke(app, ["metrics", "list", "--plugin", str(tmp_path / "no.py")]))
    assert "no.py" in err and "no such file" in err


def test_plugin_broken_file(tmp_path):
    bad = tmp_path / "broken_plugin.py"
    bad.write_text("raise RuntimeError('boom')\n")
    err = _assert_one_paragraph_error(runner.invoke(app, ["demo", "--plugin", str(bad)]))
    assert "broken_plugin.py" in err and "boom" in err


def test_bad_inputs_exit_2_one_paragraph(tmp_path):
    save_mask(tmp_path / "ok.nii.gz", _cubes()[1])
    save_mask(tmp_path / "small.nii.gz", np.zeros((5, 5, 5), np.uint8))
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    (tmp_path / "x.mha").write_bytes(b"x")
    ok = str(tmp_path / "ok.nii.gz")
    cases = {
        "missing.nii.gz": "no such file",
        "empty.nii.gz": "empty (0 bytes)",
        "x.mha": "unsupported file type",
        "small.nii.gz": "shape",
    }
    for name, expected in cases.items():
        err = _assert_one_paragraph_error(runner.invoke(app, ["score", str(tmp_path / name), ok]))
        assert name in err and expected in err


def test_verbose_shows_traceback(tmp_path):
    result = runner.invoke(app, ["score", str(tmp_path / "a.nii.gz"), str(tmp_path / "b.nii.gz"), "-v"])
    assert result.exit_code == 2 and "Traceback" in result.stderr and "Error:" in result.stderr
    result = runner.invoke(app, ["-v", "score", str(tmp_path / "a.nii.gz"), str(tmp_path / "b.nii.gz")])
    assert result.exit_code == 2 and "Traceback" in result.stderr


def test_non_binary_mask_without_label_is_clear_error(tmp_path):
    pred, gt = _cubes()
    np.savez(tmp_path / "prob.npz", mask=pred * 0.8)  # a probability map, not a mask
    save_mask(tmp_path / "gt.npz", gt)
    err = _assert_one_paragraph_error(runner.invoke(app, ["score", str(tmp_path / "prob.npz"),
                                                          str(tmp_path / "gt.npz")]))
    assert "prob.npz" in err and "non-integer" in err and "Threshold" in err


def test_usage_error_keeps_click_exit_code():
    result = runner.invoke(app, ["score"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output
    assert runner.invoke(app, ["nonsense"]).exit_code == 2


def test_version_and_no_args():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"medmix {__version__}"
    result = runner.invoke(app, [])
    assert "Usage" in result.output


def test_json_stdout_is_only_json_even_with_warnings(tmp_path):
    pred, gt = _cubes()
    save_mask(tmp_path / "gt.npy", gt)
    save_mask(tmp_path / "pred.npy", pred)
    result = runner.invoke(app, ["score", str(tmp_path / "pred.npy"), str(tmp_path / "gt.npy"), "--json"])
    out = _json(result)
    assert out["dice"] == 0.75
    assert result.stdout.lstrip().startswith("{") and result.stdout.rstrip().endswith("}")


@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_demo_cli_runs(tmp_path):
    result = runner.invoke(app, ["demo", "--metrics-only", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "both_empty" in result.stdout and "bahd" in result.stdout


def test_suites_show_prints_provenance():
    result = runner.invoke(app, ["suites", "show", "medsamix25", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {r["task"]: r for r in data["tasks"]}
    assert len(rows) == 25 and data["protocol"]["name"] == "medmix"
    assert rows["nasalseg_nasal_cavities"]["medsamix_key"] == "NasalSeg_3_4"
    assert rows["fcon1000_thalamus"]["guess"] and rows["kits_kidney_tumour"]["kind"] == "medmix"
    table = runner.invoke(app, ["suites", "show", "medsamix25"])
    assert table.exit_code == 0 and "MedSAMix code (NasalSeg_3_4)" in table.output and "guess" in table.output


def test_evaluate_protocol_option(tmp_path):
    out = tmp_path / "run"
    args = ["evaluate", "--model", "tiny", "--suite", "phantom25", "--task", "phantom_flare22_liver",
            "--max-cases", "1", "--out", str(out)]
    result = runner.invoke(app, [*args, "--protocol", "medsamix:drop_last_volume=true"])
    assert result.exit_code == 0, result.output
    assert "protocol medsamix" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"] == {"name": "medsamix", "drop_last_volume": True}
    bad = runner.invoke(app, [*args, "--protocol", "medsamx", "--overwrite"])
    assert bad.exit_code == 2 and "Did you mean 'medsamix'" in bad.output

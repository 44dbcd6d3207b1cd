"""The embedded default run: built-in phantoms scored with the default metrics, and its files."""

import csv
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from medmix.cli.main import app
from medmix.data.phantoms import builtin_cases
from medmix.metric_demo import LONG_COLUMNS, run_metric_demo
from medmix.metrics import DEFAULT_METRICS

DISTANCES = ("hd", "hd95", "assd", "ahd", "bahd")


@pytest.fixture(scope="module")
def demo():
    return run_metric_demo()


def _case(wide, name, label=1):
    rows = wide[(wide["case"] == name) & (wide["label"] == label)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_phantoms_are_small_deterministic_and_well_formed():
    cases = builtin_cases()
    assert 6 <= len(cases) <= 8
    assert len({c.name for c in cases}) == len(cases)
    for case, again in zip(cases, builtin_cases()):
        assert case.pred.shape == case.gt.shape and case.gt.ndim == len(case.spacing) in (2, 3)
        assert max(case.gt.shape) <= 96 and case.description
        np.testing.assert_array_equal(case.pred, again.pred)
        np.testing.assert_array_equal(case.gt, again.gt)
    organ = next(c for c in cases if c.name == "organ_overseg")
    assert organ.spacing == (0.8, 0.8, 2.5)
    assert organ.pred.sum() > organ.gt.sum()  # over-segmented
    assert any(c.gt.ndim == 2 and c.labels for c in cases)  # 2D label map (fundus disc/cup)


def test_rows_for_every_case(demo):
    table = demo.table
    assert list(table.columns) == list(LONG_COLUMNS)
    assert demo.metrics == list(DEFAULT_METRICS)
    cases = builtin_cases()
    assert set(table["case"]) == {c.name for c in cases}
    expected_rows = sum(len(c.labels or (1,)) for c in cases) * len(DEFAULT_METRICS)
    assert len(table) == expected_rows
    assert all(math.isfinite(v) for v in table["value"])
    wide = demo.wide()
    assert list(wide.columns) == ["case", "label", *DEFAULT_METRICS, "empty_gt", "empty_pred"]


def test_empty_conventions(demo):
    wide = demo.wide()
    both = _case(wide, "both_empty")
    assert both["empty_gt"] and both["empty_pred"]
    assert both["dice"] == 1.0 and both["iou"] == 1.0 and both["nsd"] == 1.0
    assert all(both[m] == 0.0 for m in DISTANCES)

    missed = _case(wide, "missed_lesion")
    assert missed["empty_pred"] and not missed["empty_gt"]
    assert missed["dice"] == 0.0 and missed["nsd"] == 0.0
    diagonal = math.sqrt(3 * 48.0**2)  # 48³ grid at 1 mm
    assert all(missed[m] == pytest.approx(diagonal) for m in DISTANCES)

    flagged = wide[wide["empty_gt"] | wide["empty_pred"]]
    assert set(flagged["case"]) == {"both_empty", "missed_lesion"}


def test_analytic_and_qualitative_values(demo):
    wide = demo.wide()
    shifted = _case(wide, "shifted_cube")
    assert shifted["dice"] == 0.875 and shifted["hd"] == 3.0 and shifted["hd95"] == 3.0
    assert shifted["iou"] == pytest.approx(0.875 / (2 - 0.875))

    far_fp = _case(wide, "lesion_far_fp")
    assert far_fp["dice"] > 0.85 and far_fp["hd"] > 40 and far_fp["hd95"] < 2  # HD dominated by one outlier

    assert set(wide.loc[wide["case"] == "fundus_disc_cup", "label"]) == {1, 2}
    for _, row in wide[~(wide["empty_gt"] | wide["empty_pred"])].iterrows():
        assert 0.5 < row["dice"] < 1.0 and row["hd95"] <= row["hd"] + 1e-12


def test_out_dir_writes_files(tmp_path):
    result = run_metric_demo(out_dir=tmp_path / "run")
    csv_path, summary_path = tmp_path / "run" / "cases.csv", tmp_path / "run" / "summary.json"
    assert result.out_dir == tmp_path / "run"
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(LONG_COLUMNS)
    assert len(rows) == len(result.table)
    both = [r for r in rows if r["case"] == "both_empty" and r["metric"] == "dice"]
    assert both == [{"case": "both_empty", "label": "1", "metric": "dice", "value": "1", "empty_gt": "True",
                     "empty_pred": "True"}]

    summary = json.loads(summary_path.read_text())
    assert summary["n_cases"] == len(builtin_cases())
    assert set(summary["aggregates"]) == set(DEFAULT_METRICS)
    dice_values = result.table.loc[result.table["metric"] == "dice", "value"]
    assert summary["aggregates"]["dice"]["mean"] == pytest.approx(dice_values.mean())
    assert summary["flags"] == {"empty_gt": 1, "empty_pred": 2, "both_empty": 1}
    assert summary["metrics"]["bahd"]["higher_is_better"] is False
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".tmp")]


def test_cli_demo_out(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--metrics-only", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for name in ("organ_overseg", "fundus_disc_cup:2", "empty_pred", "both empty", "bahd"):
        assert name in result.stdout
    assert (tmp_path / "out" / "cases.csv").is_file() and (tmp_path / "out" / "summary.json").is_file()


def test_cli_demo_out_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    result = CliRunner().invoke(app, ["demo", "--metrics-only", "--out", str(target)])
    assert result.exit_code == 2 and result.stderr.startswith("Error:") and "taken" in result.stderr

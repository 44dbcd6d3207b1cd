"""Clinical validation protocols: inter-observer non-inferiority, multi-site generalisation, COMMUTE readiness,
cost blocks, the combined report and the `medmix validate` CLI."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from typer.testing import CliRunner

from medmix.cli.main import app
from medmix.data.io import save_mask
from medmix.errors import InputError, UnknownNameError
from medmix.metrics import compute_metrics
from medmix.validation.commute import commute_readiness, wilson_interval, write_commute
from medmix.validation.observers import inter_observer, non_inferiority, write_observers
from medmix.validation.sites import site_generalisation, write_sites

runner = CliRunner()
GRID = np.mgrid[:20, :20, :20]


def _ball(centre, radius) -> np.ndarray:
    return sum((g - c) ** 2 for g, c in zip(GRID, centre)) <= radius ** 2


@pytest.fixture(scope="module")
def readers(tmp_path_factory):
    """10 cases: E1 a ball, E2 the ball shifted/resized by ≤ 1 voxel, a good model (E1's ball resized by ≤ 1) and a
    bad one (shifted by 4 voxels); one case only E1 has."""
    root = tmp_path_factory.mktemp("readers")
    rng = np.random.default_rng(0)
    for i in range(10):
        centre = np.array([10, 10, 10]) + rng.integers(-1, 2, 3)
        radius = 5 + int(rng.integers(0, 2))
        masks = {"e1": _ball(centre, radius), "e2": _ball(centre + rng.integers(-1, 2, 3), radius + rng.choice([-1, 0])),
                 "good": _ball(centre, radius + rng.choice([0, 1])), "bad": _ball(centre + [4, 0, 0], radius)}
        for role, mask in masks.items():
            (root / role / "liver").mkdir(parents=True, exist_ok=True)
            save_mask(root / role / "liver" / f"case_{i:02d}.nii.gz", mask.astype(np.uint8), spacing=(1.0, 1.0, 2.0))
    save_mask(root / "e1" / "liver" / "case_99.nii.gz", _ball((10, 10, 10), 4).astype(np.uint8),
              spacing=(1.0, 1.0, 2.0))
    return root


# --- inter-observer ------------------------------------------------------------------------------------------------

def test_non_inferiority_statistics():
    d = np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02, 0.015, -0.005, 0.01, 0.02])
    out = non_inferiority(d, 0.05, n_bootstrap=500, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = scipy.stats.wilcoxon(d + 0.05, alternative="greater").pvalue
    assert out["p_value"] == pytest.approx(expected, rel=1e-12) and out["verdict"] == "non-inferior"
    assert out["ci_low"] < d.mean() < out["ci_high"] and out["n"] == 10
    worse = non_inferiority(d - 0.08, 0.05, n_bootstrap=500)
    assert worse["verdict"] == "not shown" and worse["p_value"] > 0.5
    assert non_inferiority(d, None)["verdict"].startswith("described only")


def test_inter_observer_values_and_verdicts(readers):
    good = inter_observer(readers / "good", readers / "e1", readers / "e2", n_bootstrap=500)
    assert good.settings["n_cases"] == 10 and good.excluded == {"model": ["liver/case_99"],
                                                                  "reader2": ["liver/case_99"]}
    cases = good.cases.set_index(["case", "metric", "pair"])["value"]
    from medmix.data.io import load_mask

    def load(role):
        return load_mask(readers / role / "liver" / "case_03.nii.gz").array

    # the second argument is the pair's reference (matters for bAHD), spacing from the header (1, 1, 2)
    expected = compute_metrics(load("good"), load("e2"), ["dice", "bahd"], (1.0, 1.0, 2.0)).values
    assert cases[("liver/case_03", "bahd", "model_e2")] == pytest.approx(expected["bahd"], rel=1e-12)
    assert cases[("liver/case_03", "dice", "model_e2")] == pytest.approx(expected["dice"], rel=1e-12)
    row = good.summary.set_index(["metric", "comparison"]).loc[("dice", "model_vs_experts")]
    wide = good.cases[good.cases["metric"] == "dice"].pivot(index="case", columns="pair", values="value")
    d = (wide["model_e1"] + wide["model_e2"]) / 2 - wide["e2_e1"]
    assert row["mean_difference"] == pytest.approx(d.mean(), rel=1e-12)
    assert good.verdict("dice") == "non-inferior"
    bad = inter_observer(readers / "bad", readers / "e1", readers / "e2", n_bootstrap=500)
    assert bad.verdict("dice") == "not shown"
    hd = bad.summary.set_index(["metric", "comparison"]).loc[("hd95", "model_vs_experts")]
    assert hd["mean_difference"] < 0  # lower-is-better: a worse model gives a negative oriented difference
    with_mm = inter_observer(readers / "bad", readers / "e1", readers / "e2", margins={"dice": 0.05, "hd95": 1.0},
                             n_bootstrap=200)
    assert with_mm.verdict("hd95") == "not shown"


def test_inter_observer_errors(readers, tmp_path):
    with pytest.raises(InputError, match="not among the metrics"):
        inter_observer(readers / "good", readers / "e1", readers / "e2", metrics=["dice"], margins={"hd95": 2})
    (tmp_path / "other").mkdir()
    save_mask(tmp_path / "other" / "x.nii.gz", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(InputError, match="no case is in every mask source"):
        inter_observer(tmp_path / "other", readers / "e1", readers / "e2")
    with pytest.raises(InputError, match="not a folder"):
        inter_observer(tmp_path / "nowhere", readers / "e1", readers / "e2")


# --- sites ---------------------------------------------------------------------------------------------------------

def _site_table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for site, level, n in (("A", 0.85, 12), ("B", 0.84, 10), ("C", 0.74, 9)):
        for i in range(n):
            for algo, shift in (("model", 0.0), ("other", -0.02)):
                rows.append(("liver", f"{site}_{i:03d}", algo, "dice",
                             float(np.clip(level + shift + rng.normal(0, 0.03), 0, 1))))
    return pd.DataFrame(rows, columns=["task", "case", "algorithm", "metric", "value"])


def test_site_generalisation_against_scipy():
    table = _site_table()
    result = site_generalisation(table, re.compile(r"^([A-Z])_"), ["A", "B"])
    comparisons = result.comparisons.set_index(["algorithm", "external"])
    model = table[table["algorithm"] == "model"]
    inside = model[model["case"].str[0].isin(["A", "B"])]["value"].to_numpy()
    outside = model[model["case"].str[0] == "C"]["value"].to_numpy()
    row = comparisons.loc[("model", "all external")]
    assert row["drop"] == pytest.approx(np.median(inside) - np.median(outside), rel=1e-12)
    assert row["flagged"] and row["drop"] > 0.05
    assert row["p_value"] == pytest.approx(scipy.stats.mannwhitneyu(inside, outside).pvalue, rel=1e-12)
    per_site = result.per_site.set_index(["algorithm", "site"])
    c = model[model["case"].str[0] == "C"]["value"]
    assert per_site.loc[("model", "C"), "median"] == pytest.approx(c.median())
    assert per_site.loc[("model", "C"), "q75"] == pytest.approx(np.percentile(c, 75))
    # B against A alone: a drop below 0.05 is not flagged
    alone = site_generalisation(table, "re:^([A-Z])_", ["A"]).comparisons.set_index(["algorithm", "external"])
    assert not alone.loc[("model", "B"), "flagged"] and alone.loc[("model", "C"), "flagged"]


def test_site_sources_and_errors():
    table = _site_table()
    table["case"] = table["case"].str.replace(r"^([A-Z])_", r"\1/", regex=True)  # "<entry>/<case>" ids
    by_entry = site_generalisation(table, "entry", ["A"])
    assert set(by_entry.per_site["site"]) == {"A", "B", "C"}
    lookup = pd.DataFrame({"case": ["A/000", "C/000"], "site": ["hospital_1", "hospital_2"], "task": ["", "liver"]})
    partial = site_generalisation(table, lookup, ["hospital_1"])
    assert set(partial.per_site["site"]) == {"hospital_1", "hospital_2"} and len(partial.unassigned) > 0
    with pytest.raises(UnknownNameError, match="site"):
        site_generalisation(table, "entry", ["a"])
    with pytest.raises(InputError, match="nothing is external"):
        site_generalisation(table, "entry", ["A", "B", "C"])
    with pytest.raises(InputError, match="no case could be given a site"):
        site_generalisation(table, "re:^zzz", ["A"])


# --- COMMUTE -------------------------------------------------------------------------------------------------------

def test_wilson_interval_against_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in ((17, 20), (0, 5), (5, 5), (43, 50)):
        assert wilson_interval(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"), abs=1e-12)


def test_commute_criteria(tmp_path):
    ratings = pd.DataFrame({"case": [f"c{i}" for i in range(10)], "rating": [1, 1, 2, 2, 1, 2, 1, 3, 1, 2],
                            "edit_time": [5, 4, 6, 8, 3, 7, 2, 20, 4, 6], "manual_time": [20] * 10,
                            "dose_auto": [50.0, 50.5, 49.8, 50.2, 50.0, 51.5, 50.1, 48.0, 50.0, 50.3],
                            "dose_manual": [50.0] * 10})
    result = commute_readiness(ratings)
    criteria = result.criteria.set_index("criterion")
    assert criteria.loc["acceptable with minor or no edits", "value"] == pytest.approx(0.9)
    assert criteria.loc["acceptable with minor or no edits", "met"]
    assert criteria.loc["time reduction", "value"] == pytest.approx(1 - 65 / 200)
    dose = 100 * np.abs(ratings["dose_auto"] - 50.0) / 50.0
    assert criteria.loc["dosimetric difference", "value"] == pytest.approx(dose.mean())
    assert result.ready()
    slow = ratings.assign(edit_time=[15] * 10)
    assert not commute_readiness(slow).ready()
    only = commute_readiness(ratings[["case", "rating"]])
    assert only.criteria.set_index("criterion").loc["time reduction", "met"] is None and only.ready()
    with pytest.raises(InputError, match="is not 1, 2, 3 or 4"):
        commute_readiness(ratings.assign(rating=[1] * 9 + [5]))
    with pytest.raises(InputError, match="come together"):
        commute_readiness(ratings.drop(columns=["manual_time"]))
    files = write_commute(result, tmp_path / "val")
    assert (tmp_path / "val" / "commute" / "criteria.csv").is_file() and any(f.name == "report.html" for f in files)


def test_commute_surface_dice_of_edits(readers):
    ratings = pd.DataFrame({"case": [f"liver/case_{i:02d}" for i in range(10)], "rating": [1, 2] * 5})
    result = commute_readiness(ratings, auto=readers / "good", edited=readers / "e1", tolerance_mm=1.0)
    assert result.cases["surface_dice"].between(0, 1).all()
    case = result.cases.set_index("case").loc["liver/case_00"]
    from medmix.data.io import load_mask

    expected = compute_metrics(load_mask(readers / "good" / "liver" / "case_00.nii.gz").array,
                               load_mask(readers / "e1" / "liver" / "case_00.nii.gz").array,
                               ["nsd:tolerance_mm=1"], (1.0, 1.0, 2.0)).values["nsd:tolerance_mm=1"]
    assert case["surface_dice"] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(InputError, match="both"):
        commute_readiness(ratings, auto=readers / "good")


# --- cost, report, CLI ---------------------------------------------------------------------------------------------

def test_cost_block_in_summary_and_leaderboard(tmp_path):
    from medmix.evaluation import EvaluationConfig, evaluate
    from medmix.leaderboard import build_leaderboard
    from medmix.validation.cost import cost_table

    runs = []
    for seed in (0, 1):
        out = tmp_path / f"tiny{seed}"
        evaluate(EvaluationConfig(suite="phantom25", out_dir=str(out), model=f"tiny:seed={seed}",
                                  tasks=["phantom_flare22_liver"], max_cases=2))
        runs.append(out)
    cost = json.loads((runs[0] / "cost.json").read_text())
    assert "cost" not in json.loads((runs[0] / "summary.json").read_text())  # summary.json stays deterministic
    assert cost["parameters"] > 80_000 and cost["n_slices"] > 0 and cost["ms_per_slice"] > 0
    assert cost["peak_memory_mb"] > 50 and cost["device"] == "cpu"
    # a resumed run keeps the cost of every case, not only of this session's
    evaluate(EvaluationConfig(suite="phantom25", out_dir=str(runs[0]), model="tiny:seed=0",
                                      tasks=["phantom_flare22_liver"], max_cases=2))
    assert json.loads((runs[0] / "cost.json").read_text())["n_slices"] == cost["n_slices"]
    table = cost_table(runs)
    assert list(table["algorithm"]) == ["tiny0", "tiny1"] and (table["ms_per_slice"] > 0).all()
    board = build_leaderboard(runs, tmp_path / "board", n_bootstrap=0, plots=False)
    md = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "| Parameters | ms / slice | Peak memory (MB) |" in md
    csv = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    assert csv.loc[csv["scope"] == "overall", "parameters"].tolist() == [cost["parameters"]] * 2
    assert board.costs()["tiny0"]["ms_per_slice"] == cost["ms_per_slice"]


def test_report_collects_protocols(readers, tmp_path):
    out = tmp_path / "val"
    write_observers(inter_observer(readers / "good", readers / "e1", readers / "e2", n_bootstrap=200), out)
    write_sites(site_generalisation(_site_table(), "re:^([A-Z])_", ["A"]), out)
    page = (out / "report.html").read_text()
    assert "Inter-observer benchmark" in page and "Multi-site generalisation" in page
    assert page.count("data:image/png;base64,") == 2 and "<script src" not in page
    md = (out / "report.md").read_text()
    assert "![Inter-observer benchmark figure](observers/figure.png)" in md
    assert "nan" not in md.split("### summary")[0]  # verdict lines: distances without a margin say so, no NaN
    assert (out / "observers" / "figure.png").is_file()
    # re-running one protocol replaces its section only
    before = page.count("Multi-site generalisation")
    write_sites(site_generalisation(_site_table(), "re:^([A-Z])_", ["A", "B"]), out)
    again = (out / "report.html").read_text()
    assert again.count("Multi-site generalisation") == before
    assert "internal: ['A', 'B']" in (out / "report.md").read_text()
    assert "Inter-observer benchmark" in again


def test_cli_validate(readers, tmp_path):
    out = tmp_path / "val"
    result = runner.invoke(app, ["validate", "observers", "--model", str(readers / "good"), "--reader1",
                                 str(readers / "e1"), "--reader2", str(readers / "e2"), "--out", str(out),
                                 "--bootstrap", "200", "--margin", "dice=0.05", "--margin", "hd95=2"])
    assert result.exit_code == 0, result.output
    assert "dice: model–experts" in result.output and "non-inferior" in result.output
    csv = tmp_path / "results.csv"
    _site_table().to_csv(csv, index=False)
    result = runner.invoke(app, ["validate", "sites", str(csv), "--internal", "A", "--site-pattern", "^([A-Z])_",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output and "FLAGGED" in result.output
    result = runner.invoke(app, ["validate", "sites", str(csv), "--internal", "A", "--out", str(out)])
    assert result.exit_code == 2 and "exactly one of --sites" in result.output
    ratings = tmp_path / "ratings.csv"
    pd.DataFrame({"case": ["a", "b"], "rating": [1, 7]}).to_csv(ratings, index=False)
    result = runner.invoke(app, ["validate", "commute", str(ratings), "--out", str(out)])
    assert result.exit_code == 2 and "not 1, 2, 3 or 4" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["validate", "observers", "--model", str(readers / "good"), "--reader1",
                                 str(readers / "e1"), "--reader2", str(readers / "e2"), "--margin", "dice"])
    assert result.exit_code == 2 and "METRIC=NUMBER" in result.output


def test_cli_radiomics_and_cost_from_a_run(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["evaluate", "--model", "tiny", "--suite", "phantom25", "--task",
                                 "phantom_kits_kidney_tumour", "--max-cases", "4", "--save-predictions", "--out",
                                 str(run)])
    assert result.exit_code == 0, result.output
    assert "cost: 86,380 parameters" in result.output and "ms per slice on cpu" in result.output
    out = tmp_path / "val"
    result = runner.invoke(app, ["validate", "radiomics", str(run), "--out", str(out), "--feature", "shape"])
    assert result.exit_code == 0, result.output
    agreement = pd.read_csv(out / "radiomics" / "agreement.csv")
    assert set(agreement["group"]) == {"shape"} and (agreement["n_cases"] == 4).all()
    cases = pd.read_csv(out / "radiomics" / "cases.csv")
    from medmix.validation.radiomics import radiomics_features
    from medmix.validation.runs import run_cases

    first = next(run_cases(run))
    expected = radiomics_features(first.image, first.reference, first.spacing_mm)["voxel_volume"]
    row = cases[(cases["case"] == f"{first.task}/{first.case_id}") & (cases["feature"] == "voxel_volume")]
    assert row["reference"].iloc[0] == pytest.approx(expected, rel=1e-5)  # CSVs keep 6 significant digits
    assert row["reference"].iloc[0] == pytest.approx(first.reference.sum() * np.prod(first.spacing_mm), rel=1e-5)
    result = runner.invoke(app, ["validate", "cost", str(run), "--out", str(out)])
    assert result.exit_code == 0 and "86380" in result.output.replace(",", "")
    page = (out / "report.html").read_text()
    assert "Radiomics agreement" in page and "Cost" in page
    result = runner.invoke(app, ["validate", "radiomics", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 2 and "summary.json" in result.output

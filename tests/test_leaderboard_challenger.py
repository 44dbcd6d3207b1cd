"""challengeR compatibility, consensus rankings, the figures' files and grand-challenge metrics.json I/O.

The challengeR numbers in tests/data/challenger/ were produced by the real challengeR 1.0.5 (R 4.2.2) with
`python bench/challenger_side_by_side.py --record tests/data/challenger` on the three datasets named there; the
tests recompute medmix's side and require equality under `compat="challenger"`, and a difference under medmix's
defaults where the conventions differ (so the compat switch is what makes them equal).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from medmix.errors import InputError, UnknownNameError
from medmix.leaderboard import build_leaderboard, compute_leaderboard, read_inputs
from medmix.leaderboard.consensus import consensus_scores
from medmix.leaderboard.conventions import CHALLENGER, MEDMIX
from medmix.leaderboard.example import example_runs
from medmix.leaderboard.grand_challenge import read_metrics_json
from medmix.leaderboard.ranking import case_ranks, mean_rank, scheme_scores
from medmix.leaderboard.sidebyside import compare_to_challenger, dataset_inputs, edge_table, scheme_boards
from medmix.leaderboard.stats import wilcoxon_one_sided

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "data" / "challenger"


def _compare(name: str, compat: str, tmp_path: Path) -> pd.DataFrame:
    boards = scheme_boards(dataset_inputs(name, tmp_path), compat)
    return compare_to_challenger(boards, json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.mark.parametrize("name", ["example", "synthetic", "edge"])
def test_compat_challenger_equals_challengeR(name, tmp_path):
    frame = _compare(name, "challenger", tmp_path)
    assert set(frame["what"]) == {"rank", "mean case rank", "p (observed)", "p Holm (observed)", "p (filled)",
                                  "p Holm (filled)", "consensus euclidean", "overall rank", "consensus Borda"}
    assert len(frame) > 400
    assert frame["equal"].all(), frame[~frame["equal"]].head(10).to_string()


def test_medmix_defaults_differ_from_challengeR_where_documented(tmp_path):
    frame = _compare("edge", "medmix", tmp_path)
    differs = frame[~frame["equal"]]
    # exact Wilcoxon for n = 9 instead of the normal approximation; the missing-case rank next to a tie for last
    assert (differs["what"] == "p (observed)").sum() > 100
    assert set(differs.loc[differs["what"] == "mean case rank", "algorithm"]) == {"b", "e"}
    assert not differs["what"].isin(["consensus Borda"]).any()


def test_normal_approximation_equals_scipy_with_continuity_correction():
    rng = np.random.default_rng(4)
    for n in (3, 7, 12, 25, 60):
        d = np.round(rng.normal(0.2, 1.0, (20, n)), 1)  # ties and zeros
        greater, less = wilcoxon_one_sided(d, "normal_cc")
        for row, g, l in zip(d, greater, less):
            if not np.any(row != 0):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for alternative, ours in (("greater", g), ("less", l)):
                    ref = scipy.stats.wilcoxon(row, alternative=alternative, method="approx", correction=True)
                    assert ours == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-15)


def test_missing_case_rank_and_exact_ties():
    values = np.array([[0.9, 0.8, 0.8, np.nan], [np.nan] * 4])
    np.testing.assert_array_equal(case_ranks(values, True, MEDMIX)[0], [1, 2, 2, 4])
    np.testing.assert_array_equal(case_ranks(values, True, CHALLENGER)[0], [1, 2, 2, 3])  # rankNA2: max + 1
    np.testing.assert_array_equal(case_ranks(values, True, CHALLENGER)[1], [1, 1, 1, 1])  # empty case: 0 + 1
    close = np.array([[0.1 + 0.2, 0.3]])
    assert scheme_scores(close, True, "aggregate_mean")[1].tolist() == [1, 1]
    assert scheme_scores(close, True, "aggregate_mean", conventions=CHALLENGER)[1].tolist() == [1, 2]
    # combining rankings: medmix averages "min" ranks, challengeR tie-averaged ranks
    ranks = np.array([[1, 1, 3], [3, 1, 2]])
    np.testing.assert_allclose(mean_rank(ranks)[0], [2.0, 1.0, 2.5])
    np.testing.assert_allclose(mean_rank(ranks, CHALLENGER)[0], [2.25, 1.25, 2.5])


def test_test_then_rank_counts_a_win_at_p_equal_alpha_only_under_challenger():
    # five positive differences: exact one-sided p = 1/32 = 0.03125
    values = np.column_stack([np.arange(5) + 1.0, np.zeros(5)])
    assert scheme_scores(values, True, "test_then_rank", alpha=0.03125)[0].tolist() == [0, 0]
    p = wilcoxon_one_sided(values[:, 0] - values[:, 1], "normal_cc")[0]
    assert scheme_scores(values, True, "test_then_rank", alpha=float(p), conventions=CHALLENGER)[0].tolist() == [1, 0]


def test_consensus_methods_against_relations():
    # relations 0.6-18 on these three weak orders: euclidean scores and the Borda consensus' tie-averaged ranks
    ranks = np.array([[1, 1, 3], [2, 1, 3], [3, 1, 1]])
    np.testing.assert_allclose(consensus_scores(ranks, "euclidean")[0], [13 / 6, 4 / 3, 2.5])
    np.testing.assert_array_equal(consensus_scores(ranks, "borda")[1], [2, 1, 3])
    np.testing.assert_array_equal(consensus_scores(ranks, "median")[0], [2.0, 1.5, 3.0])
    # a Condorcet winner wins Copeland and Kemeny; a Condorcet cycle ties everyone
    condorcet = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3]])
    assert consensus_scores(condorcet, "pairwise_majority")[1][0] == 1
    assert consensus_scores(condorcet, "kemeny")[0].tolist() == [1, 2, 3]
    cycle = np.array([[1, 2, 3], [2, 3, 1], [3, 1, 2]])
    assert consensus_scores(cycle, "kemeny")[1].tolist() == [1, 1, 1]
    assert consensus_scores(cycle, "pairwise_majority")[0].tolist() == [0, 0, 0]
    assert np.isnan(consensus_scores(np.tile(np.arange(1, 10), (2, 1)), "kemeny")[0]).all()  # 9! not enumerated
    with pytest.raises(UnknownNameError, match="consensus method"):
        consensus_scores(ranks, "copland")


def test_kemeny_is_the_brute_force_optimum():
    from itertools import permutations

    rng = np.random.default_rng(0)
    ranks = np.array([scipy.stats.rankdata(rng.normal(size=5), method="min") for _ in range(7)])
    score, _ = consensus_scores(ranks, "kemeny")

    def disagreements(order):
        position = {a: i for i, a in enumerate(order)}
        return sum((r[a] > r[b]) + 0.5 * (r[a] == r[b]) for r in ranks for a in range(5) for b in range(5)
                   if position[a] < position[b])

    best = min(disagreements(o) for o in permutations(range(5)))
    assert disagreements(list(np.argsort(score, kind="stable"))) == best


def test_compat_changes_the_board_and_is_recorded(tmp_path):
    table = edge_table()
    medmix = compute_leaderboard(table, scheme="rank_then_aggregate", n_bootstrap=20)
    challenger = compute_leaderboard(table, scheme="rank_then_aggregate", n_bootstrap=20, compat="challenger")
    assert medmix.settings()["compat"] == "medmix" and challenger.settings()["compat"] == "challenger"
    assert challenger.settings()["conventions"]["wilcoxon"] == "normal_cc"
    # challengeR's overall rank is its euclidean consensus
    euclid = challenger.consensus[challenger.consensus["method"] == "euclidean"].set_index("algorithm")
    assert challenger.overall.set_index("algorithm")["rank"].to_dict() == euclid["rank"].to_dict()
    assert not np.allclose(medmix.overall["rank_score"], challenger.overall["rank_score"])
    with pytest.raises(UnknownNameError, match="compatibility mode"):
        compute_leaderboard(table, n_bootstrap=0, compat="challengr")


def test_cli_compat_and_svg(tmp_path):
    from typer.testing import CliRunner

    from medmix.cli.main import app

    csv = tmp_path / "long.csv"
    edge_table().to_csv(csv, index=False)
    out = tmp_path / "board"
    result = CliRunner().invoke(app, ["leaderboard", str(csv), "--out", str(out), "--compat", "challenger",
                                      "--bootstrap", "20", "--figure-format", "svg", "--task", "task_0"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "leaderboard.json").read_text())
    assert doc["settings"]["compat"] == "challenger" and set(doc["consensus"]) >= {"euclidean", "kemeny"}
    assert (out / "podium_task_0.svg").read_text().lstrip().startswith("<?xml")
    assert not list(out.glob("*.png"))
    assert "data:image/svg+xml;base64," in (out / "leaderboard.html").read_text()
    result = CliRunner().invoke(app, ["leaderboard", str(csv), "--out", str(out), "--figure-format", "pdf"])
    assert result.exit_code == 2 and "figure format" in result.output


def test_svg_files_are_deterministic(tmp_path):
    table = edge_table()
    table = table[table["task"] == "task_0"]
    for name in ("a", "b"):
        build_leaderboard(table, tmp_path / name, n_bootstrap=10, figure_formats=("svg",))
    svgs = sorted(p.name for p in (tmp_path / "a").glob("*.svg"))
    assert len(svgs) == 3 + 8  # 3 for the task, 8 across tasks (no dendrogram of one task)
    assert "task_dendrogram.svg" not in svgs
    for name in svgs:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# --- grand-challenge metrics.json ----------------------------------------------------------------------------------

def test_metrics_json_round_trip(tmp_path):
    runs = example_runs(tmp_path / "runs")
    board = build_leaderboard(runs, tmp_path / "board", n_bootstrap=0, plots=False)
    folder = tmp_path / "board" / "metrics"
    assert sorted(p.name for p in folder.iterdir()) == sorted(board.algorithms)
    doc = json.loads((folder / "medsam" / "metrics.json").read_text())
    dice = np.concatenate([w["medsam"].to_numpy() for (t, m), w in board.values.items() if m == "dice"])
    assert doc["aggregates"]["dice"]["mean"] == pytest.approx(np.nanmean(dice), rel=1e-5)
    assert doc["aggregates"]["dice"]["count"] == np.isfinite(dice).sum()
    assert {"25%", "50%", "75%", "std", "min", "max"} <= set(doc["aggregates"]["bahd"])
    missing = json.loads((folder / "sam_vit_b" / "metrics.json").read_text())
    assert {"task": "promise12_prostate", "case": "case_003"}.items() <= next(
        r for r in missing["case"] if r["case"] == "case_003" and r["task"] == "promise12_prostate").items()

    again = compute_leaderboard([folder], n_bootstrap=0)  # the folder of algorithm folders as input
    assert again.order() == board.order()
    pd.testing.assert_frame_equal(again.overall.set_index("algorithm").loc[board.algorithms],
                                  board.overall.set_index("algorithm"), check_exact=False, rtol=1e-5)
    assert [s.kind for s in again.sources] == ["grand_challenge"] * 4


def test_reads_evalutils_and_keyed_forms(tmp_path):
    # evalutils: DataFrame.to_dict() → column → {row: value}, with file-name columns and a bool column
    evalutils = {"case": {"dice": {"0": 0.9, "1": 0.7}, "bahd": {"0": 1.5, "1": None},
                          "ground_truth_fname": {"0": "c1.nii.gz", "1": "c2.nii.gz"},
                          "pred_fname": {"0": "p1.nii.gz", "1": "p2.nii.gz"}, "empty": {"0": False, "1": True}},
                 "aggregates": {"dice": {"mean": 0.8}}}
    (tmp_path / "team_a").mkdir()
    (tmp_path / "team_a" / "metrics.json").write_text(json.dumps(evalutils))
    frame = read_metrics_json(tmp_path / "team_a" / "metrics.json")
    assert set(frame["metric"]) == {"dice", "bahd"} and set(frame["case"]) == {"c1.nii.gz", "c2.nii.gz"}
    assert frame["algorithm"].unique().tolist() == ["team_a"] and frame["task"].unique().tolist() == ["challenge"]
    assert frame["value"].isna().sum() == 1
    keyed = {"algorithm": "team b", "case": {"c1.nii.gz": {"dice": 0.8, "bahd": 2.0},
                                             "c2.nii.gz": {"dice": 0.75, "bahd": 3.0}}}
    (tmp_path / "b.json").write_text(json.dumps(keyed))
    data = read_inputs([tmp_path / "team_a", tmp_path / "b.json"])
    assert data.algorithms == ["team_a", "team b"]
    board = compute_leaderboard(data, n_bootstrap=0)
    assert board.order() == ["team_a", "team b"] and board.missing["cases"].tolist() == ["c2.nii.gz"]


def test_metrics_json_errors(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"aggregates": {"dice": {"mean": 0.5}}}))
    with pytest.raises(InputError, match="per-case 'case' part"):
        read_inputs([bad])
    bad.write_text("{not json")
    with pytest.raises(InputError, match="cannot read it as JSON"):
        read_inputs([bad])
    bad.write_text(json.dumps({"case": [{"case": "c1", "note": "text only"}]}))
    with pytest.raises(InputError, match="no numeric metric"):
        read_inputs([bad])

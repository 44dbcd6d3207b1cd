"""Leaderboards: ranking schemes (TV-9), ties, missing cases, metric direction, Wilcoxon/Holm against scipy and a
hand example, bootstrap determinism, custom metrics, inputs (run folders, long CSVs), outputs and the CLI."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from medmix.errors import InputError, UnknownNameError
from medmix.leaderboard import build_leaderboard, compute_leaderboard, read_inputs, resolve_metric
from medmix.leaderboard.example import example_runs
from medmix.leaderboard.ranking import (
    aggregate_then_rank,
    case_ranks,
    pairwise_pvalues,
    rank_scores,
    rank_task,
    rank_then_aggregate,
    test_then_rank,
)
from medmix.leaderboard.stats import holm, kendall_tau, kendall_tau_rows, wilcoxon_greater, wilcoxon_one_sided

TV9 = pd.DataFrame({"A": [0.90, 0.90, 0.90, 0.10], "B": [0.80, 0.80, 0.80, 0.80], "C": [0.85, 0.85, 0.85, 0.50]},
                   index=["c1", "c2", "c3", "c4"])


def _long(wide: pd.DataFrame, metric: str = "dice", task: str = "t") -> pd.DataFrame:
    """cases × algorithms → long table (NaN cells dropped, i.e. missing cases)."""
    rows = [(task, str(case), algo, metric, value) for case, row in wide.iterrows() for algo, value in row.items()
            if pd.notna(value)]
    return pd.DataFrame(rows, columns=["task", "case", "algorithm", "metric", "value"])


def _scipy_greater(d: np.ndarray) -> float:
    d = d[np.isfinite(d)]
    if not np.any(d != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(scipy.stats.wilcoxon(d, alternative="greater").pvalue)


# --- TV-9 (reference.md §6) ----------------------------------------------------------------------------------------

def test_tv9_aggregate_then_rank():
    result = aggregate_then_rank(TV9, higher_is_better=True)
    assert dict(zip(result.algorithms, result.rank)) == {"A": 3, "B": 1, "C": 2}
    assert result.order() == ["B", "C", "A"]
    np.testing.assert_allclose(result.score, [0.7, 0.8, 0.7625])


def test_tv9_rank_then_aggregate_and_kendall():
    result = rank_then_aggregate(TV9, higher_is_better=True)
    assert dict(zip(result.algorithms, result.rank)) == {"A": 1, "B": 3, "C": 2}
    assert result.order() == ["A", "C", "B"]
    np.testing.assert_allclose(result.score, [1.5, 2.5, 2.0])
    assert kendall_tau(aggregate_then_rank(TV9, True).rank, result.rank) == pytest.approx(-1.0)


def test_tv9_missing_case():
    missing = TV9.copy()
    missing.loc["c4", "B"] = np.nan
    assert aggregate_then_rank(missing, True, missing_value=0.0).order() == ["C", "A", "B"]
    assert rank_then_aggregate(missing, True).order() == ["A", "C", "B"]
    # the missing case takes rank max + 1 = 3 (two algorithms have case 4)
    np.testing.assert_array_equal(case_ranks(missing.to_numpy(), True)[3], [2, 3, 1])
    with pytest.raises(ValueError, match="missing_value"):
        aggregate_then_rank(missing, True)


def test_tv9_missing_case_through_the_leaderboard():
    table = _long(TV9.drop(index=[]).assign(B=[0.8, 0.8, 0.8, np.nan]))
    board = compute_leaderboard(table, metrics=["dice"], n_bootstrap=0)
    assert board.order() == ["C", "A", "B"]
    assert board.missing.to_dict("records") == [{"task": "t", "metric": "dice", "algorithm": "B", "n_missing": 1,
                                                 "n_cases": 4, "cases": "c4", "fill_value": 0.0}]
    stats = board.statistics.set_index("algorithm")
    assert stats.loc["B", "n"] == 3 and stats.loc["B", "n_missing"] == 1
    assert stats.loc["B", "mean"] == pytest.approx(0.8)
    board = compute_leaderboard(table, metrics=["dice"], scheme="rank_then_aggregate", n_bootstrap=0)
    assert board.order() == ["A", "C", "B"]
    assert board.schemes.set_index("algorithm").loc[["A", "B", "C"], "aggregate_mean"].tolist() == [2, 3, 1]


# --- ties, missing under each scheme, direction ----------------------------------------------------------------------

def test_ties_share_the_best_rank():
    np.testing.assert_array_equal(rank_scores([0.8, 0.9, 0.8, 0.7], higher_is_better=True), [2, 1, 2, 4])
    np.testing.assert_array_equal(rank_scores([0.8, 0.9, 0.8, 0.7], higher_is_better=False), [2, 4, 2, 1])
    # sums of equal values in another order still tie
    assert rank_scores([0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1], higher_is_better=True).tolist() == [1, 1]
    tied = pd.DataFrame({"A": [0.9, 0.7], "B": [0.7, 0.9], "C": [0.5, 0.5]})
    assert aggregate_then_rank(tied, True).rank.tolist() == [1, 1, 3]
    assert rank_then_aggregate(tied, True).rank.tolist() == [1, 1, 3]
    # TV-9 has 4 cases: no one-sided Wilcoxon can reach p < 0.05 (min exact p = 1/16), so all tie at rank 1
    result = test_then_rank(TV9, True)
    assert result.rank.tolist() == [1, 1, 1] and result.score.tolist() == [0, 0, 0]


def test_test_then_rank_wins_and_missing_pairs():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.5, 0.7, size=10)
    wide = pd.DataFrame({"weak": base, "best": base + 0.2 + rng.uniform(0, 0.01, 10),
                         "mid": base + 0.1 + rng.uniform(0, 0.01, 10)})
    result = test_then_rank(wide, True)
    assert dict(zip(result.algorithms, result.score)) == {"weak": 0, "best": 2, "mid": 1}
    assert result.order() == ["best", "mid", "weak"]
    # "best" misses 3 cases: its pairs use the 7 cases both have, the weak-mid pair keeps all 10
    wide.loc[[0, 4, 7], "best"] = np.nan
    p = pairwise_pvalues(wide.to_numpy(), True)
    shared = wide["best"].notna()
    assert p[1, 0] == pytest.approx(_scipy_greater((wide["best"] - wide["weak"])[shared].to_numpy()))
    assert p[2, 0] == pytest.approx(_scipy_greater((wide["mid"] - wide["weak"]).to_numpy()))
    assert p[1, 0] == pytest.approx(1 / 2 ** 7)
    board = compute_leaderboard(_long(wide), metrics=["dice"], scheme="test_then_rank", n_bootstrap=0)
    pairs = board.pairwise.set_index(["algorithm", "versus"])["n_pairs"]
    assert pairs[("best", "weak")] == 7 and pairs[("mid", "weak")] == 10


@pytest.mark.parametrize("n_cases,present_ranks", [(5, [1, 2]), (4, [1, 1])])
def test_test_then_rank_puts_an_algorithm_without_results_last(n_cases, present_ranks):
    # 5 cases: A beats B on every case (p = 1/32) and C, absent, used to tie with B for 2nd (no common case, p = 1);
    # 4 cases: no win is possible (min p = 1/16), and C used to share rank 1.
    a = np.array([0.90, 0.80, 0.85, 0.70, 0.75])[:n_cases]
    wide = pd.DataFrame({"A": a, "B": a - 0.1, "C": np.nan})
    expected = {"A": present_ranks[0], "B": present_ranks[1], "C": 3}
    for missing_value in (None, 0.0):
        result = test_then_rank(wide, True, missing_value=missing_value)
        assert dict(zip(result.algorithms, result.rank)) == expected, missing_value
    # in a task where C has results (so it is one of the leaderboard's algorithms), and in every bootstrap draw
    other = pd.DataFrame({"A": [0.5, 0.6], "B": [0.5, 0.6], "C": [0.5, 0.6]})
    table = pd.concat([_long(wide, task="t"), _long(other, task="u")])
    board = compute_leaderboard(table, metrics=["dice"], scheme="test_then_rank", n_bootstrap=40)
    ranks = board.metric_ranks.query("task == 't'").set_index("algorithm")["rank"].to_dict()
    assert ranks == expected
    assert board.fill_values[("t", "dice")] == 0.0
    draws = board.stability.ranks["t"]
    assert np.all(draws[:, board.algorithms.index("C")] == 3)


def test_test_then_rank_fills_missing_cases_with_the_worst_value():
    # B misses two of the seven cases. Paired over its 5 cases B beats A on 5 of 5 (p = 1/32); with the missing cases
    # at the worst value (0) A wins those two, and B's win is no longer significant.
    a = np.array([0.50, 0.52, 0.54, 0.56, 0.58, 0.60, 0.62])
    wide = pd.DataFrame({"A": a, "B": np.r_[a[:5] + 0.05, np.nan, np.nan]})
    assert test_then_rank(wide, True).score.tolist() == [0, 1]
    assert test_then_rank(wide, True, missing_value=0.0).score.tolist() == [0, 0]
    board = compute_leaderboard(_long(wide), metrics=["dice"], scheme="test_then_rank", n_bootstrap=0)
    assert board.metric_ranks.set_index("algorithm")["score"].to_dict() == {"A": 0, "B": 0}


def test_pairs_without_a_common_case_are_not_tested_and_not_in_the_holm_family(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.uniform(0.5, 0.9, size=(8, 4))
    values[:, 1] = values[:, 0] + 0.05  # B beats A on all 8 cases: p = 1/256
    values[:4, 2] = np.nan  # C and D share no case
    values[4:, 3] = np.nan
    p = pairwise_pvalues(values, True)
    assert np.isnan(p[2, 3]) and np.isnan(p[3, 2])
    finite = np.isfinite(p)
    assert finite.sum() == 12 - 2
    zero = values.copy()
    zero[:, 1] = zero[:, 0]  # common cases, all differences zero: a test without evidence, p = 1
    assert pairwise_pvalues(zero, True)[0, 1] == 1.0
    wide = pd.DataFrame(values, columns=list("ABCD"))
    board = compute_leaderboard(_long(wide), metrics=["dice"], n_bootstrap=0)
    rows = board.pairwise.set_index(["algorithm", "versus"])
    expected = holm(np.where(finite, p, np.nan))  # a family of the 10 tested pairs
    for i, a in enumerate("ABCD"):
        for j, b in enumerate("ABCD"):
            if i != j and finite[i, j]:
                assert rows.loc[(a, b), "p_holm"] == pytest.approx(expected[i, j], rel=1e-12)
    assert rows.loc[("B", "A"), "p_holm"] == pytest.approx(10 / 256)  # × 10, not × 12
    assert rows.loc[("B", "A"), "significant"]
    untested = rows.loc[[("C", "D"), ("D", "C")]]
    assert untested["n_pairs"].tolist() == [0, 0] and not untested["significant"].any()
    assert untested["p_value"].isna().all() and untested["p_holm"].isna().all()
    # the writers keep NaN out of strict JSON (null) and leave the CSV cells empty
    board.write(tmp_path, plots=False)
    pairs = json.loads((tmp_path / "leaderboard.json").read_text())["significance"]["t"]["dice"]
    assert [r["p_value"] for r in pairs if {r["algorithm"], r["versus"]} == {"C", "D"}] == [None, None]
    assert "t,dice,C,D,0,,,False" in (tmp_path / "pairwise.csv").read_text().splitlines()


def test_missing_distance_counts_as_worst_observed_value_or_the_given_one():
    wide = pd.DataFrame({"A": [1.0, 2.0, 3.0], "B": [1.5, 2.5, np.nan], "C": [4.0, 9.0, 2.0]})
    board = compute_leaderboard(_long(wide, "bahd"), metrics=["bahd"], n_bootstrap=0)
    assert board.fill_values[("t", "bahd")] == 9.0  # the largest bAHD any algorithm has in the task
    assert board.metric_ranks.set_index("algorithm")["score"]["B"] == pytest.approx((1.5 + 2.5 + 9.0) / 3)
    board = compute_leaderboard(_long(wide, "bahd"), metrics=["bahd"], n_bootstrap=0,
                                missing_values={"bahd": 0.5})
    assert board.order()[0] == "B"
    assert board.settings()["missing"]["explicit_values"] == {"bahd": 0.5}


def test_direction_bahd_lower_is_better():
    wide = pd.DataFrame({"A": [5.0, 6.0, 7.0], "B": [1.0, 2.0, 3.0], "C": [3.0, 4.0, 5.0]})
    assert not resolve_metric("bahd").higher_is_better and resolve_metric("dice").higher_is_better
    board = compute_leaderboard(_long(wide, "bahd"), metrics=["bahd"], n_bootstrap=0)
    assert board.order() == ["B", "C", "A"]
    # the same numbers as Dice rank the other way round
    board = compute_leaderboard(_long(wide, "dice"), metrics=["dice"], n_bootstrap=0)
    assert board.order() == ["A", "C", "B"]
    for scheme in ("aggregate_median", "rank_then_aggregate"):
        assert rank_task(wide, False, scheme).order() == ["B", "C", "A"]


def test_metric_keys_with_options_take_the_base_direction():
    assert resolve_metric("nsd:tolerance_mm=2").higher_is_better
    assert resolve_metric("nsd:tolerance_mm=2.0").key == "nsd:tolerance_mm=2"
    assert not resolve_metric("hd95:percentile=99").higher_is_better
    assert resolve_metric("dice_slicewise").higher_is_better and resolve_metric("dice_slicewise").name == "dice"
    with pytest.raises(UnknownNameError, match="Did you mean 'bahd'"):
        resolve_metric("bahdd")


def test_combined_ranking_over_two_metrics():
    dice = pd.DataFrame({"A": [0.9, 0.8], "B": [0.7, 0.6], "C": [0.8, 0.7]})
    bahd = pd.DataFrame({"A": [3.0, 3.0], "B": [1.0, 1.0], "C": [2.0, 2.0]})
    table = pd.concat([_long(dice, "dice"), _long(bahd, "bahd"), _long(dice, "dice", "u"), _long(dice, "bahd", "u")])
    board = compute_leaderboard(table, n_bootstrap=0)  # default: Dice + bAHD
    assert [m.key for m in board.metrics] == ["dice", "bahd"]
    overall = board.overall.set_index("algorithm")
    # task t: dice A1 C2 B3, bahd B1 C2 A3; task u: dice A1 C2 B3, "bahd" (Dice numbers, lower better) B1 C2 A3
    assert overall["rank_score"].to_dict() == {"A": 2.0, "B": 2.0, "C": 2.0}
    assert overall["rank"].tolist() == [1, 1, 1]
    assert overall["dice_rank"].to_dict() == {"A": 1, "B": 3, "C": 2}


# --- statistics against scipy and hand examples -----------------------------------------------------------------

@pytest.mark.parametrize("n", [4, 7, 9, 20, 60])
@pytest.mark.parametrize("kind", ["continuous", "ties", "zeros"])
def test_wilcoxon_matches_scipy(n, kind):
    rng = np.random.default_rng(n)
    d = rng.normal(0.3, 1.0, size=(6, n))
    if kind == "ties":
        d = np.round(d * 2) / 2 + 0.25
    elif kind == "zeros":
        d[rng.random(d.shape) < 0.25] = 0.0
    d[0] = np.abs(d[0])  # one clearly significant row
    expected = np.array([_scipy_greater(row) for row in d])
    np.testing.assert_allclose(wilcoxon_greater(d), expected, rtol=1e-9, atol=1e-12)
    greater, less = wilcoxon_one_sided(d)
    np.testing.assert_allclose(less, [_scipy_greater(-row) for row in d], rtol=1e-9, atol=1e-12)
    # NaN = no pair: a row with NaNs equals the row without them
    padded = np.concatenate([d, np.full((6, 3), np.nan)], axis=1)
    np.testing.assert_allclose(wilcoxon_greater(padded), greater, rtol=1e-12)


def test_wilcoxon_without_nonzero_difference_is_one():
    assert wilcoxon_greater(np.zeros(20)) == 1.0 and wilcoxon_greater(np.zeros(3)) == 1.0
    assert wilcoxon_greater(np.array([np.nan, np.nan])) == 1.0


def test_significance_map_against_scipy():
    rng = np.random.default_rng(11)
    values = np.round(rng.uniform(0.5, 0.95, size=(9, 4)), 2)
    values[:, 3] = np.minimum(values[:, 0] + 0.05, 1.0)
    values[2, 1] = values[2, 0]  # a zero difference
    for higher in (True, False):
        wide = pd.DataFrame(values, columns=list("ABCD"))
        board = compute_leaderboard(_long(wide, "dice" if higher else "bahd"), metrics=["dice" if higher else "bahd"],
                                    n_bootstrap=0)
        rows = board.pairwise.set_index(["algorithm", "versus"])
        expected = np.full((4, 4), np.nan)
        for i, a in enumerate("ABCD"):
            for j, b in enumerate("ABCD"):
                if i != j:
                    d = values[:, i] - values[:, j] if higher else values[:, j] - values[:, i]
                    expected[i, j] = _scipy_greater(d)
                    assert rows.loc[(a, b), "p_value"] == pytest.approx(expected[i, j], rel=1e-9)
        adjusted = holm(expected)
        for i, a in enumerate("ABCD"):
            for j, b in enumerate("ABCD"):
                if i != j:
                    assert rows.loc[(a, b), "p_holm"] == pytest.approx(adjusted[i, j], rel=1e-9)
                    assert rows.loc[(a, b), "significant"] == (adjusted[i, j] < 0.05)
    assert board.pairwise["significant"].any()  # D beats A on every case: p = 1/512, Holm ×12 < 0.05


def test_holm_hand_example():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1, monotone
    out = holm([[np.nan, 0.01], [0.02, np.nan]])
    assert np.isnan(out[0, 0]) and np.isnan(out[1, 1])
    np.testing.assert_allclose([out[0, 1], out[1, 0]], [0.02, 0.02])


def test_kendall_rows_match_scipy():
    rng = np.random.default_rng(5)
    reference = np.array([1.0, 2.0, 2.0, 4.0, 5.0])
    ranks = rng.integers(1, 6, size=(300, 5)).astype(float)
    ranks[0] = 3.0  # constant: undefined
    fast = kendall_tau_rows(ranks, reference)
    slow = np.array([scipy.stats.kendalltau(r, reference).statistic for r in ranks])
    np.testing.assert_allclose(fast, slow, rtol=1e-12, equal_nan=True)
    assert np.isnan(fast[0])


# --- bootstrap -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return example_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def board(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("board")
    return build_leaderboard(runs, out, n_bootstrap=200, seed=0)


def test_bootstrap_is_deterministic_with_a_seed(runs):
    data = read_inputs(runs)
    first = compute_leaderboard(data, n_bootstrap=1000, seed=7)
    again = compute_leaderboard(data, n_bootstrap=1000, seed=7)
    other = compute_leaderboard(data, n_bootstrap=1000, seed=8)
    for scope in first.stability.scopes:
        np.testing.assert_array_equal(first.stability.ranks[scope], again.stability.ranks[scope])
        np.testing.assert_array_equal(first.stability.tau[scope], again.stability.tau[scope])
    pd.testing.assert_frame_equal(first.statistics, again.statistics)
    assert any(not np.array_equal(first.stability.ranks[s], other.stability.ranks[s]) for s in first.stability.scopes)
    assert first.stability.ranks["overall"].shape == (1000, 4)
    summary = first.stability.rank_summary()
    assert (summary["rank_q025"] <= summary["median_rank"]).all()
    assert (summary["median_rank"] <= summary["rank_q975"]).all()
    taus = first.stability.tau_summary().set_index("scope")
    assert -1 <= taus.loc["overall", "tau_q025"] <= taus.loc["overall", "median"] <= 1


def test_bootstrap_of_each_scheme_reproduces_the_full_ranking_on_the_identity_draw(runs):
    from medmix.leaderboard.ranking import mean_rank, scheme_scores
    from medmix.leaderboard.stability import MetricTable, bootstrap_stability

    data = read_inputs(runs)
    for scheme in ("aggregate_mean", "aggregate_median", "rank_then_aggregate", "test_then_rank"):
        board = compute_leaderboard(data, scheme=scheme, n_bootstrap=0)
        for task in board.tasks:
            ranks = []
            for m in board.metrics:
                values = board.values[(task, m.key)].to_numpy(dtype=float)
                batch = np.stack([values, values])  # the vectorised path on two identical "draws"
                _, r = scheme_scores(batch, m.higher_is_better, scheme, missing_value=board.fill_values[(task, m.key)])
                expected = board.metric_ranks.query("task == @task and metric == @m.key")["rank"].to_numpy()
                np.testing.assert_array_equal(r[0], expected)
                np.testing.assert_array_equal(r[1], expected)
                ranks.append(r[0])
            np.testing.assert_array_equal(mean_rank(np.stack(ranks))[1],
                                          board.task_ranks.query("task == @task")["rank"].to_numpy())
        tables = {t: {m.key: MetricTable(board.values[(t, m.key)].to_numpy(dtype=float), m.higher_is_better,
                                         board.fill_values[(t, m.key)]) for m in board.metrics}
                  for t in board.tasks}
        full = {t: board.task_ranks.query("task == @t")["rank"].to_numpy(float) for t in board.tasks}
        full["overall"] = board.overall["rank"].to_numpy(float)
        stability = bootstrap_stability(tables, board.algorithms, scheme, full_ranks=full, n_bootstrap=50, seed=1)
        assert stability.ranks["overall"].shape == (50, 4)


# --- custom metric -------------------------------------------------------------------------------------------------

def test_custom_registered_metric_ranks_by_its_direction():
    import medmix
    from medmix.metrics.registry import METRICS

    @medmix.metric("lb_test_volume_error_ml", higher_is_better=False, units="ml")
    def volume_error(pred, gt, spacing=None):
        return float(abs(int(pred.sum()) - int(gt.sum())))

    @medmix.metric("lb_test_agreement", higher_is_better=True)
    def agreement(pred, gt, spacing=None):
        return float((pred == gt).mean())

    try:
        wide = pd.DataFrame({"A": [5.0, 6.0, 2.0], "B": [1.0, 2.0, 3.0], "C": [9.0, np.nan, 8.0]})
        table = pd.concat([_long(wide, "lb_test_volume_error_ml"), _long(wide, "lb_test_agreement")])
        board = compute_leaderboard(table, metrics=["lb_test_volume_error_ml"], n_bootstrap=0)
        assert board.order() == ["B", "A", "C"]
        assert board.fill_values[("t", "lb_test_volume_error_ml")] == 9.0  # worst observed (lower is better)
        board = compute_leaderboard(table, metrics=["lb_test_agreement"], n_bootstrap=0)
        # C: (9 + 1 + 8) / 3, its missing case counted as the smallest value observed, 1
        assert board.order() == ["C", "A", "B"]
        assert board.fill_values[("t", "lb_test_agreement")] == 1.0
    finally:
        METRICS.remove("lb_test_volume_error_ml")
        METRICS.remove("lb_test_agreement")


# --- inputs --------------------------------------------------------------------------------------------------------

def test_run_folders_names_slicewise_and_subgroups(runs):
    data = read_inputs(runs)
    assert data.algorithms == ["sam_vit_b", "medsam", "medicosam", "medsamix_merged"]
    assert {"dice", "bahd", "hd95", "iou", "dice_slicewise", "iou_slicewise"} <= set(data.table["metric"])
    cases = pd.read_csv(runs[0] / "cases.csv", dtype={"slice": str, "case": str})
    rows = cases[(cases["task"] == "flare22_liver") & (cases["case"] == "case_001") & (cases["metric"] == "dice")]
    slicewise = data.table.query("algorithm == 'sam_vit_b' and task == 'flare22_liver' and case == 'case_001' "
                                 "and metric == 'dice_slicewise'")["value"]
    assert slicewise.item() == pytest.approx(rows[rows["slice"] != "volume"]["value"].mean())
    # 2D task: no slice rows, the slice-wise value is the (2D) volumetric one
    fundus = data.table.query("algorithm == 'medsam' and task == 'fundus_optic_cup' and case == 'case_000'")
    values = fundus.set_index("metric")["value"]
    assert values["dice_slicewise"] == values["dice"]
    groups = data.subgroups[data.subgroups["task"] == "kits_kidney_tumour"]
    assert set(groups["variable"]) == {"reference size-only cT", "reference greatest dimension"}
    assert [s.as_dict()["model"]["adapter"] for s in data.sources] == ["sam", "medsam", "medicosam", "merged"]
    assert read_inputs(runs, names=["a", "b", "c", "d"]).algorithms == ["a", "b", "c", "d"]
    with pytest.raises(InputError, match="one name per run folder"):
        read_inputs(runs, names=["a"])
    with pytest.raises(InputError, match="used twice"):
        read_inputs(runs[:2], names=["a", "a"])


def test_equal_folder_names_are_made_unique(runs, tmp_path):
    import shutil

    copies = []
    for i, run in enumerate([runs[0], runs[1], runs[0]]):
        target = tmp_path / f"group{i}" / "evaluate"
        shutil.copytree(run, target)
        copies.append(target)
    assert read_inputs(copies).algorithms == ["evaluate (sam)", "evaluate (medsam)", "evaluate (sam)-2"]


def test_long_csv_with_run_folders(runs, tmp_path):
    table = read_inputs(runs[:1]).table.query("metric in ['dice', 'bahd']")
    other = table.assign(algorithm="external_model", value=table["value"] * 0.5)
    other.loc[other.index[0], "value"] = np.nan  # an empty value: a missing case, reported
    path = tmp_path / "results.csv"
    other.to_csv(path, index=False)
    data = read_inputs([path, *runs[1:]])
    assert data.algorithms[0] == "external_model" and len(data.algorithms) == 4
    assert any("missing" in w for w in data.warnings)
    board = compute_leaderboard(data, n_bootstrap=0)
    assert board.missing.query("algorithm == 'external_model'")["n_missing"].sum() == 3  # case_003 ×2 + the NaN
    assert [s.kind for s in board.sources] == ["long_csv", "run", "run", "run"]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"task": ["t"], "algorithm": ["a"], "value": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(InputError, match="missing column"):
        read_inputs([bad])
    with pytest.raises(InputError, match="not an evaluation run folder"):
        read_inputs([tmp_path])
    dup = pd.concat([other, other])
    with pytest.raises(InputError, match="repeat"):
        read_inputs([dup])


def test_metric_selection_errors(runs):
    with pytest.raises(InputError, match="not in the inputs"):
        compute_leaderboard(runs, metrics=["hd"], n_bootstrap=0)
    with pytest.raises(UnknownNameError, match="ranking scheme"):
        compute_leaderboard(runs, scheme="aggregate", n_bootstrap=0)
    with pytest.raises(UnknownNameError, match="task"):
        compute_leaderboard(runs, tasks=["liver"], n_bootstrap=0)
    board = compute_leaderboard(runs, metrics=["dice_slicewise"], tasks=["flare22_liver"], n_bootstrap=0)
    assert board.tasks == ["flare22_liver"] and [m.key for m in board.metrics] == ["dice_slicewise"]
    only_dice = read_inputs(runs).table.query("metric == 'dice'")
    board = build_leaderboard(only_dice, n_bootstrap=0)  # default Dice + bAHD: bAHD absent → skipped, noted
    assert [m.key for m in board.metrics] == ["dice"] and any("bahd" in w for w in board.warnings)


# --- outputs -------------------------------------------------------------------------------------------------------

def test_output_files(board):
    out = board.files[0].parent
    names = {p.relative_to(out).as_posix() for p in board.files}
    tasks = ["flare22_liver", "promise12_prostate", "kits_kidney_tumour", "fundus_optic_cup"]
    per_task = {f"{kind}_{t}.png" for kind in ("podium", "dotbox", "rank_counts") for t in tasks}
    across = {f"{n}.png" for n in ("bootstrap_ranks", "blob_dice", "blob_bahd", "rank_heatmap", "significance_map",
                                   "stacked_frequency", "kendall_tau_violin", "ranks_by_scheme", "task_dendrogram")}
    tables = {"leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.html", "statistics.csv",
              "pairwise.csv", "stability.csv", "missing.csv", "subgroups.csv", "consensus.csv"}
    grand_challenge = {f"metrics/{a}/metrics.json" for a in board.algorithms}
    assert names == per_task | across | tables | grand_challenge
    for png in per_task | across:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / png).stat().st_size > 10_000, png

    doc = json.loads((out / "leaderboard.json").read_text())
    agg = doc["results"]["medsamix_merged"]["aggregates"]
    assert set(agg) == {"dice", "bahd"} and {"mean", "std", "median", "n"} <= set(agg["dice"])
    dice = board.values[("flare22_liver", "dice")]["medsamix_merged"]
    assert doc["results"]["medsamix_merged"]["tasks"]["flare22_liver"]["aggregates"]["dice"]["mean"] == \
        pytest.approx(dice.mean(), rel=1e-5)
    assert doc["results"]["medsamix_merged"]["tasks"]["flare22_liver"]["aggregates"]["dice"]["std"] == \
        pytest.approx(dice.std(ddof=1), rel=1e-5)
    assert [r["algorithm"] for r in doc["ranking"]] == board.order()
    assert doc["settings"]["scheme"] == "aggregate_mean" and doc["settings"]["n_bootstrap"] == 200
    assert doc["missing"][0]["cases"] == ["case_003"]
    assert "/" not in json.dumps(doc["sources"])  # no absolute paths

    md = (out / "leaderboard.md").read_text()
    assert md.count("## Task: ") == 4 and "## Overall ranking" in md and "| Rank | Algorithm | Rank score |" in md
    assert "![Significance map](significance_map.png)" in md

    csv = pd.read_csv(out / "leaderboard.csv")
    assert list(csv.query("scope == 'overall'")["algorithm"]) == board.order()
    assert len(csv) == 4 + 4 * 4

    page = (out / "leaderboard.html").read_text()
    assert "<script src" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert page.count('<table class="sortable"') >= 7 and page.count("data:image/png;base64,") == len(per_task | across)


def test_written_files_are_identical_for_the_same_seed(runs, tmp_path):
    a = build_leaderboard(runs, tmp_path / "a", n_bootstrap=100, seed=3, plots=False)
    build_leaderboard(runs, tmp_path / "b", n_bootstrap=100, seed=3, plots=False)
    for path in a.files:
        relative = path.relative_to(tmp_path / "a")
        assert path.read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative


def test_cli(runs, tmp_path):
    import typer
    from typer.testing import CliRunner

    from medmix.cli.leaderboard_cmd import leaderboard

    app = typer.Typer()
    app.command()(leaderboard)

    @app.callback()
    def root() -> None:
        """medmix"""

    runner = CliRunner()
    out = tmp_path / "lb"
    result = runner.invoke(app, ["leaderboard", *map(str, runs), "--out", str(out), "--metric", "dice",
                                 "--metric", "bahd", "--scheme", "rank_then_aggregate", "--bootstrap", "50",
                                 "--no-plots", "--missing-value", "bahd=100"])
    assert result.exit_code == 0, result.output
    assert "medsamix_merged" in result.output and "missing cases: sam_vit_b 1" in result.output
    assert (out / "leaderboard.md").is_file() and not (out / "rank_heatmap.png").exists()
    settings = json.loads((out / "leaderboard.json").read_text())["settings"]
    assert settings["scheme"] == "rank_then_aggregate" and settings["missing"]["explicit_values"] == {"bahd": 100.0}
    result = runner.invoke(app, ["leaderboard", str(runs[0]), "--out", str(out), "--scheme", "test_then_rnk"])
    assert result.exit_code == 2 and "Did you mean" in result.output
    result = runner.invoke(app, ["leaderboard", str(runs[0]), "--out", str(out), "--missing-value", "bahd"])
    assert result.exit_code == 2 and "METRIC=NUMBER" in result.output


def test_metrics_scored_on_different_cases_share_one_bootstrap():
    rng = np.random.default_rng(0)
    rows = [("t", f"c{c}", a, metric, rng.random()) for a in "ABC" for c in range(6)
            for metric in ("dice", "bahd") if metric == "dice" or c < 4]
    table = pd.DataFrame(rows, columns=["task", "case", "algorithm", "metric", "value"])
    for scheme in ("aggregate_mean", "aggregate_median", "rank_then_aggregate", "test_then_rank"):
        board = compute_leaderboard(table, scheme=scheme, n_bootstrap=100)
        assert len(board.missing) == 0  # bAHD's table has 4 cases, Dice's 6: nobody misses anything
        assert board.stability.ranks["t"].shape == (100, 3)
    # a case no algorithm has is ignored, not counted as missing for everyone
    values = np.array([[0.9, 0.5], [np.nan, np.nan], [0.7, 0.6]])
    for scheme in ("aggregate_mean", "aggregate_median", "rank_then_aggregate"):
        score, rank = rank_task(values, True, scheme).score, rank_task(values, True, scheme).rank
        expected = rank_task(values[[0, 2]], True, scheme)
        np.testing.assert_allclose(score, expected.score)
        np.testing.assert_array_equal(rank, expected.rank)


def test_a_run_given_twice_is_refused_and_a_copy_is_flagged(tmp_path):
    import shutil

    runs = example_runs(tmp_path / "runs")
    with pytest.raises(InputError, match="given twice"):
        read_inputs([runs[0], runs[1], str(runs[0]) + "/"])
    copy = tmp_path / "copy"
    shutil.copytree(runs[0], copy)
    (runs[0] / "run.json").write_text(json.dumps({"fingerprint": "same"}))
    (copy / "run.json").write_text(json.dumps({"fingerprint": "same"}))
    data = read_inputs([runs[0], copy])
    assert any("hold the same evaluation" in w for w in data.warnings)

"""Side-by-side with challengeR: the inputs its R script needs and the comparison of its numbers with medmix's.

`bench/challenger_side_by_side.py` writes the inputs, runs `scripts/challenger_side_by_side.R` (challengeR 1.0.5)
and compares; the test suite compares against challengeR outputs recorded that way (tests/data/challenger/),
so no test needs R. Compared per task × metric: the ranks of the four schemes, rank-then-aggregate's mean case
ranks, every pairwise one-sided Wilcoxon p-value (over the values as they are, and with missing cases filled as
test-then-rank fills them) and its Holm adjustment; across rankings (per scheme): the euclidean consensus score,
the overall rank against the rank of that score, and the Borda consensus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medmix.leaderboard.ranking import SCHEMES, average_ties, fill_missing, pairwise_pvalues, rank_scores
from medmix.leaderboard.stats import holm


DATASETS = ("example", "synthetic", "edge")
METRICS = ("dice", "bahd")


def dataset_inputs(name: str, scratch: Path):
    """Leaderboard inputs of a side-by-side dataset: "example" (the repository's leaderboards/inputs run folders),
    "synthetic" (`example_runs(seed=0)` written under `scratch`), "edge" (`edge_table()`)."""
    if name == "example":
        return sorted(p for p in (Path(__file__).resolve().parents[2] / "leaderboards" / "inputs").iterdir()
                      if p.is_dir())
    if name == "edge":
        return edge_table()
    if name != "synthetic":
        from medmix.errors import UnknownNameError

        raise UnknownNameError("side-by-side dataset", name, DATASETS)
    from medmix.leaderboard.example import example_runs

    return example_runs(Path(scratch) / "synthetic_runs", seed=0)


def scheme_boards(inputs, compat: str) -> dict:
    """scheme → leaderboard (Dice + bAHD, no bootstrap) of `inputs` under `compat`: what the comparison needs."""
    from medmix.leaderboard import compute_leaderboard

    return {scheme: compute_leaderboard(inputs, metrics=METRICS, scheme=scheme, n_bootstrap=0, compat=compat)
            for scheme in SCHEMES}


def write_challenger_inputs(board, folder: Path) -> tuple[Path, Path]:
    """long.csv (task, case, algorithm, metric, value; missing cases absent) and fills.csv (task, metric, fill,
    higher_is_better) of a computed leaderboard, for the R script."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows, fills = [], []
    for (task, metric), wide in board.values.items():
        info = next(m for m in board.metrics if m.key == metric)
        for case, row in wide.iterrows():
            for algorithm, value in row.items():
                if np.isfinite(value):
                    rows.append((task, str(case), algorithm, metric, repr(float(value))))
        fills.append((task, metric, repr(float(board.fill_values[(task, metric)])),
                      "TRUE" if info.higher_is_better else "FALSE"))
    long_csv, fills_csv = folder / "long.csv", folder / "fills.csv"
    pd.DataFrame(rows, columns=["task", "case", "algorithm", "metric", "value"]).to_csv(long_csv, index=False)
    pd.DataFrame(fills, columns=["task", "metric", "fill", "higher_is_better"]).to_csv(fills_csv, index=False)
    return long_csv, fills_csv


def compare_to_challenger(boards: dict[str, object], challenger: dict) -> pd.DataFrame:
    """One row per compared quantity: what, scheme, task, metric, algorithm(s), medmix, challenger, equal.

    boards: scheme → Leaderboard computed with that scheme (same inputs and compat). challenger: the R script's
    JSON. Ranks compare exactly; scores and p-values to 1e-9 (R's NaN p for an all-zero pair counts as 1)."""
    rows = []
    any_board = next(iter(boards.values()))
    for entry in challenger["rankings"]:
        task, metric = entry["task"], entry["metric"]
        for scheme in SCHEMES:
            board = boards[scheme]
            ranks = board.metric_ranks[(board.metric_ranks["task"] == task) & (board.metric_ranks["metric"] == metric)]
            ours = dict(zip(ranks["algorithm"], ranks["rank"]))
            scores = dict(zip(ranks["algorithm"], ranks["score"]))
            for algorithm, rank in entry["schemes"][scheme]["rank"].items():
                rows.append(_row("rank", scheme, task, metric, algorithm, ours[algorithm], rank, exact=True))
            if scheme == "rank_then_aggregate":
                for algorithm, score in entry["schemes"][scheme]["score"].items():
                    rows.append(_row("mean case rank", scheme, task, metric, algorithm, scores[algorithm], score))
        wide = any_board.values[(task, metric)]
        info = next(m for m in any_board.metrics if m.key == metric)
        algorithms = list(wide.columns)
        observed = wide.to_numpy(dtype=float)
        filled = fill_missing(observed, any_board.fill_values[(task, metric)])
        for label, values in (("p (observed)", observed), ("p (filled)", filled)):
            p = pairwise_pvalues(values, info.higher_is_better, wilcoxon=any_board.conventions.wilcoxon)
            adjusted = holm(p)
            key = "pairwise_observed" if label == "p (observed)" else "pairwise_filled"
            for pair in entry[key]:
                i, j = algorithms.index(pair["algorithm"]), algorithms.index(pair["versus"])
                name = f"{pair['algorithm']} > {pair['versus']}"
                rows.append(_row(label, "", task, metric, name, p[i, j], _p(pair["p"])))
                rows.append(_row(label.replace("p ", "p Holm "), "", task, metric, name, adjusted[i, j],
                                 _p(pair["p_holm"])))
    for scheme, methods in challenger.get("consensus", {}).items():
        board = boards[scheme]
        table = board.consensus
        euclidean = methods.get("euclidean", {})
        for algorithm, value in euclidean.items():
            ours = table[(table["method"] == "euclidean") & (table["algorithm"] == algorithm)]["score"].iloc[0]
            rows.append(_row("consensus euclidean", scheme, "", "", algorithm, ours, value))
        if euclidean:  # the overall rank is challengeR's consensus only under compat "challenger"
            names = list(euclidean)
            theirs = rank_scores([euclidean[a] for a in names], higher_is_better=False, tie_decimals=None)
            overall = board.overall.set_index("algorithm")["rank"]
            for algorithm, rank in zip(names, theirs):
                rows.append(_row("overall rank", scheme, "", "", algorithm, overall[algorithm], rank, exact=True))
        if "Borda" in methods:
            borda = table[table["method"] == "borda"].set_index("algorithm")["rank"]
            averaged = dict(zip(borda.index, average_ties(borda.to_numpy(dtype=float))))
            for algorithm, value in methods["Borda"].items():
                rows.append(_row("consensus Borda", scheme, "", "", algorithm, averaged[algorithm], value))
    return pd.DataFrame(rows)


def _p(value):
    missing = value is None or value in ("NaN", "NA") or (isinstance(value, float) and np.isnan(value))
    return 1.0 if missing else float(value)


def _row(what, scheme, task, metric, algorithm, ours, theirs, exact: bool = False) -> dict:
    ours, theirs = float(ours), float(theirs)
    equal = ours == theirs if exact else bool(np.isclose(ours, theirs, rtol=1e-9, atol=1e-12))
    return {"what": what, "scheme": scheme, "task": task, "metric": metric, "algorithm": algorithm,
            "medmix": ours, "challenger": theirs, "equal": equal}


def edge_table(seed: int = 0):
    """Where the conventions differ: 5 algorithms, 3 tasks of 9 cases, Dice and bAHD rounded to 2 decimals (tied
    values, zero differences), cases missing next to ties."""
    rng = np.random.default_rng(seed)
    skill = {"a": 0.78, "b": 0.74, "c": 0.74, "d": 0.70, "e": 0.66}
    rows = []
    for t in range(3):
        difficulty = rng.normal(0, 0.05, 9)
        for c in range(9):
            for algo, level in skill.items():
                dice = float(np.clip(np.round(level + difficulty[c] + rng.normal(0, 0.03), 2), 0, 1))
                rows.append((f"task_{t}", f"case_{c}", algo, "dice", dice))
                rows.append((f"task_{t}", f"case_{c}", algo, "bahd", float(np.round(20 * (1 - dice) ** 1.5, 1))))
    table = pd.DataFrame(rows, columns=["task", "case", "algorithm", "metric", "value"])
    # a tie for last place next to each missing case: there challengeR's missing rank (highest present rank + 1)
    # is better than medmix's (number present + 1)
    for task, case in (("task_0", "case_1"), ("task_1", "case_2"), ("task_1", "case_5")):
        for metric, worst in (("dice", min), ("bahd", max)):
            here = (table["task"] == task) & (table["case"] == case) & (table["metric"] == metric)
            table.loc[here & table["algorithm"].isin(["c", "d"]), "value"] = worst(table.loc[here, "value"])
    drop = ((table["task"] == "task_0") & (table["case"] == "case_1") & (table["algorithm"] == "e")) | \
           ((table["task"] == "task_1") & (table["case"].isin(["case_2", "case_5"])) & (table["algorithm"] == "b"))
    return table[~drop].reset_index(drop=True)

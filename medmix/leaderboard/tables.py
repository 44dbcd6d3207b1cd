"""leaderboard.csv and leaderboard.json (grand-challenge-like aggregates) from a `Leaderboard`, and the rounded CSV
writer every table uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.leaderboard.ranking import SCHEMES
from medmix.leaderboard.stability import OVERALL
from medmix.leaderboard.blocks import _stab, r6

# --- CSV / JSON ----------------------------------------------------------------------------------------------------

def _round_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = [r6(v) for v in frame[col]]
    return frame


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    from medmix.atomic import atomic_save

    rounded = _round_frame(frame)
    return atomic_save(path, lambda p: rounded.to_csv(p, index=False, lineterminator="\n"))


def leaderboard_table(board) -> pd.DataFrame:
    """leaderboard.csv: overall rows, then one row per task × algorithm, best first within each scope."""
    rows = []
    stab = {scope: _stab(board, scope) for scope in [OVERALL, *board.tasks]}
    overall = board.overall.set_index("algorithm")
    consensus, costs = _euclidean(board), board.costs()
    for algo in board.order():
        o = overall.loc[algo]
        row: dict[str, Any] = {"scope": OVERALL, "task": "", "rank": int(o["rank"]), "algorithm": algo,
                               "rank_score": float(o["rank_score"]), "consensus_score": float(consensus[algo])}
        for m in board.metrics:
            row.update({f"{m.key}_rank": int(o[f"{m.key}_rank"]), f"{m.key}_score": float(o[f"{m.key}_mean_rank"]),
                        f"{m.key}_mean": float(o[f"{m.key}_mean_over_tasks"])})
        row.update(_stab_columns(stab[OVERALL].get(algo)))
        cost = costs.get(algo) or {}
        row.update({"parameters": cost.get("parameters"), "ms_per_slice": cost.get("ms_per_slice"),
                    "peak_memory_mb": cost.get("peak_memory_mb")})
        rows.append(row)
    stats = board.statistics.set_index(["task", "metric", "algorithm"])
    ranks = board.metric_ranks.set_index(["task", "metric", "algorithm"])
    task_ranks = board.task_ranks.set_index(["task", "algorithm"])
    for task in board.tasks:
        for algo in board.task_order(task):
            t = task_ranks.loc[(task, algo)]
            row = {"scope": "task", "task": task, "rank": int(t["rank"]), "algorithm": algo,
                   "rank_score": float(t["rank_score"])}
            for m in board.metrics:
                if (task, m.key, algo) not in ranks.index:
                    continue
                r, s = ranks.loc[(task, m.key, algo)], stats.loc[(task, m.key, algo)]
                row.update({f"{m.key}_rank": int(r["rank"]), f"{m.key}_score": float(r["score"]),
                            f"{m.key}_mean": float(s["mean"]), f"{m.key}_sd": float(s["sd"]),
                            f"{m.key}_median": float(s["median"]), f"{m.key}_q25": float(s["q25"]),
                            f"{m.key}_q75": float(s["q75"]), f"{m.key}_ci_low": float(s["ci_low"]),
                            f"{m.key}_ci_high": float(s["ci_high"]), f"{m.key}_n": int(s["n"]),
                            f"{m.key}_n_missing": int(s["n_missing"])})
            row.update(_stab_columns(stab[task].get(algo)))
            rows.append(row)
    columns = ["scope", "task", "rank", "algorithm", "rank_score", "consensus_score"]
    for m in board.metrics:
        columns += [f"{m.key}_{c}" for c in ("rank", "score", "mean", "sd", "median", "q25", "q75", "ci_low",
                                             "ci_high", "n", "n_missing")]
    columns += ["bootstrap_median_rank", "bootstrap_rank_q025", "bootstrap_rank_q975"]
    if costs:
        columns += ["parameters", "ms_per_slice", "peak_memory_mb"]
    frame = pd.DataFrame(rows).reindex(columns=columns)
    for col in frame.columns:  # integer columns with gaps (overall rows) stay integers in the CSV
        if (col.endswith(("_rank", "_n", "_n_missing")) and col != "rank_score" and not col.startswith("bootstrap")) \
                or col == "parameters":
            frame[col] = frame[col].astype("Int64")
    frame["rank"] = frame["rank"].astype(int)
    return frame


def _euclidean(board):
    table = board.consensus
    return table[table["method"] == "euclidean"].set_index("algorithm")["score"]


def _stab_columns(s) -> dict[str, float]:
    if not s:
        return {}
    return {"bootstrap_median_rank": s["median_rank"], "bootstrap_rank_q025": s["rank_q025"],
            "bootstrap_rank_q975": s["rank_q975"]}


def _aggregates(values: np.ndarray) -> dict[str, Any]:
    from medmix.leaderboard.stats import describe

    d = describe(values)
    return {"mean": r6(d["mean"]), "std": r6(d["sd"]), "median": r6(d["median"]), "q25": r6(d["q25"]),
            "q75": r6(d["q75"]), "n": d["n"]}


def to_json_dict(board) -> dict[str, Any]:
    """leaderboard.json: settings, the ranking, per-algorithm grand-challenge-style `aggregates.<metric>.mean/std`
    (pooled over every case of every task; `tasks.<task>.aggregates` per task), significance, stability."""
    stab = {scope: _stab(board, scope) for scope in [OVERALL, *board.tasks]}
    consensus = _euclidean(board)
    overall = board.overall.set_index("algorithm")
    ranking = []
    for algo in board.order():
        o = overall.loc[algo]
        entry: dict[str, Any] = {"rank": int(o["rank"]), "algorithm": algo, "rank_score": r6(o["rank_score"]),
                                 "consensus_score": r6(consensus[algo]),
                                 "metrics": {m.key: {"rank": int(o[f"{m.key}_rank"]),
                                                     "mean_rank": r6(o[f"{m.key}_mean_rank"]),
                                                     "mean_over_tasks": r6(o[f"{m.key}_mean_over_tasks"])}
                                             for m in board.metrics}}
        if stab[OVERALL]:
            s = stab[OVERALL][algo]
            entry["bootstrap"] = {"median_rank": r6(s["median_rank"]), "rank_q025": r6(s["rank_q025"]),
                                  "rank_q975": r6(s["rank_q975"]), "share_best": r6(s["share_best"])}
        ranking.append(entry)

    stats = board.statistics.set_index(["task", "metric", "algorithm"])
    ranks = board.metric_ranks.set_index(["task", "metric", "algorithm"])
    task_ranks = board.task_ranks.set_index(["task", "algorithm"])
    results = {}
    for algo in board.algorithms:
        pooled = {}
        for m in board.metrics:
            columns = [w[algo].to_numpy(dtype=float) for (t, k), w in board.values.items() if k == m.key]
            agg = _aggregates(np.concatenate(columns))
            agg["n_missing"] = int(sum(np.isnan(c).sum() for c in columns))
            agg["mean_over_tasks"] = r6(overall.loc[algo, f"{m.key}_mean_over_tasks"])
            pooled[m.key] = agg
        tasks = {}
        for task in board.tasks:
            per_metric = {}
            for m in board.metrics:
                if (task, m.key, algo) not in stats.index:
                    continue
                s, r = stats.loc[(task, m.key, algo)], ranks.loc[(task, m.key, algo)]
                per_metric[m.key] = {"mean": r6(s["mean"]), "std": r6(s["sd"]), "median": r6(s["median"]),
                                     "q25": r6(s["q25"]), "q75": r6(s["q75"]), "ci_low": r6(s["ci_low"]),
                                     "ci_high": r6(s["ci_high"]), "n": int(s["n"]), "n_missing": int(s["n_missing"]),
                                     "rank": int(r["rank"]), "score": r6(r["score"])}
            t = task_ranks.loc[(task, algo)]
            entry = {"rank": int(t["rank"]), "rank_score": r6(t["rank_score"]), "aggregates": per_metric}
            if stab[task]:
                s = stab[task][algo]
                entry["bootstrap"] = {"median_rank": r6(s["median_rank"]), "rank_q025": r6(s["rank_q025"]),
                                      "rank_q975": r6(s["rank_q975"])}
            tasks[task] = entry
        results[algo] = {"aggregates": pooled, "tasks": tasks}

    significance = {}
    for task in board.tasks:
        part = board.pairwise[board.pairwise["task"] == task]
        significance[task] = {
            k: [{"algorithm": r["algorithm"], "versus": r["versus"], "n_pairs": int(r["n_pairs"]),
                 "p_value": r6(r["p_value"]), "p_holm": r6(r["p_holm"]), "significant": bool(r["significant"])}
                for r in rows.to_dict("records")]
            for k, rows in part.groupby("metric", sort=False)}

    out: dict[str, Any] = {
        "generator": "medmix leaderboard",
        "settings": board.settings(),
        "algorithms": list(board.algorithms),
        "tasks": {task: {"n_cases": {k: len(w) for (t, k), w in board.values.items() if t == task},
                         "ranking": board.task_order(task)} for task in board.tasks},
        "ranking": ranking,
        "results": results,
        "significance": significance,
        "schemes": {"ranks": {s: {a: int(r) for a, r in zip(board.schemes["algorithm"], board.schemes[s])}
                              for s in SCHEMES},
                    "kendall_tau_vs_chosen": {s: r6(board.scheme_tau[s]) for s in SCHEMES}},
        "consensus": {method: {r["algorithm"]: {"score": r6(r["score"]),
                                                "rank": None if r["rank"] is None or r["rank"] != r["rank"]
                                                else int(r["rank"])}
                               for r in rows.to_dict("records")}
                      for method, rows in board.consensus.groupby("method", sort=False)},
        "missing": [{"task": r["task"], "metric": r["metric"], "algorithm": r["algorithm"],
                     "n_missing": int(r["n_missing"]), "cases": r["cases"].split(), "fill_value": r6(r["fill_value"])}
                    for r in board.missing.to_dict("records")],
        "sources": [s.as_dict() for s in board.sources],
        "warnings": list(board.warnings),
    }
    if board.stability is not None:
        taus = board.stability.tau_summary()
        out["stability"] = {"n_bootstrap": board.n_bootstrap, "seed": board.seed,
                            "kendall_tau": {r["scope"]: {"n_defined": int(r["n_defined"]), "mean": r6(r["mean"]),
                                                         "median": r6(r["median"]), "q025": r6(r["tau_q025"]),
                                                         "q975": r6(r["tau_q975"])}
                                            for r in taus.to_dict("records")}}
    if len(board.subgroups):
        out["subgroups"] = [{k: (r6(v) if isinstance(v, float) else v) for k, v in r.items()}
                            for r in board.subgroups.to_dict("records")]
    return out

"""The leaderboard as a document model (headings, paragraphs, tables, lists, images) that the Markdown and HTML
renderers share (`medmix.leaderboard.markup`), and the number formatting every output uses (6 significant
digits in CSV / JSON, so files are identical across machines whose floating-point sums differ in the last bits)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medmix.leaderboard.ranking import SCHEME_TITLES, SCHEMES
from medmix.leaderboard.stability import OVERALL


def r6(x) -> float | None:
    """Round to 6 significant digits; None for NaN/inf (JSON null, empty CSV cell)."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.6g}")


def fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    x = float(x)
    if abs(x) >= 1000:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def fmt_rank(x) -> str:
    if x is None or not math.isfinite(float(x)):
        return "–"
    x = float(x)
    return f"{x:.0f}" if x == int(x) else f"{x:.1f}"


def fmt_p(p) -> str:
    """'p = 0.012' or 'p < 0.001'."""
    if p is None or not math.isfinite(float(p)):
        return "p = –"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


# --- document model ------------------------------------------------------------------------------------------------

@dataclass
class Cell:
    text: str
    sort: float | str | None = None  # sort key for HTML (number or text); None → the text


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    numeric: list[bool] = field(default_factory=list)  # right-aligned columns
    css_id: str = ""


@dataclass
class Block:
    kind: str  # "h1", "h2", "h3", "p", "table", "ul", "img"
    content: Any
    anchor: str = ""


def _num(x, digits: int = 3) -> Cell:
    value = None if x is None or not math.isfinite(float(x)) else float(x)
    return Cell(fmt(x, digits), value)


def _rank_cell(x) -> Cell:
    return Cell(fmt_rank(x), None if x is None or not math.isfinite(float(x)) else float(x))


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(filter(None, out.split("-"))) or "section"


def _score_header(board, key: str) -> str:
    return {"aggregate_mean": f"{key} score (mean)", "aggregate_median": f"{key} score (median)",
            "rank_then_aggregate": f"{key} mean case rank",
            "test_then_rank": f"{key} significant wins"}[board.scheme]


def _stab(board, scope: str) -> dict[str, dict[str, float]]:
    if board.stability is None:
        return {}
    summary = board.stability.rank_summary()
    summary = summary[summary["scope"] == scope]
    return {row["algorithm"]: row for row in summary.to_dict("records")}


def _tau_text(board, scope: str) -> str:
    if board.stability is None:
        return ""
    tau = board.stability.tau_summary().set_index("scope").loc[scope]
    if not tau["n_defined"]:
        return "Kendall's τ against the full ranking: undefined (all ranks tied)."
    return (f"Kendall's τ between bootstrap and full ranking: median {tau['median']:.2f} "
            f"(95% of draws in [{tau['tau_q025']:.2f}, {tau['tau_q975']:.2f}]).")


def _figure_blocks(figures, task: str | None) -> list[Block]:
    blocks = []
    for name, title, where in figures:
        if where == task:
            blocks += [Block("h3", title), Block("img", (title, name))]
    return blocks


def _wilcoxon_text(board) -> str:
    if board.conventions.wilcoxon == "normal_cc":
        return "normal approximation with tie and continuity correction, as R's wilcox.test(exact = FALSE)"
    return "scipy's conventions: zero differences dropped, exact null for small samples"


def document(board, *, figures: list[tuple[str, str, str | None]] = ()) -> list[Block]:
    """The leaderboard as blocks, shared by the Markdown and HTML renderers. `figures`: (file name, title, task or
    None for a figure across tasks), shown in each task's section and in "Figures"."""
    blocks: list[Block] = [Block("h1", "medmix leaderboard")]
    metrics_text = ", ".join(f"{m.key} ({m.direction})" for m in board.metrics)
    n_cases = sum(len(w) for (t, k), w in board.values.items() if k == board.metrics[0].key)
    intro = (f"{len(board.algorithms)} algorithms · {len(board.tasks)} tasks · {n_cases} cases · metrics: "
             f"{metrics_text} · scheme: {SCHEME_TITLES[board.scheme]} · ties share the best rank · "
             f"α = {board.alpha:g}")
    if board.stability is not None:
        intro += f" · bootstrap: {board.n_bootstrap} draws, seed {board.seed}"
    if board.conventions.name != "medmix":
        intro += f" · conventions: {board.conventions.name} (--compat)"
    blocks.append(Block("p", intro + "."))
    if board.warnings:
        blocks.append(Block("ul", [f"Note: {w}" for w in board.warnings]))

    # overall
    blocks.append(Block("h2", "Overall ranking", "overall"))
    stab = _stab(board, OVERALL)
    columns = ["Rank", "Algorithm", "Rank score", "Consensus (mean tie-averaged rank)"]
    numeric = [True, False, True, True]
    consensus = board.consensus[board.consensus["method"] == "euclidean"].set_index("algorithm")["score"]
    for m in board.metrics:
        columns += [f"{m.key} mean over tasks ({m.arrow})", f"{m.key} rank"]
        numeric += [True, True]
    if stab:
        columns += ["Bootstrap rank: median [95% interval]", "Rank 1 in draws"]
        numeric += [True, True]
    costs = board.costs()
    if costs:
        columns += ["Parameters", "ms / slice", "Peak memory (MB)"]
        numeric += [True, True, True]
    rows = []
    overall = board.overall.set_index("algorithm")
    for algo in board.order():
        row = overall.loc[algo]
        cells = [_rank_cell(row["rank"]), Cell(algo), _num(row["rank_score"], 2), _num(consensus[algo], 2)]
        for m in board.metrics:
            cells += [_num(row[f"{m.key}_mean_over_tasks"]), _rank_cell(row[f"{m.key}_rank"])]
        if stab:
            s = stab[algo]
            cells += [Cell(f"{fmt_rank(s['median_rank'])} [{fmt_rank(s['rank_q025'])}, {fmt_rank(s['rank_q975'])}]",
                           s["median_rank"]),
                      Cell(f"{100 * s['share_best']:.0f}%", s["share_best"])]
        if costs:
            cells += _cost_cells(costs.get(algo) or {})
        rows.append(cells)
    blocks.append(Block("table", Table(columns, rows, numeric, "overall-table")))
    n_rankings = len(board.values)
    averaged = "tie-averaged " if board.conventions.combine == "mean_average_rank" else ""
    text = (f"Rank score = mean {averaged}rank over the {n_rankings} task × metric rankings (lower is better); each "
            f"metric rank is the {SCHEME_TITLES[board.scheme]} within a task. Consensus = challengeR's consensus "
            "(mean of tie-averaged ranks, ties 1, 1, 3 counted 1.5, 1.5, 3). ")
    if board.stability is not None:
        text += ("Bootstrap: the cases of every task resampled with replacement and the whole leaderboard re-ranked "
                 f"{board.n_bootstrap} times. " + _tau_text(board, OVERALL))
    if costs:
        text += ("Cost: trainable and frozen parameters, prediction milliseconds per slice on the device named, and "
                 "the evaluation process's peak memory (CUDA allocator peak on a GPU, peak resident set on the CPU), "
                 "as each run's summary.json recorded them; timings from different machines do not compare. ")
    blocks.append(Block("p", text.strip()))

    blocks += _consensus_blocks(board)

    # schemes
    blocks.append(Block("h2", "Ranking under each scheme", "schemes"))
    columns = ["Algorithm", *[SCHEME_TITLES[s] for s in SCHEMES]]
    schemes = board.schemes.set_index("algorithm")
    rows = [[Cell(a), *[_rank_cell(schemes.loc[a, s]) for s in SCHEMES]] for a in board.order()]
    blocks.append(Block("table", Table(columns, rows, [False, *[True] * len(SCHEMES)], "schemes-table")))
    taus = ", ".join(f"{s} {board.scheme_tau[s]:.2f}" if math.isfinite(board.scheme_tau[s]) else f"{s} –"
                     for s in SCHEMES if s != board.scheme)
    blocks.append(Block("p", f"Overall ranks (mean rank over tasks and metrics) under every scheme; Kendall's τ "
                             f"against the chosen scheme ({board.scheme}): {taus}."))

    # missing
    blocks.append(Block("h2", "Missing cases", "missing"))
    if len(board.missing):
        rows = [[Cell(r["task"]), Cell(r["metric"]), Cell(r["algorithm"]),
                 Cell(f"{r['n_missing']} of {r['n_cases']}", r["n_missing"]), Cell(_cases_text(r["cases"])),
                 _num(r["fill_value"])]
                for r in board.missing.to_dict("records")]
        blocks.append(Block("table", Table(["Task", "Metric", "Algorithm", "Missing", "Cases",
                                            "Counted as (aggregate-then-rank)"], rows,
                                           [False, False, False, True, False, True], "missing-table")))
    else:
        blocks.append(Block("p", "None: every algorithm has a value for every case."))
    blocks.append(Block("p", "Aggregate-then-rank counts a missing case as the metric's worst value (0 for overlap "
                             "metrics; otherwise the worst value observed for the task and metric, unless set); "
                             "rank-then-aggregate gives it the worst rank (max + 1); test-then-rank compares each "
                             "pair over the cases both have. Statistics describe the cases an algorithm has."))

    # tasks
    for task in board.tasks:
        blocks += _task_blocks(board, task)
        blocks += _figure_blocks(figures, task)

    across = _figure_blocks(figures, None)
    if across:
        blocks.append(Block("h2", "Figures across tasks", "figures"))
        blocks += across

    blocks.append(Block("h2", "Method", "method"))
    blocks.append(Block("ul", [
        "aggregate-then-rank: mean (or median) over cases, then rank; rank-then-aggregate: rank within each case, "
        "mean rank over cases, then rank; test-then-rank: one-sided paired Wilcoxon signed-rank test for every "
        f"ordered pair ({_wilcoxon_text(board)}), rank by the number of wins with "
        f"p {'≤' if board.conventions.win_inclusive else '<'} {board.alpha:g} (no p-value adjustment).",
        "Conventions: " + ("challengeR 1.0.5's (--compat challenger): exact ties, a missing case ranked (highest "
                           "present rank) + 1 in rank-then-aggregate, rankings combined by mean tie-averaged rank."
                           if board.conventions.name == "challenger" else
                           "medmix's: values equal to 10 decimals tie, a missing case ranked (algorithms present) + 1 "
                           "in rank-then-aggregate, rankings combined by mean rank; --compat challenger gives "
                           "challengeR's."),
        "Per task the metric ranks are averaged and re-ranked; overall, the mean rank over all task × metric "
        "rankings is ranked. Ties share the best rank (\"min\").",
        "Statistics per algorithm × task × metric: mean ± SD (ddof 1), median [IQR], 95% percentile-bootstrap CI "
        "of the mean; significance: Holm-adjusted one-sided paired Wilcoxon over all ordered pairs of a task.",
        f"Stability: {board.n_bootstrap} bootstrap draws of the cases (seed {board.seed}), each re-ranked; "
        "median bootstrap rank with its 2.5–97.5% interval and Kendall's τ against the full ranking.",
    ]))
    return blocks


def _cost_cells(cost: dict) -> list[Cell]:
    parameters, ms, memory = cost.get("parameters"), cost.get("ms_per_slice"), cost.get("peak_memory_mb")
    device = cost.get("device") or ""
    return [Cell(f"{parameters:,}" if isinstance(parameters, int) else "–", parameters),
            Cell(f"{ms:.1f} ({device})" if isinstance(ms, (int, float)) else "–", ms),
            Cell(f"{memory:,.0f}" if isinstance(memory, (int, float)) else "–", memory)]


def _consensus_blocks(board) -> list[Block]:
    from medmix.leaderboard.consensus import CONSENSUS_METHODS, CONSENSUS_TITLES, KEMENY_MAX_ALGORITHMS

    table = board.consensus.set_index(["method", "algorithm"])
    blocks = [Block("h2", "Consensus ranking across tasks", "consensus")]
    columns = ["Algorithm", *[f"{CONSENSUS_TITLES[m]}: rank (score)" for m in CONSENSUS_METHODS]]
    rows = []
    for algo in board.order():
        cells = [Cell(algo)]
        for method in CONSENSUS_METHODS:
            score, rank = table.loc[(method, algo), "score"], table.loc[(method, algo), "rank"]
            if not math.isfinite(score):
                cells.append(Cell("–"))
            else:
                cells.append(Cell(f"{fmt_rank(rank)} ({fmt(score, 2)})", float(rank)))
        rows.append(cells)
    blocks.append(Block("table", Table(columns, rows, [False, *[True] * len(CONSENSUS_METHODS)],
                                       "consensus-table")))
    note = (f"Rank aggregation over the {len(board.values)} task × metric rankings of the chosen scheme. Euclidean: "
            "challengeR's consensus(method = \"euclidean\"); Borda: relations' Borda on weak orders (mean worst tied "
            "rank); Copeland: pairwise majority wins − losses (higher is better); Kemeny: the order with the fewest "
            f"pairwise disagreements, exact for up to {KEMENY_MAX_ALGORITHMS} algorithms.")
    blocks.append(Block("p", note))
    return blocks


def _cases_text(cases: str, limit: int = 8) -> str:
    items = cases.split()
    return " ".join(items[:limit]) + (f" … (+{len(items) - limit})" if len(items) > limit else "")


def _task_blocks(board, task: str) -> list[Block]:
    blocks = [Block("h2", f"Task: {task}", f"task-{_slug(task)}")]
    keys = [m.key for m in board.metrics if (task, m.key) in board.values]
    n_cases = max(len(board.values[(task, k)]) for k in keys)
    stats = board.statistics[board.statistics["task"] == task].set_index(["metric", "algorithm"])
    ranks = board.metric_ranks[board.metric_ranks["task"] == task].set_index(["metric", "algorithm"])
    task_ranks = board.task_ranks[board.task_ranks["task"] == task].set_index("algorithm")
    stab = _stab(board, task)
    columns = ["Rank", "Algorithm", "Rank score"]
    numeric = [True, False, True]
    for k in keys:
        columns += [f"{k} rank", _score_header(board, k), f"{k} mean ± SD", f"{k} median [IQR]", f"{k} 95% CI"]
        numeric += [True, True, True, True, True]
    columns += ["Missing"]
    numeric += [True]
    if stab:
        columns += ["Bootstrap rank [95%]"]
        numeric += [True]
    rows = []
    for algo in board.task_order(task):
        cells = [_rank_cell(task_ranks.loc[algo, "rank"]), Cell(algo), _num(task_ranks.loc[algo, "rank_score"], 2)]
        missing = 0
        for k in keys:
            s, r = stats.loc[(k, algo)], ranks.loc[(k, algo)]
            digits = 2 if board.scheme in ("rank_then_aggregate",) else 3
            score = Cell(fmt_rank(r["score"]), float(r["score"])) if board.scheme == "test_then_rank" else \
                _num(r["score"], digits)
            cells += [_rank_cell(r["rank"]), score,
                      Cell(f"{fmt(s['mean'])} ± {fmt(s['sd'])}", _sortable(s["mean"])),
                      Cell(f"{fmt(s['median'])} [{fmt(s['q25'])}, {fmt(s['q75'])}]", _sortable(s["median"])),
                      Cell(f"[{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]", _sortable(s["ci_low"]))]
            missing = max(missing, int(s["n_missing"]))
        cells.append(Cell(str(missing), missing))
        if stab:
            st = stab[algo]
            cells.append(Cell(f"{fmt_rank(st['median_rank'])} [{fmt_rank(st['rank_q025'])}, "
                              f"{fmt_rank(st['rank_q975'])}]", st["median_rank"]))
        rows.append(cells)
    blocks.append(Block("p", f"{n_cases} cases. Rank score = mean of the metric ranks ({', '.join(keys)}). "
                             + _tau_text(board, task)))
    blocks.append(Block("table", Table(columns, rows, numeric, f"table-{_slug(task)}")))

    items = []
    pairwise = board.pairwise[(board.pairwise["task"] == task) & board.pairwise["significant"]]
    for k in keys:
        sig = pairwise[pairwise["metric"] == k].sort_values(["p_holm", "algorithm", "versus"], kind="stable")
        if len(sig):
            text = "; ".join(f"{r['algorithm']} > {r['versus']} ({fmt_p(r['p_holm'])})"
                             for r in sig.to_dict("records"))
        else:
            text = "no significant difference"
        items.append(f"{k}: {text}")
    blocks.append(Block("p", f"Significantly better (one-sided paired Wilcoxon, Holm-adjusted, α = "
                             f"{board.alpha:g}):"))
    blocks.append(Block("ul", items))

    sub = board.subgroups[board.subgroups["task"] == task] if len(board.subgroups) else board.subgroups
    if len(sub):
        algos = board.task_order(task)
        columns = ["Subgroup", "Group", "Cases", *[f"{a}: {k} mean" for a in algos for k in keys]]
        means = sub.set_index(["variable", "group", "algorithm", "metric"])["mean"]
        rows = []
        for (variable, group), part in sub.groupby(["variable", "group"], sort=False):
            rows.append([Cell(variable), Cell(group), Cell(str(int(part["n_cases"].iloc[0])),
                                                           int(part["n_cases"].iloc[0])),
                         *[_num(means.get((variable, group, a, k), np.nan)) for a in algos for k in keys]])
        blocks.append(Block("p", "Subgroups (by the reference's size-only T category and greatest dimension):"))
        blocks.append(Block("table", Table(columns, rows, [False, False, True, *[True] * (len(columns) - 3)],
                                           f"subgroups-{_slug(task)}")))
    return blocks


def _sortable(x):
    return None if x is None or not math.isfinite(float(x)) else float(x)

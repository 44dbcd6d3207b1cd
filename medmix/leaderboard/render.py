"""Render a `Leaderboard`: Markdown, CSV, JSON (grand-challenge-like aggregates) and one self-contained HTML page.

Markdown and HTML are rendered from the same document model (headings, paragraphs, tables, lists, images), so
they say the same thing. The HTML page has inline CSS and JavaScript only (click or press Enter on a column
header to sort; numeric columns sort by the number in `data-sort`) and embeds the PNG plots as data URIs: it
works offline and loads nothing from elsewhere.

Numbers in CSV and JSON are rounded to 6 significant digits, so files are identical across machines whose
floating-point sums differ in the last bits. No timestamps, absolute paths or versions are written: the same
inputs, settings and seed give byte-identical files.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.atomic import atomic_write_text
from medmix.leaderboard.ranking import SCHEME_TITLES, SCHEMES
from medmix.leaderboard.stability import OVERALL

FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.html", "statistics.csv",
         "pairwise.csv", "stability.csv", "missing.csv", "subgroups.csv")


# --- numbers -------------------------------------------------------------------------------------------------------

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


def document(board, *, images: dict[str, str] | None = None) -> list[Block]:
    """The leaderboard as blocks, shared by the Markdown and HTML renderers. `images`: title → PNG file name."""
    blocks: list[Block] = [Block("h1", "medmix leaderboard")]
    metrics_text = ", ".join(f"{m.key} ({m.direction})" for m in board.metrics)
    n_cases = sum(len(w) for (t, k), w in board.values.items() if k == board.metrics[0].key)
    intro = (f"{len(board.algorithms)} algorithms · {len(board.tasks)} tasks · {n_cases} cases · metrics: "
             f"{metrics_text} · scheme: {SCHEME_TITLES[board.scheme]} · ties share the best rank · "
             f"α = {board.alpha:g}")
    if board.stability is not None:
        intro += f" · bootstrap: {board.n_bootstrap} draws, seed {board.seed}"
    blocks.append(Block("p", intro + "."))
    if board.warnings:
        blocks.append(Block("ul", [f"Note: {w}" for w in board.warnings]))

    # overall
    blocks.append(Block("h2", "Overall ranking", "overall"))
    stab = _stab(board, OVERALL)
    columns = ["Rank", "Algorithm", "Rank score"]
    numeric = [True, False, True]
    for m in board.metrics:
        columns += [f"{m.key} mean over tasks ({m.arrow})", f"{m.key} rank"]
        numeric += [True, True]
    if stab:
        columns += ["Bootstrap rank: median [95% interval]", "Rank 1 in draws"]
        numeric += [True, True]
    rows = []
    overall = board.overall.set_index("algorithm")
    for algo in board.order():
        row = overall.loc[algo]
        cells = [_rank_cell(row["rank"]), Cell(algo), _num(row["rank_score"], 2)]
        for m in board.metrics:
            cells += [_num(row[f"{m.key}_mean_over_tasks"]), _rank_cell(row[f"{m.key}_rank"])]
        if stab:
            s = stab[algo]
            cells += [Cell(f"{fmt_rank(s['median_rank'])} [{fmt_rank(s['rank_q025'])}, {fmt_rank(s['rank_q975'])}]",
                           s["median_rank"]),
                      Cell(f"{100 * s['share_best']:.0f}%", s["share_best"])]
        rows.append(cells)
    blocks.append(Block("table", Table(columns, rows, numeric, "overall-table")))
    n_rankings = len(board.values)
    text = (f"Rank score = mean rank over the {n_rankings} task × metric rankings (lower is better); each metric "
            f"rank is the {SCHEME_TITLES[board.scheme]} within a task. ")
    if board.stability is not None:
        text += ("Bootstrap: the cases of every task resampled with replacement and the whole leaderboard re-ranked "
                 f"{board.n_bootstrap} times. " + _tau_text(board, OVERALL))
    blocks.append(Block("p", text.strip()))

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

    if images:
        blocks.append(Block("h2", "Plots", "plots"))
        for title, name in images.items():
            blocks.append(Block("h3", title))
            blocks.append(Block("img", (title, name)))

    blocks.append(Block("h2", "Method", "method"))
    blocks.append(Block("ul", [
        "aggregate-then-rank: mean (or median) over cases, then rank; rank-then-aggregate: rank within each case, "
        "mean rank over cases, then rank; test-then-rank: one-sided paired Wilcoxon signed-rank test for every "
        f"ordered pair (scipy's conventions: zero differences dropped, exact null for small samples), rank by the "
        f"number of wins with p < {board.alpha:g}.",
        "Per task the metric ranks are averaged and re-ranked; overall, the mean rank over all task × metric "
        "rankings is ranked. Ties share the best rank (\"min\").",
        "Statistics per algorithm × task × metric: mean ± SD (ddof 1), median [IQR], 95% percentile-bootstrap CI "
        "of the mean; significance: Holm-adjusted one-sided paired Wilcoxon over all ordered pairs of a task.",
        f"Stability: {board.n_bootstrap} bootstrap draws of the cases (seed {board.seed}), each re-ranked; "
        "median bootstrap rank with its 2.5–97.5% interval and Kendall's τ against the full ranking.",
    ]))
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


# --- Markdown ------------------------------------------------------------------------------------------------------

def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            out.append("#" * int(block.kind[1]) + " " + block.content)
        elif block.kind == "p":
            out.append(block.content)
        elif block.kind == "ul":
            out.append("\n".join(f"- {item}" for item in block.content))
        elif block.kind == "img":
            title, name = block.content
            out.append(f"![{title}]({name})")
        elif block.kind == "table":
            table: Table = block.content
            numeric = table.numeric or [False] * len(table.columns)
            lines = ["| " + " | ".join(_md_escape(c) for c in table.columns) + " |",
                     "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
            lines += ["| " + " | ".join(_md_escape(c.text) for c in row) + " |" for row in table.rows]
            out.append("\n".join(lines))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# --- HTML ----------------------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1400px;padding:0 1rem;color:#1a202c;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #e2e8f0}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #e2e8f0;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#f7fafc;cursor:pointer;user-select:none;position:sticky;top:0}
thead th:hover,thead th:focus{background:#edf2f7;outline:none}
thead th[aria-sort=ascending]::after{content:" \\25B2"}thead th[aria-sort=descending]::after{content:" \\25BC"}
tbody tr:nth-child(even){background:#fbfdff}
nav a{margin-right:.75rem}img{max-width:100%;border:1px solid #e2e8f0}
.table-wrap{overflow-x:auto}p.hint{color:#4a5568;font-size:.8rem}
"""

# Sorting: click (or Enter/Space on) a header; numbers sort by data-sort, text by locale order; empty cells last;
# the sort is stable (ties keep their previous order).
JS = """
(function () {
  "use strict";
  function key(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (raw === "" || raw === "\\u2013") { return {empty: true}; }
    var num = Number(raw);
    return isNaN(num) ? {text: raw.toLowerCase()} : {num: num};
  }
  function compare(a, b) {
    if (a.empty || b.empty) { return (a.empty ? 1 : 0) - (b.empty ? 1 : 0); }
    if (a.num !== undefined && b.num !== undefined) { return a.num - b.num; }
    var x = a.num !== undefined ? String(a.num) : a.text, y = b.num !== undefined ? String(b.num) : b.text;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  function sortTable(table, column, header) {
    var body = table.tBodies[0];
    var descending = header.getAttribute("aria-sort") === "ascending";
    var headers = table.tHead.rows[0].cells;
    for (var h = 0; h < headers.length; h++) { headers[h].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
      return {row: row, index: index, key: key(row.cells[column])};
    });
    rows.sort(function (a, b) {
      var c = compare(a.key, b.key);
      if (descending && !(a.key.empty || b.key.empty)) { c = -c; }
      return c !== 0 ? c : a.index - b.index;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (header, column) {
      header.tabIndex = 0;
      header.setAttribute("role", "columnheader");
      header.title = "Sort by this column";
      header.addEventListener("click", function () { sortTable(table, column, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortTable(table, column, header); }
      });
    });
  });
})();
"""


def _html_cell(cell: Cell, numeric: bool, tag: str = "td") -> str:
    attrs = ' class="num"' if numeric else ""
    if cell.sort is not None and tag == "td":
        sort = cell.sort if isinstance(cell.sort, str) else repr(float(cell.sort))
        attrs += f' data-sort="{html.escape(sort)}"'
    return f"<{tag}{attrs}>{html.escape(cell.text)}</{tag}>"


def to_html(blocks: list[Block], images: dict[str, bytes] | None = None, title: str = "medmix leaderboard") -> str:
    """A single self-contained page; `images` maps PNG file names to their bytes (embedded as data URIs)."""
    images = images or {}
    nav = [f'<a href="#{b.anchor}">{html.escape(b.content)}</a>' for b in blocks if b.kind == "h2" and b.anchor]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>"]
    for n, block in enumerate(blocks):
        if block.kind in ("h1", "h2", "h3"):
            anchor = f' id="{block.anchor}"' if block.anchor else ""
            parts.append(f"<{block.kind}{anchor}>{html.escape(block.content)}</{block.kind}>")
            if n == 0:
                parts.append(f"<nav>{''.join(nav)}</nav>")
                parts.append('<p class="hint">Click a column header to sort the table by it (click again to '
                             'reverse).</p>')
        elif block.kind == "p":
            parts.append(f"<p>{html.escape(block.content)}</p>")
        elif block.kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.content) + "</ul>")
        elif block.kind == "img":
            alt, name = block.content
            data = images.get(name)
            if data is not None:
                encoded = base64.b64encode(data).decode("ascii")
                parts.append(f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}"></p>')
        elif block.kind == "table":
            table: Table = block.content
            numeric = table.numeric or [False] * len(table.columns)
            css_id = f' id="{html.escape(table.css_id)}"' if table.css_id else ""
            head = "".join(_html_cell(Cell(c), n, "th") for c, n in zip(table.columns, numeric))
            body = "".join("<tr>" + "".join(_html_cell(c, n) for c, n in zip(row, numeric)) + "</tr>"
                           for row in table.rows)
            parts.append(f'<div class="table-wrap"><table class="sortable"{css_id}><thead><tr>{head}</tr></thead>'
                         f"<tbody>{body}</tbody></table></div>")
    parts += [f"<script>{JS}</script>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


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
    for algo in board.order():
        o = overall.loc[algo]
        row: dict[str, Any] = {"scope": OVERALL, "task": "", "rank": int(o["rank"]), "algorithm": algo,
                               "rank_score": float(o["rank_score"])}
        for m in board.metrics:
            row.update({f"{m.key}_rank": int(o[f"{m.key}_rank"]), f"{m.key}_score": float(o[f"{m.key}_mean_rank"]),
                        f"{m.key}_mean": float(o[f"{m.key}_mean_over_tasks"])})
        row.update(_stab_columns(stab[OVERALL].get(algo)))
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
    columns = ["scope", "task", "rank", "algorithm", "rank_score"]
    for m in board.metrics:
        columns += [f"{m.key}_{c}" for c in ("rank", "score", "mean", "sd", "median", "q25", "q75", "ci_low",
                                             "ci_high", "n", "n_missing")]
    columns += ["bootstrap_median_rank", "bootstrap_rank_q025", "bootstrap_rank_q975"]
    frame = pd.DataFrame(rows).reindex(columns=columns)
    for col in frame.columns:  # integer columns with gaps (overall rows) stay integers in the CSV
        if col.endswith(("_rank", "_n", "_n_missing")) and col != "rank_score" and not col.startswith("bootstrap"):
            frame[col] = frame[col].astype("Int64")
    frame["rank"] = frame["rank"].astype(int)
    return frame


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
    overall = board.overall.set_index("algorithm")
    ranking = []
    for algo in board.order():
        o = overall.loc[algo]
        entry: dict[str, Any] = {"rank": int(o["rank"]), "algorithm": algo, "rank_score": r6(o["rank_score"]),
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


# --- everything ----------------------------------------------------------------------------------------------------

PLOT_TITLES = {"bootstrap_ranks.png": "Bootstrap ranks (blob plot)", "rank_heatmap.png": "Rank per task",
               "significance_map.png": "Significance map"}


def write_all(board, out_dir: Path, *, plots: bool = True) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    images: dict[str, bytes] = {}
    if plots:
        from medmix.leaderboard.plots import write_plots

        for path in write_plots(board, out_dir):
            files.append(path)
            images[path.name] = path.read_bytes()
    titles = {PLOT_TITLES[name]: name for name in images}
    blocks = document(board, images=titles)
    atomic_write_text(out_dir / "leaderboard.md", to_markdown(blocks))
    atomic_write_text(out_dir / "leaderboard.html", to_html(blocks, images))
    atomic_write_text(out_dir / "leaderboard.json",
                      json.dumps(to_json_dict(board), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    files += [out_dir / "leaderboard.md", out_dir / "leaderboard.html", out_dir / "leaderboard.json"]
    files.append(_write_csv(leaderboard_table(board), out_dir / "leaderboard.csv"))
    files.append(_write_csv(board.statistics, out_dir / "statistics.csv"))
    files.append(_write_csv(board.pairwise, out_dir / "pairwise.csv"))
    stability = board.stability.rank_summary() if board.stability is not None else \
        pd.DataFrame(columns=["scope", "algorithm", "rank", "median_rank", "rank_q025", "rank_q975", "share_best"])
    files.append(_write_csv(stability, out_dir / "stability.csv"))
    files.append(_write_csv(board.missing, out_dir / "missing.csv"))
    files.append(_write_csv(board.subgroups, out_dir / "subgroups.csv"))
    return sorted(files)

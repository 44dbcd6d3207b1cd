"""Leaderboard plots (matplotlib, Agg, no pyplot state): the shared helpers (figure, deterministic PNG/SVG saving),
the bootstrap-rank blob plot of the combined ranking, the rank heatmap and the significance map. The other figures
live in `medmix.leaderboard.task_figures` and `medmix.leaderboard.ranking_figures`; `medmix.leaderboard.figures`
lists them all.

Files are deterministic: matplotlib's default style is applied whatever the user's matplotlibrc says, the PNG
"Software" and SVG "Date"/"Creator" metadata are dropped and SVG ids use a fixed salt, so the same leaderboard
gives byte-identical files with the same matplotlib (and libpng/zlib).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

BLOB_PLOT = "bootstrap_ranks"
HEATMAP = "rank_heatmap"
SIGNIFICANCE_MAP = "significance_map"
FORMATS = ("png", "svg")


def figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, stem: Path, formats=("png",)) -> list[Path]:
    """Write `fig` as <stem>.png and/or <stem>.svg, deterministically (no timestamps, fixed SVG ids)."""
    import matplotlib

    from medmix.atomic import atomic_save

    paths = []
    for fmt in formats:
        if fmt not in FORMATS:
            from medmix.errors import UnknownNameError

            raise UnknownNameError("figure format", fmt, FORMATS)
        metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
        with matplotlib.rc_context({"svg.hashsalt": "medmix", "svg.fonttype": "path"}):
            paths.append(atomic_save(stem.with_name(f"{stem.name}.{fmt}"),
                                     lambda p, fmt=fmt, metadata=metadata: fig.savefig(p, format=fmt, dpi=100,
                                                                                       metadata=metadata)))
    return paths


def save_png(fig, path: Path) -> Path:
    """Write `fig` to `path` (a .png file name) deterministically."""
    path = Path(path)
    return save_figure(fig, path.with_suffix(""), ("png",))[0]


def style():
    """matplotlib's default style, whatever the user's matplotlibrc says (so files are the same everywhere)."""
    import matplotlib.style

    return matplotlib.style.context("default")


def grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = max(1, min(max_cols, n))
    return math.ceil(n / cols), cols


def short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def file_slug(text: str) -> str:
    """A task or metric name as part of a file name: letters, digits, '-', '_' and '.' kept, the rest '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._") or "x"


def blob_plot(board):
    """One panel per task plus "overall": for each algorithm (x, overall order) a blob at each bootstrap rank
    with area ∝ how often that rank occurred, the median and 2.5–97.5% interval (black), the full rank (×)."""
    stability = board.stability
    order = board.order()
    index = [board.algorithms.index(a) for a in order]
    k = len(order)
    scopes = list(stability.scopes)
    rows, cols = grid(len(scopes))
    with style():
        fig = figure(max(3.2, 0.45 * k + 1.6) * cols, 3.0 * rows)
        axes = fig.subplots(rows, cols, squeeze=False)
        colors = [f"C{i % 10}" for i in range(k)]
        for n, scope in enumerate(scopes):
            ax = axes[n // cols][n % cols]
            ranks = stability.ranks[scope][:, index]
            for x in range(k):
                values, counts = np.unique(ranks[:, x], return_counts=True)
                share = counts / ranks.shape[0]
                ax.scatter(np.full(values.shape, x), values, s=600 * share, color=colors[x], alpha=0.6,
                           linewidths=0)
                low, median, high = np.percentile(ranks[:, x], [2.5, 50, 97.5])
                ax.vlines(x, low, high, color="black", linewidth=1)
                ax.plot([x], [median], marker="_", color="black", markersize=10)
                ax.plot([x], [stability.full_ranks[scope][index[x]]], marker="x", color="black", markersize=5)
            ax.set_xlim(-0.6, k - 0.4)
            ax.set_ylim(k + 0.6, 0.4)
            ax.set_yticks(range(1, k + 1))
            ax.set_xticks(range(k))
            ax.set_xticklabels([short(a) for a in order], rotation=45, ha="right", fontsize=7)
            ax.set_title(scope, fontsize=9)
            ax.set_ylabel("rank", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(axis="y", linewidth=0.3, alpha=0.5)
        for n in range(len(scopes), rows * cols):
            axes[n // cols][n % cols].set_visible(False)
        fig.suptitle(f"Bootstrap ranks ({stability.n_bootstrap} draws, seed {stability.seed}): blob area = share "
                     "of draws; bar = median and 95% interval; × = full-data rank", fontsize=8)
        return fig


def rank_heatmap(board):
    """Tasks (rows, + overall) × algorithms (columns, overall order): colour = rank, text = rank and the first
    metric's mean. Tasks run down the page because suites have many more tasks than models."""
    order = board.order()
    tasks = list(board.tasks)
    first = board.metrics[0].key
    k, t = len(order), len(tasks)
    ranks = np.full((t + 1, k), np.nan)
    means = np.full((t, k), np.nan)
    tr = board.task_ranks.set_index(["task", "algorithm"])["rank"]
    stats = board.statistics[board.statistics["metric"] == first].set_index(["task", "algorithm"])["mean"]
    overall = board.overall.set_index("algorithm")["rank"]
    for j, algo in enumerate(order):
        for i, task in enumerate(tasks):
            ranks[i, j] = tr.get((task, algo), np.nan)
            means[i, j] = stats.get((task, algo), np.nan)
        ranks[t, j] = overall[algo]
    with style():
        fig = figure(max(4.5, 1.1 * k + 3.2), max(2.5, 0.42 * (t + 1) + 1.7))
        ax = fig.subplots()
        image = ax.imshow(ranks, cmap="viridis_r", vmin=1, vmax=max(k, 2), aspect="auto")
        for i in range(t + 1):
            for j in range(k):
                if np.isnan(ranks[i, j]):
                    continue
                text = f"{int(ranks[i, j])}" if i == t or np.isnan(means[i, j]) else \
                    f"{int(ranks[i, j])} ({means[i, j]:.3f})"
                dark = ranks[i, j] > (k + 1) / 2  # viridis_r: high ranks are dark
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
        ax.axhline(t - 0.5, color="white", linewidth=3)
        ax.set_yticks(range(t + 1))
        ax.set_yticklabels([short(x, 30) for x in [*tasks, "overall"]], fontsize=7)
        ax.set_xticks(range(k))
        ax.set_xticklabels([short(a, 22) for a in order], rotation=30, ha="right", fontsize=7)
        ax.set_title(f"Rank per task (text: rank and mean {first})", fontsize=9)
        cbar = fig.colorbar(image, ax=ax, shrink=0.8)
        cbar.set_ticks(range(1, max(k, 2) + 1))
        cbar.set_label("rank", fontsize=8)
        cbar.ax.tick_params(labelsize=7)
        return fig


def significance_map(board):
    """One panel per task × metric: cell (row i, column j) dark when i is significantly better than j
    (one-sided paired Wilcoxon, Holm-adjusted over the task's pairs, α); algorithms in that ranking's order."""
    from matplotlib.colors import ListedColormap

    panels = list(board.values)
    rows, cols = grid(len(panels))
    k = len(board.algorithms)
    pairwise = board.pairwise.set_index(["task", "metric", "algorithm", "versus"])["significant"]
    ranks = board.metric_ranks.set_index(["task", "metric", "algorithm"])["rank"]
    with style():
        fig = figure(max(3.0, 0.38 * k + 1.8) * cols, max(2.8, 0.38 * k + 1.8) * rows)
        axes = fig.subplots(rows, cols, squeeze=False)
        cmap = ListedColormap(["#f0f0f0", "#2b6cb0", "#bdbdbd"])
        for n, (task, metric) in enumerate(panels):
            ax = axes[n // cols][n % cols]
            order = sorted(board.algorithms, key=lambda a: (ranks.get((task, metric, a), k + 1),
                                                            board.algorithms.index(a)))
            cells = np.zeros((k, k))
            for i, a in enumerate(order):
                for j, b in enumerate(order):
                    cells[i, j] = 2 if i == j else float(bool(pairwise.get((task, metric, a, b), False)))
            ax.imshow(cells, cmap=cmap, vmin=0, vmax=2)
            ax.set_xticks(range(k))
            ax.set_yticks(range(k))
            ax.set_xticklabels([short(a, 18) for a in order], rotation=45, ha="right", fontsize=6)
            ax.set_yticklabels([short(a, 18) for a in order], fontsize=6)
            ax.set_xticks(np.arange(-0.5, k), minor=True)
            ax.set_yticks(np.arange(-0.5, k), minor=True)
            ax.grid(which="minor", color="white", linewidth=1)
            ax.tick_params(which="minor", length=0)
            ax.set_title(f"{short(task, 28)} · {metric}", fontsize=8)
        for n in range(len(panels), rows * cols):
            axes[n // cols][n % cols].set_visible(False)
        fig.suptitle(f"Significance map: blue = row significantly better than column (one-sided paired Wilcoxon, "
                     f"Holm, α = {board.alpha:g})", fontsize=8)
        return fig


def write_plots(board, out_dir: Path, formats=("png",)) -> list[tuple[Path, str, str | None]]:
    """Write every figure (`medmix.leaderboard.figures.figure_specs`) in `formats`; returns (path, title, task or
    None for a leaderboard-wide figure) per file written."""
    from medmix.leaderboard.figures import figure_specs

    out_dir = Path(out_dir)
    written = []
    for spec in figure_specs(board):
        with style():
            fig = spec.build()
        if fig is None:
            continue
        for path in save_figure(fig, out_dir / spec.stem, formats):
            written.append((path, spec.title, spec.task))
    return written

"""Per-task figures, as challengeR draws them: podium plot, dot-and-box plot, ranking heatmap of per-case rank
counts. One panel per metric of the task; each returns a matplotlib Figure (saved by `medmix.leaderboard.plots`).

Per-case ranks are the leaderboard's (`case_ranks` with its conventions): 1 = best, ties "min"; a case an
algorithm lacks is left out of its dots and counts.
"""

from __future__ import annotations

import numpy as np

from medmix.leaderboard.plots import figure, short
from medmix.leaderboard.ranking import case_ranks


def _panels(board, task: str):
    """(metric info, values (cases × k), algorithms in the task × metric ranking's order) per metric of `task`."""
    ranks = board.metric_ranks.set_index(["task", "metric", "algorithm"])["rank"]
    out = []
    for m in board.metrics:
        wide = board.values.get((task, m.key))
        if wide is None:
            continue
        order = sorted(board.algorithms, key=lambda a: (ranks[(task, m.key, a)], board.algorithms.index(a)))
        out.append((m, wide[order].to_numpy(dtype=float), order))
    return out


def _colors(board, order):
    return [f"C{board.algorithms.index(a) % 10}" for a in order]


def podium(board, task: str):
    """Upper row: each case's values placed on the podium by the case's rank (x = per-case rank, algorithms side
    by side within a place), the dots of one case joined by a line. Lower row: how often each algorithm took each
    place. Algorithms keep one colour in every figure."""
    panels = _panels(board, task)
    k = len(board.algorithms)
    fig = figure(max(3.6, 0.75 * k + 1.8) * len(panels), 5.2)
    axes = fig.subplots(2, len(panels), squeeze=False, height_ratios=[3, 1.4], sharex="col")
    width = 0.8 / k
    for col, (metric, values, order) in enumerate(panels):
        top, bottom = axes[0][col], axes[1][col]
        ranks = case_ranks(values, metric.higher_is_better, board.conventions)
        colors = _colors(board, order)
        offsets = -0.4 + width * (np.arange(k) + 0.5)
        for c in range(values.shape[0]):
            present = np.isfinite(values[c])
            if not present.any():
                continue
            x = ranks[c][present] + offsets[present]
            y = values[c][present]
            sequence = np.argsort(x, kind="stable")
            top.plot(x[sequence], y[sequence], color="0.75", linewidth=0.6, zorder=1)
        for j in range(k):
            present = np.isfinite(values[:, j])
            top.scatter(ranks[present, j] + offsets[j], values[present, j], s=14, color=colors[j], zorder=2,
                        label=short(order[j], 22), linewidths=0)
            counts = [(ranks[present, j] == place).sum() for place in range(1, k + 1)]
            bottom.bar(np.arange(1, k + 1) + offsets[j], counts, width=width * 0.95, color=colors[j])
        top.set_title(f"{short(task, 30)} · {metric.key} ({metric.arrow})", fontsize=9)
        top.set_ylabel(metric.key, fontsize=8)
        top.grid(axis="y", linewidth=0.3, alpha=0.5)
        bottom.set_xticks(range(1, k + 1))
        bottom.set_xticklabels([f"place {p}" for p in range(1, k + 1)], fontsize=7)
        bottom.set_ylabel("cases", fontsize=8)
        for ax in (top, bottom):
            ax.tick_params(labelsize=7)
        if col == len(panels) - 1:
            top.legend(fontsize=6, loc="best", frameon=False)
    fig.suptitle("Podium: per-case values at the per-case rank (lines join one case); bars: cases per place",
                 fontsize=8)
    return fig


def dot_and_box(board, task: str):
    """Per algorithm (task × metric ranking order): the box of its values (median, IQR, whiskers 1.5 IQR) and
    every case as a dot, spread sideways by case index (deterministic)."""
    panels = _panels(board, task)
    k = len(board.algorithms)
    fig = figure(max(3.2, 0.6 * k + 1.6) * len(panels), 3.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, values, order) in zip(axes, panels):
        columns = [values[np.isfinite(values[:, j]), j] for j in range(k)]
        keep = [j for j in range(k) if columns[j].size]
        ax.boxplot([columns[j] for j in keep], positions=keep, widths=0.55, showfliers=False,
                   medianprops={"color": "black"}, boxprops={"linewidth": 0.8}, whiskerprops={"linewidth": 0.8})
        colors = _colors(board, order)
        for j in keep:
            n = values.shape[0]
            spread = np.linspace(-0.18, 0.18, n) if n > 1 else np.zeros(1)
            present = np.isfinite(values[:, j])
            ax.scatter(j + spread[present], values[present, j], s=10, color=colors[j], alpha=0.8, linewidths=0,
                       zorder=3)
        ax.set_xticks(range(k))
        ax.set_xticklabels([short(a) for a in order], rotation=45, ha="right", fontsize=7)
        ax.set_xlim(-0.6, k - 0.4)
        ax.set_title(f"{short(task, 30)} · {metric.key} ({metric.arrow})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    fig.suptitle("Dot-and-box plot: one dot per case; box = median and IQR, whiskers 1.5 IQR", fontsize=8)
    return fig


def rank_counts(board, task: str):
    """Ranking heatmap: algorithms (x, ranking order) × per-case rank (y); cell = number of cases where the
    algorithm had that rank."""
    panels = _panels(board, task)
    k = len(board.algorithms)
    fig = figure(max(3.4, 0.55 * k + 2.0) * len(panels), max(2.8, 0.4 * k + 1.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, values, order) in zip(axes, panels):
        ranks = case_ranks(values, metric.higher_is_better, board.conventions)
        counts = np.zeros((k, k))
        for j in range(k):
            present = np.isfinite(values[:, j])
            for place in range(1, k + 1):
                counts[place - 1, j] = (ranks[present, j] == place).sum()
        image = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(1.0, counts.max()), aspect="auto")
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    dark = counts[i, j] > counts.max() / 2
                    ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
        ax.set_xticks(range(k))
        ax.set_xticklabels([short(a) for a in order], rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(k))
        ax.set_yticklabels([str(r) for r in range(1, k + 1)], fontsize=7)
        ax.set_ylabel("per-case rank", fontsize=8)
        ax.set_title(f"{short(task, 30)} · {metric.key} ({metric.arrow})", fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.8).ax.tick_params(labelsize=7)
    fig.suptitle("Ranking heatmap: number of cases per algorithm and per-case rank", fontsize=8)
    return fig

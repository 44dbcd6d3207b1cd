"""Figures across tasks, as challengeR draws them: blob plot per metric (bootstrap ranks per task and the ranks
across tasks), stacked frequency plot of bootstrap ranks, violin plot of Kendall's τ over bootstrap draws, line
plot of ranks across ranking schemes, dendrogram of tasks by ranking similarity. Each returns a matplotlib Figure,
or None when the leaderboard lacks what it shows (no bootstrap, fewer than two tasks).
"""

from __future__ import annotations

import numpy as np

from medmix.leaderboard.plots import figure, grid, short
from medmix.leaderboard.ranking import SCHEME_TITLES, SCHEMES
from medmix.leaderboard.stability import OVERALL
from medmix.leaderboard.stats import kendall_tau


def _blobs(ax, ranks: np.ndarray, k: int, colors, full=None):
    """Blob per (x, rank) with area ∝ share of rows; black bar = 2.5–97.5% and median; × = `full` rank."""
    for x in range(ranks.shape[1]):
        values, counts = np.unique(ranks[:, x], return_counts=True)
        ax.scatter(np.full(values.shape, x), values, s=600 * counts / ranks.shape[0], color=colors[x], alpha=0.6,
                   linewidths=0)
        low, median, high = np.percentile(ranks[:, x], [2.5, 50, 97.5])
        ax.vlines(x, low, high, color="black", linewidth=1)
        ax.plot([x], [median], marker="_", color="black", markersize=10)
        if full is not None:
            ax.plot([x], [full[x]], marker="x", color="black", markersize=5)
    ax.set_xlim(-0.6, ranks.shape[1] - 0.4)
    ax.set_ylim(k + 0.6, 0.4)
    ax.set_yticks(range(1, k + 1))
    ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    ax.tick_params(labelsize=7)


def blob_per_metric(board, metric_key: str):
    """One panel per task: the metric's own bootstrap ranks (when bootstrapped); last panel "across tasks": the
    metric's full-data rank on each task (blob area = share of tasks), × = its overall rank for the metric."""
    order = board.order()
    index = [board.algorithms.index(a) for a in order]
    k = len(order)
    colors = [f"C{i % 10}" for i in index]
    tasks = [t for t in board.tasks if (t, metric_key) in board.values]
    stability = board.stability
    panels = (tasks if stability is not None else []) + ["across tasks"]
    rows, cols = grid(len(panels))
    ranks = board.metric_ranks[board.metric_ranks["metric"] == metric_key]
    full = {t: ranks[ranks["task"] == t].set_index("algorithm")["rank"] for t in tasks}
    fig = figure(max(3.2, 0.45 * k + 1.6) * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for n, panel in enumerate(panels):
        ax = axes[n // cols][n % cols]
        if panel == "across tasks":
            matrix = np.array([[full[t][a] for a in order] for t in tasks], dtype=float)
            overall = board.overall.set_index("algorithm")[f"{metric_key}_rank"]
            _blobs(ax, matrix, k, colors, [overall[a] for a in order])
            ax.set_title(f"across {len(tasks)} tasks", fontsize=9)
        else:
            _blobs(ax, stability.metric_ranks[(panel, metric_key)][:, index], k, colors,
                   [full[panel][a] for a in order])
            ax.set_title(short(panel, 30), fontsize=9)
        ax.set_xticks(range(k))
        ax.set_xticklabels([short(a) for a in order], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("rank", fontsize=8)
    for n in range(len(panels), rows * cols):
        axes[n // cols][n % cols].set_visible(False)
    what = f"bootstrap ranks ({stability.n_bootstrap} draws) per task and " if stability is not None else ""
    fig.suptitle(f"Blob plot, {metric_key}: {what}ranks across tasks; blob area = share, bar = median and 95% "
                 "interval, × = full-data rank", fontsize=8)
    return fig


def stacked_frequency(board):
    """One panel per algorithm: for each task (and overall) the share of bootstrap draws at each rank, stacked
    (rank 1 at the bottom)."""
    stability = board.stability
    if stability is None:
        return None
    from matplotlib import colormaps

    order = board.order()
    k = len(order)
    scopes = list(stability.scopes)
    rows, cols = grid(k, 3)
    cmap = colormaps["viridis"]
    fig = figure(max(3.4, 0.32 * len(scopes) + 1.8) * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for n, algo in enumerate(order):
        ax = axes[n // cols][n % cols]
        j = board.algorithms.index(algo)
        bottom = np.zeros(len(scopes))
        for rank in range(1, k + 1):
            share = np.array([np.mean(stability.ranks[s][:, j] == rank) for s in scopes])
            ax.bar(range(len(scopes)), share, bottom=bottom, color=cmap((rank - 1) / max(k - 1, 1)),
                   label=f"rank {rank}", width=0.8)
            bottom += share
        ax.set_xticks(range(len(scopes)))
        ax.set_xticklabels([short(s, 20) for s in scopes], rotation=45, ha="right", fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(short(algo, 30), fontsize=9)
        ax.set_ylabel("share of draws", fontsize=8)
        ax.tick_params(labelsize=7)
        if n == 0:
            handles, labels = ax.get_legend_handles_labels()
    for n in range(k, rows * cols):
        axes[n // cols][n % cols].set_visible(False)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(k, 8), fontsize=7, frameon=False)
    fig.suptitle(f"Stacked frequency of bootstrap ranks ({stability.n_bootstrap} draws) per task", fontsize=8)
    return fig


def kendall_tau_violin(board):
    """Per task (and overall): the distribution of Kendall's τ between each bootstrap ranking and the full ranking;
    a scope whose τ is constant is drawn as a line, an undefined one (all ranks tied) is left empty."""
    stability = board.stability
    if stability is None:
        return None
    scopes = list(stability.scopes)
    fig = figure(max(4.0, 0.55 * len(scopes) + 1.8), 3.4)
    ax = fig.subplots()
    for x, scope in enumerate(scopes):
        tau = stability.tau[scope]
        tau = tau[np.isfinite(tau)]
        if tau.size == 0:
            continue
        if np.ptp(tau) == 0:  # a KDE of one value is singular
            ax.hlines(tau[0], x - 0.3, x + 0.3, color="C0", linewidth=2)
        else:
            parts = ax.violinplot([tau], positions=[x], widths=0.8, showmedians=True, showextrema=False)
            for body in parts["bodies"]:
                body.set_alpha(0.6)
    ax.set_xticks(range(len(scopes)))
    ax.set_xticklabels([short(s, 24) for s in scopes], rotation=45, ha="right", fontsize=7)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("Kendall's τ", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", linewidth=0.3, alpha=0.5)
    ax.set_title(f"Kendall's τ, bootstrap vs full ranking ({stability.n_bootstrap} draws)", fontsize=8)
    return fig


def ranks_by_scheme(board):
    """One panel per task and overall: each algorithm's rank (y) under each ranking scheme (x), joined by a line."""
    table = board.scheme_ranks
    scopes = [*board.tasks, OVERALL]
    order = board.order()
    rows, cols = grid(len(scopes))
    k = len(order)
    fig = figure(3.3 * cols, 2.9 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    lookup = table.set_index(["scope", "scheme", "algorithm"])["rank"]
    for n, scope in enumerate(scopes):
        ax = axes[n // cols][n % cols]
        for algo in order:
            ranks = [lookup[(scope, s, algo)] for s in SCHEMES]
            ax.plot(range(len(SCHEMES)), ranks, marker="o", markersize=3, linewidth=1,
                    color=f"C{board.algorithms.index(algo) % 10}", label=short(algo, 22))
        ax.set_xticks(range(len(SCHEMES)))
        ax.set_xticklabels(["mean", "median", "rank→agg", "test→rank"], rotation=30, ha="right", fontsize=7)
        ax.set_ylim(k + 0.5, 0.5)
        ax.set_yticks(range(1, k + 1))
        ax.set_title(short(scope, 30), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", linewidth=0.3, alpha=0.5)
        if n == 0:
            ax.legend(fontsize=6, loc="best", frameon=False)
    for n in range(len(scopes), rows * cols):
        axes[n // cols][n % cols].set_visible(False)
    fig.suptitle("Ranks under each scheme: " + "; ".join(SCHEME_TITLES[s] for s in SCHEMES), fontsize=7)
    return fig


def task_distances(board) -> tuple[list[str], np.ndarray]:
    """Tasks and their distance matrix 1 − Kendall's τ between the tasks' rankings (1 where τ is undefined)."""
    tasks = list(board.tasks)
    ranks = {t: board.task_ranks[board.task_ranks["task"] == t].set_index("algorithm")["rank"]
                .reindex(board.algorithms).to_numpy(dtype=float) for t in tasks}
    distance = np.zeros((len(tasks), len(tasks)))
    for i, a in enumerate(tasks):
        for j, b in enumerate(tasks):
            if i < j:
                tau = kendall_tau(ranks[a], ranks[b])
                distance[i, j] = distance[j, i] = 1.0 - tau if np.isfinite(tau) else 1.0
    return tasks, distance


def task_dendrogram(board):
    """Complete-linkage clustering of the tasks by 1 − Kendall's τ between their rankings (challengeR's default);
    tasks that rank the algorithms alike join low."""
    if len(board.tasks) < 2:
        return None
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    tasks, distance = task_distances(board)
    tree = linkage(squareform(distance, checks=False), method="complete")
    fig = figure(max(4.0, 0.5 * len(tasks) + 2.0), 3.6)
    ax = fig.subplots()
    dendrogram(tree, labels=[short(t, 28) for t in tasks], ax=ax, leaf_rotation=45, color_threshold=0,
               above_threshold_color="C0")
    ax.set_ylabel("1 − Kendall's τ", fontsize=8)
    ax.tick_params(labelsize=7)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_title("Tasks by ranking similarity (complete linkage)", fontsize=8)
    return fig

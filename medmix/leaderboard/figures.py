"""Every leaderboard figure with its file name and title, in the order the HTML report shows them.

File names say what each is: per task `podium_<task>`, `dotbox_<task>`, `rank_counts_<task>`; across tasks
`bootstrap_ranks` (blob plot of the combined ranking), `blob_<metric>`, `rank_heatmap`, `significance_map`,
`stacked_frequency`, `kendall_tau_violin`, `ranks_by_scheme`, `task_dendrogram` (each .png and/or .svg; task and
metric names with characters unsafe in file names get '_' there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial


@dataclass(frozen=True)
class FigureSpec:
    stem: str  # file name without extension
    title: str
    task: str | None  # the task section it belongs to; None = across tasks
    build: Callable[[], object]  # → matplotlib Figure, or None when there is nothing to show


def figure_specs(board) -> list[FigureSpec]:
    from medmix.leaderboard import plots, ranking_figures as across, task_figures as per_task
    from medmix.leaderboard.plots import file_slug

    specs = []
    for task in board.tasks:
        slug = file_slug(task)
        specs += [
            FigureSpec(f"podium_{slug}", f"Podium plot · {task}", task, partial(per_task.podium, board, task)),
            FigureSpec(f"dotbox_{slug}", f"Dot-and-box plot · {task}", task,
                       partial(per_task.dot_and_box, board, task)),
            FigureSpec(f"rank_counts_{slug}", f"Ranking heatmap (per-case rank counts) · {task}", task,
                       partial(per_task.rank_counts, board, task)),
        ]
    if board.stability is not None:
        specs.append(FigureSpec(plots.BLOB_PLOT, "Bootstrap ranks of the combined ranking (blob plot)", None,
                                partial(plots.blob_plot, board)))
    for m in board.metrics:
        specs.append(FigureSpec(f"blob_{file_slug(m.key)}", f"Blob plot · {m.key}", None,
                                partial(across.blob_per_metric, board, m.key)))
    specs += [
        FigureSpec(plots.HEATMAP, "Rank per task", None, partial(plots.rank_heatmap, board)),
        FigureSpec(plots.SIGNIFICANCE_MAP, "Significance map", None, partial(plots.significance_map, board)),
        FigureSpec("stacked_frequency", "Stacked frequency of bootstrap ranks", None,
                   partial(across.stacked_frequency, board)),
        FigureSpec("kendall_tau_violin", "Kendall's τ over bootstrap draws (violin plot)", None,
                   partial(across.kendall_tau_violin, board)),
        FigureSpec("ranks_by_scheme", "Ranks across ranking schemes (line plot)", None,
                   partial(across.ranks_by_scheme, board)),
        FigureSpec("task_dendrogram", "Dendrogram of tasks by ranking similarity", None,
                   partial(across.task_dendrogram, board)),
    ]
    stems = [s.stem for s in specs]
    if len(stems) != len(set(stems)):  # two task names that differ only in unsafe characters
        seen: dict[str, int] = {}
        unique = []
        for spec in specs:
            n = seen[spec.stem] = seen.get(spec.stem, 0) + 1
            unique.append(spec if n == 1 else FigureSpec(f"{spec.stem}-{n}", spec.title, spec.task, spec.build))
        specs = unique
    return specs

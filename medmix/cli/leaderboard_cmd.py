"""`medmix leaderboard`: a thin shell over `medmix.leaderboard.build_leaderboard`."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from medmix.cli.common import PluginOpt, VerboseOpt, command_context, fmt_value, make_console, parse_metric_values


def leaderboard(
    inputs: Annotated[list[Path], typer.Argument(
        metavar="RUN_DIR|RESULTS.csv...",
        help="Evaluation run folders (`medmix evaluate --out DIR`; different models, same suite) and/or long CSVs "
             "with columns task, case, algorithm, metric, value.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for the leaderboard files.")]
    = Path("leaderboard"),
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", "-m", metavar="NAME",
        help="Metric ranked (repeatable; several are combined by mean rank). Default: dice and bahd. "
             "'dice_slicewise' = MedSAMix's per-case mean slice Dice; options as in 'nsd:tolerance_mm=2'.",
        show_default=False)] = None,
    scheme: Annotated[str, typer.Option(
        metavar="NAME", help="aggregate_mean, aggregate_median, rank_then_aggregate or test_then_rank.")] \
        = "aggregate_mean",
    name: Annotated[Optional[list[str]], typer.Option(
        "--name", metavar="NAME",
        help="Algorithm name for each run folder, in order (default: the folder name).", show_default=False)] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", metavar="NAME", help="Only these tasks (repeatable).",
                                                      show_default=False)] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the bootstrap (stability and CIs).")] = 0,
    bootstrap: Annotated[int, typer.Option("--bootstrap", metavar="N",
                                           help="Bootstrap draws for rank stability and CIs (0: no stability).")]
    = 1000,
    alpha: Annotated[float, typer.Option(metavar="P", help="Significance level of the Wilcoxon tests.")] = 0.05,
    missing_value: Annotated[Optional[list[str]], typer.Option(
        "--missing-value", metavar="METRIC=VALUE",
        help="Value a missing case counts as under aggregate-then-rank (default: 0 for overlap metrics, else the "
             "worst value observed in the task). Repeatable.", show_default=False)] = None,
    compat: Annotated[str, typer.Option(
        metavar="MODE", help="Ranking conventions: 'medmix' (scipy's exact Wilcoxon for small samples, a missing "
                             "case ranked behind every present one) or 'challenger' (challengeR 1.0.5's: "
                             "normal-approximation Wilcoxon with continuity correction, its rank for missing cases, "
                             "exact ties, consensus by tie-averaged ranks).")] = "medmix",
    plots: Annotated[bool, typer.Option(help="Write the figures (and embed them in the HTML page).")] = True,
    figure_format: Annotated[Optional[list[str]], typer.Option(
        "--figure-format", metavar="png|svg", help="Figure file format (repeatable; default png). The HTML page "
                                                   "embeds the PNG when written, else the SVG.",
        show_default=False)] = None,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Rank models in a challenge-style leaderboard: rankings, statistics, significance and bootstrap stability.

    Writes leaderboard.md/.csv/.json/.html, statistics.csv, pairwise.csv, stability.csv, missing.csv,
    subgroups.csv, consensus.csv, one grand-challenge metrics.json per algorithm (metrics/) and the figures to
    --out. Inputs may also be grand-challenge evaluation outputs (metrics.json files or folders of them). Metric
    direction comes from the metric registry (plugins included).
    """
    with command_context(plugin, verbose):
        from medmix.leaderboard import build_leaderboard

        board = build_leaderboard(
            inputs, out, metrics=tuple(metric) if metric else None, scheme=scheme, seed=seed, n_bootstrap=bootstrap,
            alpha=alpha, names=name or None,
            missing_values=parse_metric_values(missing_value or [], "--missing-value", "bahd=100"),
            tasks=task or None, plots=plots, compat=compat, figure_formats=tuple(figure_format or ("png",)),
        )
        _print(board)
        make_console().print(f"wrote {len(board.files)} files to {out}: " + ", ".join(p.name for p in board.files))


def _print(board) -> None:
    from rich.table import Table

    from medmix.leaderboard.ranking import SCHEME_TITLES

    table = Table(title=f"leaderboard · {SCHEME_TITLES[board.scheme]} · {len(board.tasks)} tasks",
                  title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("algorithm")
    table.add_column("rank score", justify="right")
    for m in board.metrics:
        table.add_column(f"{m.key} {m.arrow} (mean over tasks)", justify="right")
    if board.stability is not None:
        table.add_column("bootstrap rank [95%]", justify="right")
        stab = board.stability.rank_summary()
        stab = stab[stab["scope"] == "overall"].set_index("algorithm")
    overall = board.overall.set_index("algorithm")
    for algo in board.order():
        row = overall.loc[algo]
        cells = [str(int(row["rank"])), algo, f"{row['rank_score']:.2f}",
                 *(fmt_value(row[f"{m.key}_mean_over_tasks"]) for m in board.metrics)]
        if board.stability is not None:
            s = stab.loc[algo]
            cells.append(f"{s['median_rank']:g} [{s['rank_q025']:g}, {s['rank_q975']:g}]")
        table.add_row(*cells)
    console = make_console()
    console.print(table)
    for warning in board.warnings:
        console.print(f"note: {warning}")
    if len(board.missing):
        per_task = board.missing.groupby(["algorithm", "task"], sort=False)["n_missing"].max()
        counts = per_task.groupby(level="algorithm", sort=False).sum()
        console.print("missing cases: " + ", ".join(f"{a} {n}" for a, n in counts.items())
                      + " (see missing.csv; aggregate-then-rank counts them as the worst value, rank-then-aggregate "
                        "as the worst rank, test-then-rank leaves them out of the pair)")

"""The `medmix` command line: a thin shell over the Python API (`medmix.scoring`, `medmix.metrics`, `medmix.demo`).

Shared options. `-v/--verbose` and `--plugin FILE.py` (repeatable) are accepted both before the command
(`medmix --plugin m.py score …`) and on every command (`medmix score … --plugin m.py`); the two lists are merged
and the files are imported with `medmix.metrics.load_plugin` before the command body runs, so plugin metrics
work with `--metric` and show in `metrics list`. Every command opens with `command_context(...)`, which loads the
plugins and turns errors into exit codes: a `MedmixError` prints one paragraph "Error: …" on stderr and exits 2
(traceback only with -v); anything else is reported as an unexpected error, exit 1. Usage errors keep Typer's
own exit 2.

Startup stays fast: this module imports only typer at import time; rich, numpy and the metric engine load
inside the commands (torch, scipy, nibabel and pandas only where a command needs them).
"""

import json
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

from medmix._version import __version__
from medmix.errors import MedmixError

app = typer.Typer(
    name="medmix",
    help="Merge, evaluate and rank Segment Anything models for medical imaging.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
metrics_app = typer.Typer(help="Inspect the metric registry.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(metrics_app, name="metrics")

from medmix.cli.common import (  # noqa: E402
    GlobalOptions,
    PluginOpt,
    VerboseOpt,
    command_context,
    flag_text,
    fmt_value,
    make_console,
    one_paragraph,
)

def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"medmix {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Merge, evaluate and rank Segment Anything models for medical imaging."""
    GlobalOptions.verbose = verbose
    GlobalOptions.plugins = list(plugin or [])


def _score_lesionwise(pred, gt, definition, challenge, convention, region, matcher, compat, spacing, as_json,
                      lesions) -> None:
    from medmix.scoring import score_lesionwise_files

    report = score_lesionwise_files(pred, gt, definition, challenge, convention=convention, regions=region or None,
                                    matcher=matcher, compat=compat, spacing=spacing)
    if as_json:
        typer.echo(json.dumps(report.to_json_dict(), indent=2, allow_nan=False))
        return
    from rich.table import Table

    console = make_console()
    spacing_text = " × ".join(f"{s:g}" for s in report.spacing_mm)
    console.print(f"pred: {report.pred_path}\ngt:   {report.gt_path}\nspacing: {spacing_text} mm "
                  f"({report.spacing_source}) · {definition} definition, {challenge} challenge")
    names = list(report.regions)
    table = Table(title="lesion-wise, per region", title_justify="left")
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    for key in next(iter(report.regions.values())).values if names else []:
        table.add_row(key, *(fmt_value(report.regions[n].values[key]) for n in names))
    console.print(table)
    if lesions:
        rows = Table(title="lesions", title_justify="left")
        for col in ("region", "lesion", "status", "volume mm³", "pred components", "dice", "hd95", "nsd", "counted"):
            rows.add_column(col)
        for r in (row for res in report.regions.values() for row in res.lesions):
            rows.add_row(r.region, str(r.lesion), r.status, fmt_value(r.volume_mm3),
                         ",".join(map(str, r.pred_components)), fmt_value(r.dice), fmt_value(r.hd95),
                         fmt_value(r.nsd), str(r.counted).lower())
        console.print(rows)


@app.command()
def score(
    pred: Annotated[Path, typer.Argument(help="Prediction mask (.nii, .nii.gz, .npz, .npy, .png).", show_default=False)],
    gt: Annotated[Path, typer.Argument(help="Reference mask on the same grid.", show_default=False)],
    metric: Annotated[
        Optional[list[str]],
        typer.Option(
            "--metric", "-m", metavar="NAME",
            help="Metric, optionally with options: 'nsd:tolerance_mm=2', 'hd95:percentile=99,pooled=true'. "
            "Repeatable; default: dice iou hd hd95 assd nsd ahd bahd.",
            show_default=False,
        ),
    ] = None,
    spacing: Annotated[
        Optional[str],
        typer.Option(
            metavar="X,Y,Z",
            help="Spacing in mm per array axis (array axis order); overrides the file headers.",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        Optional[list[int]],
        typer.Option(
            "--label", "-l", metavar="N",
            help="Label id to score separately (repeatable). Default: every id when a file holds ids above 1.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
    lesionwise: Annotated[
        Optional[str],
        typer.Option(metavar="brats2023|panoptica", show_default=False,
                     help="Lesion-wise scores per tumour region instead: BraTS 2023's definition or "
                     "brats-evaluation/panoptica's (reference.md §9)."),
    ] = None,
    challenge: Annotated[
        str, typer.Option(help="With --lesionwise: glioma, ssa, paediatric, meningioma or metastases.")
    ] = "glioma",
    convention: Annotated[
        Optional[str], typer.Option(help="With --lesionwise: label convention (default: the challenge's).",
                                    show_default=False)
    ] = None,
    region: Annotated[
        Optional[list[str]], typer.Option("--region", metavar="NAME", show_default=False,
                                          help="With --lesionwise: region to report (repeatable; wt, tc, et, …).")
    ] = None,
    matcher: Annotated[str, typer.Option(help="With --lesionwise panoptica: bipartite or greedy_iou.")] = "bipartite",
    compat: Annotated[bool, typer.Option(help="With --lesionwise panoptica: reproduce the package's global "
                                               "metrics in voxel units (off by default).")] = False,
    lesions: Annotated[bool, typer.Option(help="With --lesionwise: also print one row per lesion.")] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Score a prediction against a reference mask (or per lesion with --lesionwise)."""
    with command_context(plugin, verbose):
        from medmix.scoring import score_files

        if lesionwise is not None:
            _score_lesionwise(pred, gt, lesionwise, challenge, convention, region, matcher, compat, spacing,
                              as_json, lesions)
            return

        report = score_files(pred, gt, metrics=metric or None, spacing=spacing, labels=label or None)
        if as_json:
            typer.echo(json.dumps(report.to_json_dict(), indent=2, allow_nan=False))
            return
        from rich.table import Table

        console = make_console()
        console.print(f"pred: {report.pred_path}\ngt:   {report.gt_path}")
        spacing_text = " × ".join(f"{s:g}" for s in report.spacing_mm)
        console.print(f"spacing: {spacing_text} mm ({report.spacing_source}); shape {report.shape}")
        for lab, res in report.results.items():
            title = f"label {lab}" if report.label_map else "binary mask"
            table = Table(title=title, title_justify="left")
            table.add_column("metric")
            table.add_column("value", justify="right")
            table.add_column("units")
            table.add_column("direction")
            for key, value in res.values.items():
                better = "higher is better" if report.higher_is_better[key] else "lower is better"
                table.add_row(key, fmt_value(value), report.units[key], better)
            console.print(table)
            console.print(
                f"empty_gt={str(res.empty_gt).lower()}  empty_pred={str(res.empty_pred).lower()}  "
                f"n_gt={res.n_gt}  n_pred={res.n_pred}"
            )


@metrics_app.command("list")
def metrics_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """List registered metrics (built-ins and plugins) with direction, units, convention and citation."""
    with command_context(plugin, verbose):
        from medmix.metrics import list_metrics

        specs = list_metrics()
        if as_json:
            rows = [
                {"name": s.name, "higher_is_better": s.higher_is_better, "direction": s.direction, "units": s.units,
                 "kind": s.kind, "builtin": s.builtin, "options": dict(s.defaults), "convention": s.convention,
                 "citation": s.citation}
                for s in specs
            ]
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(title="medmix metrics", title_justify="left", show_lines=True)
        for col in ("name", "direction", "units", "convention", "citation"):
            table.add_column(col, overflow="fold")
        for s in specs:
            options = ", ".join(f"{k}={v}" for k, v in s.defaults.items())
            name = f"{s.name} ({options})" if options else s.name
            if not s.builtin:
                name += " [plugin]"
            table.add_row(*map(Text, (name, s.direction, s.units, s.convention, s.citation)))
        make_console().print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where everything is written.")]
    = Path("runs/demo"),
    quick: Annotated[bool, typer.Option("--quick", help="The reduced form CI runs (fewer trials and cases).")]
    = False,
    metrics_only: Annotated[bool, typer.Option(
        "--metrics-only", help="Only score the built-in phantom mask pairs with every metric (a second).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the whole run.")] = 0,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """The embedded default: merge search → evaluation → leaderboard on phantom25 (no download, no GPU)."""
    with command_context(plugin, verbose):
        if metrics_only:
            _metric_demo(out)
            return
        import time

        from medmix.embedded import DemoSettings, run_demo, summary_dict

        console = make_console()
        started = time.perf_counter()
        result = run_demo(out, DemoSettings(quick=quick, seed=seed), log=console.print)
        _print_demo(result, summary_dict(result), time.perf_counter() - started)


def _print_demo(result, summary: dict, wall_s: float) -> None:
    from rich.table import Table

    console = make_console()
    tasks = list(next(iter(summary["models"].values()))["dice_slicewise"])
    table = Table(title="test split, slice-wise Dice (MedSAMix convention) and bAHD", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("model")
    for task in tasks:
        table.add_column(task.replace("phantom_", ""), justify="right")
    table.add_column("mean Dice", justify="right")
    table.add_column("mean bAHD mm", justify="right")
    for name, row in summary["models"].items():
        table.add_row(str(row["rank"]), name, *(fmt_value(row["dice_slicewise"][t]) for t in tasks),
                      fmt_value(row["mean_dice_slicewise"]), fmt_value(row["mean_bahd"]))
    console.print(table)
    for name, search in summary["searches"].items():
        t = search["timings"]
        console.print(f"{name}: {search['trials']} trials, best calibration Dice {search['best_calibration_dice']:.4f}; "
                      f"per trial {t['eval_s_mean'] * 1e3:.0f} ms eval, {t['optimiser_s_mean'] * 1e3:.0f} ms optimiser")
    if "litemedsam_mni" in summary:
        scores = ", ".join(f"{k}: {v:.3f}" for k, v in summary["litemedsam_mni"].items())
        console.print(f"LiteMedSAM (real weights) on MNI152, slice-wise Dice: {scores}")
    out = result.out_dir
    console.print(f"leaderboard: {out / 'leaderboard' / 'leaderboard.md'} and leaderboard.html; "
                  f"searches: {out / 'search'}; evaluations: {out / 'eval'}; configs to re-run: {out / 'configs'}")
    console.print(f"wall time {wall_s:.0f} s")


def _metric_demo(out) -> None:
    from rich.table import Table

    from medmix.metric_demo import run_metric_demo

    result = run_metric_demo(out_dir=out)
    wide = result.wide()
    multi_label = {c: n > 1 for c, n in wide.groupby("case", sort=False).size().items()}
    table = Table(title="medmix demo: built-in phantom cases", title_justify="left")
    table.add_column("case")
    for key in result.metrics:
        table.add_column(key, justify="right")
    table.add_column("flags")
    for row in wide.itertuples(index=False):
        row = row._asdict()
        name = f"{row['case']}:{row['label']}" if multi_label[row["case"]] else row["case"]
        table.add_row(name, *(fmt_value(row[k]) for k in result.metrics), flag_text(row["empty_gt"], row["empty_pred"]))
    console = make_console()
    console.print(table)
    console.print(
        "distances in mm (voxel-centre surfaces; hd95 = max of the directed 95th percentiles; nsd at 1 mm); "
        "both empty → overlap 1, distance 0; one empty → overlap 0, distance = image diagonal."
    )
    console.print(f"wrote {result.out_dir / 'cases.csv'} and {result.out_dir / 'summary.json'}")


from medmix.cli.evaluate_cmd import data_app, evaluate, suites_app  # noqa: E402
from medmix.cli.leaderboard_cmd import leaderboard  # noqa: E402
from medmix.cli.merge_cmd import merge_app  # noqa: E402
from medmix.cli.validate_cmd import validate_app  # noqa: E402

app.command(name="evaluate")(evaluate)
app.add_typer(data_app, name="data")
app.add_typer(suites_app, name="suites")
app.add_typer(merge_app, name="merge")
app.command(name="leaderboard")(leaderboard)
app.add_typer(validate_app, name="validate")


def run() -> None:
    """Console-script entry point: run the app; last-resort error handling for anything the commands missed."""
    verbose = any(a in ("-v", "--verbose") for a in sys.argv[1:])
    try:
        app(prog_name="medmix")
    except MedmixError as exc:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"Error: {one_paragraph(exc)}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if verbose:
            traceback.print_exc(file=sys.stderr)
        print(
            f"Unexpected error: {type(exc).__name__}: {one_paragraph(exc)}. Rerun with -v for the traceback.",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    run()

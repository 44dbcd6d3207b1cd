"""`medmix validate …`: thin shells over `medmix.validation` (clinical validation protocols). Every command writes
`<out>/<protocol>/` and re-renders `<out>/report.md` and `<out>/report.html` with every protocol in that folder."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from medmix.cli.common import PluginOpt, VerboseOpt, command_context, make_console, parse_metric_values

validate_app = typer.Typer(help="Clinical validation protocols: reader agreement, sites, COMMUTE, radiomics, "
                                "cost; one report per output folder.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", metavar="DIR", help="Report folder (protocols accumulate in it).")]


def _done(files, verdict: list[str]) -> None:
    """Print the protocol's verdict lines (the report's) and where the report is."""
    console = make_console()
    for line in verdict:
        console.print(line, markup=False)
    report = next((f for f in files if f.name == "report.html"), None)
    console.print(f"wrote {len(files)} files; report: {report}", markup=False)


@validate_app.command("observers")
def observers(
    model: Annotated[Path, typer.Option(metavar="DIR", help="The model's masks (folder, or a run folder with "
                                                             "saved predictions).")],
    reader1: Annotated[Path, typer.Option(metavar="DIR", help="Reference reader E1's masks.")],
    reader2: Annotated[Path, typer.Option(metavar="DIR", help="Second reader E2's masks.")],
    out: OutOpt = Path("validation"),
    metric: Annotated[Optional[list[str]], typer.Option("--metric", "-m", metavar="NAME",
                                                        help="Metrics (default dice, hd95, bahd).",
                                                        show_default=False)] = None,
    margin: Annotated[Optional[list[str]], typer.Option(
        "--margin", metavar="METRIC=VALUE", help="Non-inferiority margin (default dice=0.05; distances are "
                                                 "described unless given one, in mm).", show_default=False)] = None,
    alpha: Annotated[float, typer.Option(metavar="P", help="Level of the one-sided test.")] = 0.05,
    bootstrap: Annotated[int, typer.Option(metavar="N", help="Bootstrap draws for the interval.")] = 2000,
    seed: Annotated[int, typer.Option(metavar="N", help="Bootstrap seed.")] = 0,
    spacing: Annotated[Optional[str], typer.Option(metavar="X,Y,Z", help="Spacing in mm per array axis, "
                                                                         "overriding the headers.")] = None,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Inter-observer benchmark: is model–expert agreement non-inferior to expert–expert agreement?"""
    with command_context(plugin, verbose):
        from medmix.validation.observers import DEFAULT_METRICS, inter_observer, observer_verdict, write_observers

        result = inter_observer(model, reader1, reader2, metrics=tuple(metric) if metric else DEFAULT_METRICS,
                                margins=parse_metric_values(margin, "--margin", "dice=0.05 or hd95=2") if margin
                                else None, alpha=alpha, n_bootstrap=bootstrap,
                                seed=seed, spacing=spacing)
        _done(write_observers(result, out), observer_verdict(result))


@validate_app.command("sites")
def sites(
    inputs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR|RESULTS.csv...",
                                                 help="Per-case results (as for `medmix leaderboard`).",
                                                 show_default=False)],
    internal: Annotated[list[str], typer.Option("--internal", metavar="SITE",
                                                help="Internal site(s) (repeatable).", show_default=False)],
    site_table: Annotated[Optional[Path], typer.Option("--sites", metavar="SITES.csv",
                                                       help="Case → site table (columns case, site[, task]).",
                                                       show_default=False)] = None,
    site_pattern: Annotated[Optional[str], typer.Option(metavar="REGEX",
                                                        help="Site = the first group of this regex in the case id.",
                                                        show_default=False)] = None,
    from_entry: Annotated[bool, typer.Option("--from-entry", help="Site = the card entry of '<entry>/<case>' ids "
                                                                  "(tasks built from several datasets).")] = False,
    out: OutOpt = Path("validation"),
    metric: Annotated[str, typer.Option("--metric", "-m", metavar="NAME")] = "dice",
    max_drop: Annotated[float, typer.Option(metavar="D", help="Flag a median drop above this.")] = 0.05,
    name: Annotated[Optional[list[str]], typer.Option("--name", metavar="NAME", help="Algorithm name per run "
                                                                                     "folder.", show_default=False)]
    = None,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Multi-site generalisation: per-site median [IQR], internal vs external sites, drop flag, Mann-Whitney."""
    with command_context(plugin, verbose):
        from medmix.errors import InputError
        from medmix.validation.sites import site_generalisation, site_table as read_sites, site_verdict, write_sites

        given = [x for x in (site_table, site_pattern, from_entry or None) if x is not None]
        if len(given) != 1:
            raise InputError("say where sites come from with exactly one of --sites SITES.csv, --site-pattern REGEX "
                             "or --from-entry.")
        sites_arg = read_sites(site_table) if site_table else (f"re:{site_pattern}" if site_pattern else "entry")
        result = site_generalisation(inputs, sites_arg, internal, metric=metric, max_drop=max_drop, names=name)
        _done(write_sites(result, out), site_verdict(result))


@validate_app.command("commute")
def commute(
    ratings: Annotated[Path, typer.Argument(metavar="RATINGS.csv", help="case, rating (1–4)[, edit_time, "
                                                                        "manual_time, dose_auto, dose_manual].")],
    auto: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Automatic contours (for the surface Dice "
                                                                     "of the edits).", show_default=False)] = None,
    edited: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Edited contours.", show_default=False)]
    = None,
    tolerance_mm: Annotated[float, typer.Option(metavar="MM", help="Surface Dice tolerance.")] = 2.0,
    out: OutOpt = Path("validation"),
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """COMMUTE readiness: acceptable share (≥ 85%), time reduction (≥ 50%), dosimetric difference (≤ 2%)."""
    with command_context(plugin, verbose):
        from medmix.validation.commute import commute_readiness, commute_verdict, write_commute

        result = commute_readiness(ratings, auto=auto, edited=edited, tolerance_mm=tolerance_mm)
        _done(write_commute(result, out), commute_verdict(result))


@validate_app.command("cost")
def cost(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR...", help="Evaluation run folders.",
                                               show_default=False)],
    out: OutOpt = Path("validation"),
    name: Annotated[Optional[list[str]], typer.Option("--name", metavar="NAME", show_default=False)] = None,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Parameters, ms per slice and peak memory of each evaluated model, side by side."""
    with command_context(plugin, verbose):
        from medmix.validation.cost import cost_table, cost_verdict, write_cost

        table = cost_table(runs, name)
        _done(write_cost(table, out), cost_verdict(table))


@validate_app.command("radiomics")
def radiomics(
    run: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="An evaluation run folder with saved predictions "
                                                                 "(`medmix evaluate --save-predictions`).")],
    out: OutOpt = Path("validation"),
    task: Annotated[Optional[list[str]], typer.Option("--task", metavar="NAME", help="Only these tasks.",
                                                      show_default=False)] = None,
    feature: Annotated[Optional[list[str]], typer.Option(
        "--feature", metavar="NAME", help="Features or groups (shape, firstorder); default all.",
        show_default=False)] = None,
    form: Annotated[str, typer.Option(metavar="FORM", help="ICC1_1, ICC2_1, ICC3_1 (or the _k forms).")]
    = "ICC3_1",
    bin_width: Annotated[float, typer.Option(metavar="W", help="Intensity bin width (entropy, uniformity).")]
    = 25.0,
    data_root: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Prepared datasets (as for evaluate).",
                                                      show_default=False)] = None,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Radiomics agreement: ICC of shape and first-order features, predicted vs reference masks, over cases."""
    with command_context(plugin, verbose):
        from medmix.validation.radiomics import agreement_summary, radiomics_cases, radiomics_verdict, write_radiomics
        from medmix.validation.runs import run_cases

        pairs = [(f"{c.task}/{c.case_id}", c.image, c.prediction, c.reference, c.spacing_mm)
                 for c in run_cases(run, data_root, task)]
        cases = radiomics_cases(pairs, features=feature, bin_width=bin_width)
        summary = agreement_summary(cases, form=form)
        _done(write_radiomics(summary, out, cases=cases), radiomics_verdict(summary))

"""`medmix evaluate`, `medmix suites list` and `medmix data prepare`: thin shells over medmix.evaluation / medmix.data."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from medmix.cli.common import PluginOpt, VerboseOpt, command_context, fmt_value, make_console

data_app = typer.Typer(help="Prepare datasets into the harness layout.", no_args_is_help=True, rich_markup_mode=None)
suites_app = typer.Typer(help="Inspect evaluation suites and task cards.", no_args_is_help=True,
                         rich_markup_mode=None)


def evaluate(
    config_file: Annotated[Optional[Path], typer.Option(
        "--config", metavar="EVAL.yaml",
        help="An evaluation config (the fields below; relative paths resolve against its folder); options given on "
             "the command line override it.", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option(
        "--model", metavar="SPEC|CONFIG.yaml",
        help="Model adapter spec ('tiny', 'litemedsam', 'sam:vit_b:CKPT', 'medsam:CKPT', 'medicosam:CKPT', "
             "'merged:DIR') or a YAML model config (also 'adapter: ensemble' with method mean / majority / "
             "staple and members).", show_default=False)] = None,
    predictions: Annotated[Optional[Path], typer.Option(
        "--predictions", metavar="DIR", help="Folder of predicted masks named by case (no model needed).",
        show_default=False)] = None,
    suite: Annotated[Optional[str], typer.Option(
        "--suite", metavar="NAME|PATH", help="Suite name (phantom25, mni, medsamix25, …) or a suite YAML file "
                                             "[default: phantom25].", show_default=False)] = None,
    split: Annotated[Optional[str], typer.Option(help="test, calibration or all [default: test].",
                                                 show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", metavar="DIR", help="Run folder (re-run the same command to resume) [default: runs/evaluate].",
        show_default=False)] = None,
    data_root: Annotated[Optional[Path], typer.Option(
        "--data-root", metavar="DIR", help="Prepared datasets (default: $MEDMIX_DATA).", show_default=False)] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", help="Only these tasks (repeatable).",
                                                      show_default=False)] = None,
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", "-m", help="Override the cards' metrics (repeatable).", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for jittered prompts (default: each card's own).",
                                                show_default=False)] = None,
    protocol: Annotated[Optional[str], typer.Option(
        "--protocol", metavar="NAME[:drop_last_volume=true]",
        help="medmix (each card and model as configured) or medsamix (MedSAMix's released evaluation, exactly); "
             "default: the suite's (medmix).", show_default=False)] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 … (default: cuda when available).",
                                                  show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Slices per encoder batch.", show_default=False)] = None,
    max_cases: Annotated[Optional[int], typer.Option(help="At most this many cases per task.",
                                                     show_default=False)] = None,
    prompt: Annotated[Optional[str], typer.Option(
        "--prompt", metavar="KIND[:key=value,…]",
        help="Prompt kind for every task: tight_box, jittered_box, center_point, random_points, box_and_point, "
             "iterative (e.g. 'iterative:start=box,rounds=5', 'random_points:positive=3,negative=1', "
             "'jittered_box:shift_px=0..10'); default: each card's own.", show_default=False)] = None,
    prompts: Annotated[Optional[Path], typer.Option(
        "--prompts", metavar="PROMPTS.json",
        help="Replay the frozen prompts of an earlier run (its prompts.json), so models see the same prompts.",
        show_default=False)] = None,
    sweep: Annotated[Optional[str], typer.Option(
        "--sweep", metavar="PARAM=v1,v2,…",
        help="One run per box-jitter level (shift_px, shift_frac or scale_frac) under --out, plus "
             "robustness.csv and robustness.png (Dice vs jitter).", show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", metavar="N", help="Cases on a local Dask cluster of N workers, one device each (results as a "
                                       "single process gives).", show_default=False)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", metavar="ADDRESS", help="Cases on an existing Dask cluster (e.g. dask-jobqueue on SLURM; "
                                               "data and --out on a shared file system).", show_default=False)] = None,
    max_slices_per_task: Annotated[Optional[int], typer.Option(
        "--max-slices-per-task", metavar="N",
        help="At most N prompted slices per task, spread over its cases (quick looks; metrics cover those "
             "slices only).", show_default=False)] = None,
    save_predictions: Annotated[Optional[bool], typer.Option(
        "--save-predictions/--no-save-predictions", help="Also write predictions as NIfTI [default: no].",
        show_default=False)] = None,
    prediction_label: Annotated[Optional[list[int]], typer.Option(
        "--prediction-label", help="Label ids counted as the target in prediction files (default: any non-zero).",
        show_default=False)] = None,
    overwrite: Annotated[Optional[bool], typer.Option(
        "--overwrite/--no-overwrite", help="Discard results already in --out [default: no].",
        show_default=False)] = None,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Score a model (or a folder of predictions) on a suite; resumable."""
    with command_context(plugin, verbose):
        from medmix.evaluation.config_file import load_evaluation_config
        from medmix.evaluation.runner import EvaluationConfig
        from medmix.evaluation.runner import evaluate as run_evaluation

        fields = load_evaluation_config(config_file) if config_file is not None else {}
        given = {
            "model": _model_spec(model), "predictions": str(predictions) if predictions else None,
            "suite": suite, "split": split, "out_dir": str(out) if out else None,
            "data_root": str(data_root) if data_root else None, "tasks": task or None, "metrics": metric or None,
            "seed": seed, "protocol": protocol, "device": device, "batch_size": batch_size, "max_cases": max_cases,
            "save_predictions": save_predictions, "prediction_labels": prediction_label or None,
            "overwrite": overwrite, "prompt": prompt, "prompts": str(prompts) if prompts else None,
            "max_slices_per_task": max_slices_per_task, "workers": workers, "scheduler": scheduler,
        }
        if given["model"] is not None or given["predictions"] is not None:  # a model on the command line wins
            fields.pop("model", None)
            fields.pop("predictions", None)
        fields.update({k: v for k, v in given.items() if v is not None})
        fields.setdefault("suite", "phantom25")
        fields.setdefault("out_dir", "runs/evaluate")
        config = EvaluationConfig(**fields)
        console = make_console()
        if sweep is not None:
            from medmix.evaluation.sweep import ROBUSTNESS_CSV, ROBUSTNESS_PLOT, evaluate_sweep, parse_sweep

            parameter, levels = parse_sweep(sweep)
            swept = evaluate_sweep(config, parameter, levels, progress=True)
            print_robustness(swept.table, parameter)
            console.print(f"wrote one run per level under {config.out_dir}/, {ROBUSTNESS_CSV} and {ROBUSTNESS_PLOT}")
            return
        result = run_evaluation(config, progress=True)
        print_summary(result.summary)
        print_interactive(result.summary)
        for task_name, why in (result.summary.get("missing_tasks") or {}).items():
            console.print(f"not evaluated: {task_name}: {why}")
        if result.summary.get("protocol_note"):
            console.print(f"note: {result.summary['protocol_note']}")
        for flag in result.summary.get("prompt_flags", []):
            console.print(f"flag: {flag}")
        cost_path = Path(config.out_dir) / "cost.json"
        if cost_path.is_file():
            cost = json.loads(cost_path.read_text())
            parts = [f"{cost['parameters']:,} parameters" if isinstance(cost.get("parameters"), int) else None,
                     f"{cost['ms_per_slice']:.1f} ms per slice on {cost.get('device')}"
                     if isinstance(cost.get("ms_per_slice"), (int, float)) else None,
                     f"peak memory {cost['peak_memory_mb']:,.0f} MB" if cost.get("peak_memory_mb") else None]
            console.print("cost: " + ", ".join(p for p in parts if p))
        lesions = ", lesions.csv" if result.lesions is not None and len(result.lesions) else ""
        clicks = ", clicks.csv" if result.clicks is not None and len(result.clicks) else ""
        prompts_file = ", prompts.json" if "digest" in result.summary.get("prompts", {}) else ""
        console.print(f"wrote {config.out_dir}/cases.csv, cases.parquet, summary.json, cost.json, "
                      f"config.resolved.yaml, provenance.json{prompts_file}{lesions}{clicks}")


def _model_spec(model: Optional[str]):
    """A model config file (YAML/JSON, its checkpoint resolved against the file's folder) as its mapping; any
    other spec as given."""
    if model and model.lower().endswith((".yaml", ".yml", ".json")):
        from medmix.evaluation.config_file import load_model_config

        return load_model_config(model)
    return model


def print_summary(summary: dict) -> None:
    from rich.table import Table

    protocol = (summary.get("protocol") or {}).get("name", "medmix")
    table = Table(title=f"{summary.get('suite')} · {summary.get('split')} split · protocol {protocol}",
                  title_justify="left")
    for col in ("task", "cases", "Dice (slices)", "Dice (3D)", "HD95 mm", "bAHD mm", "staging acc."):
        table.add_column(col, justify="left" if col == "task" else "right")
    for name, task in summary["tasks"].items():
        vol = task["volumetric"]
        sl = task["slicewise"].get("dice", {}).get("pooled_slices", {})
        table.add_row(
            name, str(task["n_cases"]), fmt_value(sl["mean"]) if "mean" in sl else "-",
            *(fmt_value(vol[m]["mean"]) if m in vol else "-" for m in ("dice", "hd95", "bahd")),
            fmt_value(task["staging"]["accuracy"]) if "staging" in task else "",
        )
    overall = summary["overall"]
    table.add_row(
        "mean over tasks", "", fmt_value(overall["slicewise"]["dice"]["mean_over_tasks"])
        if "dice" in overall["slicewise"] else "-",
        *(fmt_value(overall["volumetric"][m]["mean_over_tasks"]) if m in overall["volumetric"] else "-"
          for m in ("dice", "hd95", "bahd")),
        fmt_value(overall["staging_accuracy_mean_over_tasks"]) if "staging_accuracy_mean_over_tasks" in overall
        else "",
    )
    make_console().print(table)


def print_interactive(summary: dict) -> None:
    """Dice after every click, Dice AUC and NoC per task of an iterative run."""
    curves = summary.get("interactive")
    if not curves:
        return
    from rich.table import Table

    clicks = sorted({int(k) for task in curves.values() for k in task.get("dice", {})})
    table = Table(title="iterative refinement: volumetric Dice after each click (mean over cases)",
                  title_justify="left")
    table.add_column("task")
    for k in clicks:
        table.add_column(f"click {k}", justify="right")
    for col in ("Dice AUC", "NoC@85", "NoC@90", "failed@90"):
        table.add_column(col, justify="right")
    for name, task in curves.items():
        vol = summary["tasks"].get(name, {}).get("volumetric", {})
        dice = task.get("dice", {})
        failed = vol.get("noc90_failed", {})
        table.add_row(name, *(fmt_value(dice[k]) if k in dice else "-" for k in clicks),
                      *(fmt_value(vol[m]["mean"]) if m in vol else "-" for m in ("dice_auc", "noc85", "noc90")),
                      f"{round(failed['mean'] * failed['n'])}/{failed['n']}" if "mean" in failed else "-")
    make_console().print(table)


def print_robustness(table, parameter: str) -> None:
    from rich.table import Table

    out = Table(title=f"prompt robustness: slice-wise Dice by {parameter}", title_justify="left")
    levels = sorted(table["level"].unique())
    out.add_column("task")
    for level in levels:
        out.add_column(f"{level:g}", justify="right")
    for task, rows in table.groupby("task", sort=False):
        by_level = dict(zip(rows["level"], rows["slice_dice"]))
        out.add_row(task, *(fmt_value(by_level[v]) if by_level.get(v) is not None else "-" for v in levels))
    make_console().print(out)


@suites_app.command("list")
def suites_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """List built-in suites and their tasks."""
    with command_context(plugin, verbose):
        from medmix.evaluation.suites import list_suites, load_suite

        suites = {name: [c.name for c in load_suite(name).cards] for name in list_suites()}
        if as_json:
            typer.echo(json.dumps(suites, indent=2))
            return
        console = make_console()
        for name, tasks in suites.items():
            console.print(f"{name} ({len(tasks)} tasks): {', '.join(tasks)}")


@suites_app.command("show")
def suites_show(
    name: Annotated[str, typer.Argument(help="Suite name (see `medmix suites list`) or a suite YAML file.",
                                        show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Show a suite's tasks: data, target labels and where each task comes from (provenance)."""
    with command_context(plugin, verbose):
        from medmix.evaluation.suites import load_suite, suite_table

        suite = load_suite(name)
        rows = suite_table(suite)
        if as_json:
            typer.echo(json.dumps({"suite": suite.name, "protocol": suite.protocol.to_dict(), "tasks": rows},
                                  indent=2))
            return
        from rich.table import Table

        table = Table(title=f"{suite.name} ({len(rows)} tasks) · default protocol {suite.protocol.label()}",
                      title_justify="left")
        for column in ("#", "task", "data", "labels", "provenance"):
            table.add_column(column, overflow="fold")
        for i, row in enumerate(rows, 1):
            table.add_row(str(i), row["task"], row["data"], row["labels"], row["provenance"])
        console = make_console()
        console.print(table)
        for i, row in enumerate(rows, 1):
            if row["note"]:
                console.print(f"{i}. {row['task']}: {row['note']}")


@data_app.command("prepare")
def data_prepare(
    dataset: Annotated[str, typer.Argument(help="Dataset converter name (see `medmix data list`).",
                                           show_default=False)],
    src: Annotated[Path, typer.Option("--src", metavar="DOWNLOAD", help="The official release, unpacked.")],
    dst: Annotated[Path, typer.Option("--dst", metavar="ROOT", help="Data root to write the harness layout into.")],
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-o", metavar="KEY=VALUE", help="Converter option, e.g. modality=t1ce (repeatable).",
        show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(help="Rewrite cases already converted.")] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Convert an official dataset release into medmix's harness layout (NIfTI + dataset.json).

    Exits 2 when a case could not be converted (the others are written; re-run to retry only the failures).
    """
    with command_context(plugin, verbose, keep_lines=True):
        from medmix.data.prepare import parse_options, prepare_dataset

        from medmix.progress import Progress

        options = parse_options(dataset, option or [])
        bars: list[Progress] = []

        def progress(done: int, total: int, case_id: str) -> None:
            if not bars:  # the converter knows the total only once it has found the cases
                bars.append(Progress(f"data prepare {dataset}", total, done=done - 1).__enter__())
            bars[0].advance(text=case_id)

        console = make_console()
        try:
            report = prepare_dataset(dataset, src, dst, overwrite=overwrite, progress=progress, **options)
        finally:
            for bar in bars:
                bar.__exit__(None, None, None)
        console.print(f"{dataset}: {report.summary()}")
        for warning in report.warnings:
            console.print(f"warning: {warning}")
        for case_id, reason in report.failed.items():
            console.print(f"failed: {case_id}: {reason}")
        if report.failed:
            raise typer.Exit(2)


@data_app.command("list")
def data_list(
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """List the dataset converters."""
    with command_context(plugin, verbose):
        from medmix.data.prepare import CONVERTERS

        console = make_console()
        for name in CONVERTERS.names():
            doc = (CONVERTERS.get(name).__doc__ or "").strip().splitlines()
            console.print(f"{name:<14} {doc[0] if doc else ''}")

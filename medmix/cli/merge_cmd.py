"""`medmix merge apply` and `medmix merge search`: thin shells over medmix.merging."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from medmix.cli.common import PluginOpt, VerboseOpt, command_context, fmt_value, make_console

merge_app = typer.Typer(help="Merge checkpoints: apply a recipe, or search for one with SMAC.", no_args_is_help=True,
                        rich_markup_mode=None)


@merge_app.command("apply")
def merge_apply(
    recipe: Annotated[Path, typer.Option("--recipe", metavar="R.yaml", help="Merge recipe (see README).")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for merged.pth, merged.safetensors, "
                                      "recipe.yaml, model.json and provenance.json.")],
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Merge the recipe's pool into one checkpoint that plain segment_anything loads."""
    with command_context(plugin, verbose):
        from medmix.merging.apply import apply_recipe

        folder = apply_recipe(recipe, out)
        make_console().print(f"wrote {folder}/merged.pth, merged.safetensors, recipe.yaml, model.json, "
                             f"provenance.json  (evaluate it with --model merged:{folder})")


@merge_app.command("search")
def merge_search(
    config: Annotated[Path, typer.Option("--config", metavar="C.yaml", help="Search config (see configs/).")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Run folder; re-run the same command to resume.")],
    n_trials: Annotated[Optional[int], typer.Option("--n-trials", help="Total trials (overrides the config).",
                                                    show_default=False)] = None,
    walltime: Annotated[Optional[float], typer.Option("--walltime", metavar="SECONDS",
                                                      help="Stop asking for trials after this long.",
                                                      show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Search seed (overrides the config).", show_default=False)]
    = None,
    workers: Annotated[Optional[int], typer.Option(
        help="Parallel trials on a local Dask cluster (one process each; one GPU each when there are GPUs).",
        show_default=False)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        metavar="ADDRESS", help="Use an existing Dask cluster (e.g. tcp://host:8786).", show_default=False)] = None,
    allow_test_split: Annotated[bool, typer.Option(
        "--allow-test-split", help="Let the objective use a split other than calibration (leaks test data).")]
    = False,
    evaluate_test: Annotated[Optional[bool], typer.Option(
        "--evaluate-test/--no-evaluate-test", help="Evaluate the best merge on the test split afterwards.",
        show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(help="Discard the trials already in --out.")] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Search layer-wise merge recipes with SMAC3 on the calibration split; writes the best merged checkpoint."""
    with command_context(plugin, verbose):
        from dataclasses import replace

        from medmix.merging.search import evaluate_best, load_search_config, run_search

        cfg = load_search_config(config)
        settings = cfg.settings
        changes = {k: v for k, v in {"seed": seed, "workers": workers, "scheduler": scheduler,
                                     "evaluate_test": evaluate_test}.items() if v is not None}
        if changes:
            settings = replace(settings, **changes)
        setup = cfg.setup
        if seed is not None:
            setup = replace(setup, seed=seed)
        if allow_test_split:
            setup = replace(setup, allow_test_split=True)
        cfg = replace(cfg, setup=setup, settings=settings)
        result = run_search(cfg, out, overwrite=overwrite, progress=True, n_trials=n_trials, walltime_s=walltime)
        console = make_console()
        t = result.timings
        console.print(f"best trial {result.best['trial']}: mean calibration Dice {fmt_value(result.best['mean_dice'])} "
                      + json.dumps({k: round(v, 4) for k, v in result.best["scores"].items()}))
        console.print(f"{t['n_trials']} trials in {t['wall_s']:.1f} s; per trial: eval {t['eval_s_mean']:.3f} s, "
                      f"merge {t['merge_s_mean'] * 1e3:.1f} ms, optimiser {t['optimiser_s_mean']:.3f} s "
                      f"(max {t['optimiser_s_max']:.2f} s); device busy {t['busy_fraction']:.0%} of wall time")
        console.print(f"wrote {out}/best_recipe.yaml, best/ (merged checkpoint), trials.csv, pareto.csv, "
                      "best_so_far.png, smac/")
        if settings.evaluate_test:
            from medmix.cli.evaluate_cmd import print_summary

            evaluation = evaluate_best(result, cfg, progress=True)
            print_summary(evaluation.summary)
            console.print(f"test-split evaluation of the best merge: {evaluation.out_dir}")

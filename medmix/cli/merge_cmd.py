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
    overwrite: Annotated[bool, typer.Option(help="Replace a merge of another recipe in --out (a merge of the same "
                                            "recipe is replaced anyway).")] = False,
    verbose: VerboseOpt = False,
    plugin: PluginOpt = None,
) -> None:
    """Merge the recipe's pool into one checkpoint that plain segment_anything loads."""
    with command_context(plugin, verbose):
        from medmix.merging.apply import apply_recipe
        from medmix.merging.recipe import load_recipe

        loaded = load_recipe(recipe)
        console = make_console()
        for note in loaded.range_notes():
            console.print(f"note: {note}")
        folder = apply_recipe(loaded, out, overwrite=overwrite)
        console.print(f"wrote {folder}/merged.pth, merged.safetensors, recipe.yaml, model.json, "
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

        from medmix.merging.search import check_search_inputs, evaluate_best, load_search_config, run_search

        cfg = load_search_config(config)
        check_search_inputs(cfg)  # every path the config names, by the path rule, before any work
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
        resumed = t["n_trials"] - t["n_trials_this_session"]
        busy = (f"device busy {t['busy_fraction']:.0%} of this session's wall time" if t["busy_fraction"] is not None
                else "nothing left to run")
        console.print(f"{t['n_trials']} trials ({resumed} resumed from trials.jsonl, {t['n_trials_this_session']} run "
                      f"now in {t['wall_s']:.1f} s); per trial: eval {t['eval_s_mean']:.3f} s, merge "
                      f"{t['merge_s_mean'] * 1e3:.1f} ms, optimiser {t['optimiser_s_mean']:.3f} s (max "
                      f"{t['optimiser_s_max']:.2f} s); {busy}")
        console.print(f"wrote {out}/best_recipe.yaml, best/ (merged checkpoint), trials.csv, pareto.csv, "
                      "best_so_far.png, smac/")
        if settings.evaluate_test:
            from medmix.cli.evaluate_cmd import print_summary

            evaluation = evaluate_best(result, cfg, progress=True)
            print_summary(evaluation.summary)
            console.print(f"test-split evaluation of the best merge: {evaluation.out_dir}")

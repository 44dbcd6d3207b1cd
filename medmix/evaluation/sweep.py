"""Prompt-robustness sweeps: one evaluation per level of a box-jitter parameter, and the Dice-vs-jitter curve.

`medmix evaluate … --prompt jittered_box --sweep shift_px=0,5,10,20`: level L sets the swept jitter range to
[L, L] (every box moved by exactly L pixels along each axis, random sign; or scaled by exactly 1 + L for
`scale_frac`), the other jitter options as given. Each level is a full, resumable run folder
`<out>/<param>=<L>/`; the model is loaded once. `<out>/robustness.csv` holds per level and task the mean
slice-wise Dice (pooled over slices, MedSAMix's), the mean volumetric Dice and NSD when scored, with one
"mean over tasks" row per level; `<out>/robustness.png` plots slice-wise Dice against the level, one line per
task and the mean in bold. Level 0 of `shift_px` is the tight box (plus any scale jitter).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from medmix.errors import ConfigError, close_match_hint

SWEEP_PARAMETERS = ("shift_px", "shift_frac", "scale_frac")
SWEEP_KINDS = ("jittered_box", "box_and_point", "iterative")
ROBUSTNESS_CSV = "robustness.csv"
ROBUSTNESS_PLOT = "robustness.png"
MEAN_ROW = "mean over tasks"


@dataclass
class SweepResult:
    out_dir: Path
    parameter: str
    levels: list[float]
    runs: dict  # level → EvaluationResult
    table: object  # pandas DataFrame (robustness.csv)


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """"shift_px=0,5,10,20" → ("shift_px", [0.0, 5.0, 10.0, 20.0])."""
    name, eq, values = str(text).partition("=")
    name = name.strip()
    if not eq or name not in SWEEP_PARAMETERS:
        raise ConfigError(f"--sweep: expected PARAM=v1,v2,… with PARAM one of {', '.join(SWEEP_PARAMETERS)}, got "
                          f"{text!r}{close_match_hint(name, SWEEP_PARAMETERS)}.")
    try:
        levels = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--sweep {name}: expected numbers separated by commas, got {values!r}.") from None
    if len(levels) < 2 or len(set(levels)) != len(levels):
        raise ConfigError(f"--sweep {name}: give at least two distinct levels, got {values!r}.")
    return name, levels


def level_prompt(prompt, parameter: str, level: float) -> dict:
    """The prompt mapping of one sweep level: `prompt` (text or mapping; default jittered_box) with the swept
    jitter range set to [level, level]."""
    from medmix.data.prompts.spec import parse_prompt_mapping, prompt_text_mapping

    if prompt is None:
        data: dict = {"kind": "jittered_box"}
    elif isinstance(prompt, str):
        data = prompt_text_mapping(prompt)
    else:
        data = dict(prompt)
    if data.get("kind", "tight_box") not in SWEEP_KINDS:
        raise ConfigError(f"--sweep: the prompt kind must jitter a box ({', '.join(SWEEP_KINDS)}), got "
                          f"{data.get('kind', 'tight_box')!r}; e.g. --prompt jittered_box --sweep shift_px=0,5,10.")
    jitter = dict(data.get("jitter") or {})
    jitter.pop("shift_frac" if parameter == "shift_px" else "shift_px" if parameter == "shift_frac" else "", None)
    jitter[parameter] = [float(level), float(level)]
    data["jitter"] = jitter
    parse_prompt_mapping(data, where="prompt", file=f"--sweep {parameter}={level:g}")  # refuse a bad level early
    return data


def evaluate_sweep(config, parameter: str, levels, model=None, *, progress: bool = False) -> SweepResult:
    """One evaluation per level (module docstring); returns the runs and the robustness table."""
    from medmix.evaluation.runner import evaluate

    if config.predictions is not None:
        raise ConfigError("--sweep varies the prompts a model is shown; a predictions folder has its own.")
    if config.prompts is not None:
        raise ConfigError("--sweep generates the prompts of each level; it cannot replay a prompt file (--prompts).")
    prompts = {float(level): level_prompt(config.prompt, parameter, level) for level in levels}
    if model is None:
        from medmix.models import load_model

        model = load_model(config.model, device=config.device, batch_size=config.batch_size,
                           preprocessing=config.preprocessing)
    out_dir = Path(config.out_dir)
    runs = {}
    for level, prompt in prompts.items():
        sub = dataclasses.replace(config, out_dir=str(out_dir / f"{parameter}={level:g}"), prompt=prompt)
        runs[level] = evaluate(sub, model=model, progress=progress)
    table = robustness_table(runs)
    from medmix.atomic import atomic_save

    atomic_save(out_dir / ROBUSTNESS_CSV, lambda p: table.to_csv(p, index=False))
    name = (getattr(model, "name", None) or "model")
    plot_robustness(table, parameter, out_dir / ROBUSTNESS_PLOT, title=f"{name}: Dice vs box jitter")
    return SweepResult(out_dir, parameter, [float(v) for v in levels], runs, table)


def robustness_table(runs: dict):
    """Per level and task: slice-wise Dice (pooled mean), volumetric Dice and NSD means; plus the mean over
    tasks of each per level."""
    import numpy as np
    import pandas as pd

    rows = []
    for level, result in runs.items():
        per_level = []
        for task, summary in result.summary["tasks"].items():
            row = {"level": level, "task": task, "n_cases": summary["n_cases"],
                   "slice_dice": summary["slicewise"].get("dice", {}).get("pooled_slices", {}).get("mean"),
                   "dice": summary["volumetric"].get("dice", {}).get("mean"),
                   "nsd": summary["volumetric"].get("nsd", {}).get("mean")}
            per_level.append(row)
        rows.extend(per_level)
        mean = {"level": level, "task": MEAN_ROW, "n_cases": sum(r["n_cases"] for r in per_level)}
        for key in ("slice_dice", "dice", "nsd"):
            values = [r[key] for r in per_level if r[key] is not None]
            mean[key] = float(np.mean(values)) if values else None
        rows.append(mean)
    return pd.DataFrame(rows, columns=["level", "task", "n_cases", "slice_dice", "dice", "nsd"])


def plot_robustness(table, parameter: str, path: Path, *, title: str) -> Path:
    from medmix.leaderboard.plots import figure, save_png, style

    unit = {"shift_px": "px", "shift_frac": "× box size", "scale_frac": "size change"}[parameter]
    with style():
        fig = figure(6.0, 4.0)
        ax = fig.add_subplot(1, 1, 1)
        for task, rows in table.groupby("task", sort=False):
            rows = rows.sort_values("level")
            bold = task == MEAN_ROW
            ax.plot(rows["level"], rows["slice_dice"], marker="o", linewidth=2.5 if bold else 1.0,
                    alpha=1.0 if bold else 0.6, color="black" if bold else None, label=task)
        ax.set_xlabel(f"{parameter} ({unit})")
        ax.set_ylabel("slice-wise Dice (mean over slices)")
        ax.set_ylim(0.0, 1.0)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if table["task"].nunique() <= 12:
            ax.legend(fontsize=7, loc="lower left")
        return save_png(fig, path)


__all__ = ["SWEEP_PARAMETERS", "SweepResult", "evaluate_sweep", "level_prompt", "parse_sweep", "plot_robustness",
           "robustness_table"]

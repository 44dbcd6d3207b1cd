"""Summaries derived from the long case table (never the other way round)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def describe(values: np.ndarray) -> dict[str, float]:
    """mean, SD (ddof=1), median, IQR (q25, q75), n."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return {"n": 0}
    q25, q75 = np.percentile(values, [25, 75])
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "median": float(np.median(values)),
        "q25": float(q25),
        "q75": float(q75),
        "iqr": float(q75 - q25),
        "min": float(values.min()),
        "max": float(values.max()),
        "n": int(values.size),
    }


def summarise_task(cases: pd.DataFrame, staging: pd.DataFrame | None = None,
                   staging_categories: list[str] | None = None) -> dict:
    """One task's summary: volumetric metrics per case, slice-wise Dice (MedSAMix), staging agreement."""
    volume = cases[cases["slice"] == "volume"]
    out: dict = {"n_cases": int(volume["case"].nunique()), "volumetric": {}, "slicewise": {}}
    for metric, rows in volume.groupby("metric", sort=False):
        stats = describe(rows["value"].to_numpy())
        stats["n_empty_gt"] = int(rows["empty_gt"].sum())
        stats["n_empty_pred"] = int(rows["empty_pred"].sum())
        out["volumetric"][metric] = stats
    slices = cases[cases["slice"] != "volume"]
    for metric, rows in slices.groupby("metric", sort=False):
        per_case = rows.groupby("case", sort=False)["value"].mean()
        out["slicewise"][metric] = {
            # MedSAMix: the metric per 2D reference-foreground slice, averaged over all such slices of the split.
            "pooled_slices": describe(rows["value"].to_numpy()),
            "per_case_mean": describe(per_case.to_numpy()),
        }
    if staging is not None and len(staging):
        from medmix.staging import staging_accuracy

        report = staging_accuracy(list(staging["true_category"]), list(staging["pred_category"]),
                                  staging_categories)
        out["staging"] = report.as_dict()
    return out


def summarise(cases: pd.DataFrame, staging: pd.DataFrame, task_order: list[str],
              staging_categories: dict[str, list[str]]) -> dict:
    """Per-task summaries plus an overall block: the mean over tasks of each task's mean."""
    tasks = {}
    for task in task_order:
        task_cases = cases[cases["task"] == task]
        if task_cases.empty:
            continue
        task_staging = staging[staging["task"] == task] if len(staging) else None
        tasks[task] = summarise_task(task_cases, task_staging, staging_categories.get(task))
    overall: dict = {"n_tasks": len(tasks), "volumetric": {}, "slicewise": {}}
    for block in ("volumetric", "slicewise"):
        metrics = {m for t in tasks.values() for m in t[block]}
        for metric in sorted(metrics):
            means = [t[block][metric]["mean"] if block == "volumetric" else t[block][metric]["pooled_slices"]["mean"]
                     for t in tasks.values() if metric in t[block]]
            overall[block][metric] = {"mean_over_tasks": float(np.mean(means)), "n_tasks": len(means)}
    accs = [t["staging"]["accuracy"] for t in tasks.values() if "staging" in t]
    if accs:
        overall["staging_accuracy_mean_over_tasks"] = float(np.mean(accs))
    return {"tasks": tasks, "overall": overall}


def finite_or_none(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x

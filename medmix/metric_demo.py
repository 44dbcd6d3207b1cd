"""`medmix demo --metrics-only`: score the built-in phantom cases with the default metrics.

This milestone's pipeline is  cases → score → long table → summary → files. Later milestones insert stages
(merge → predict → score → leaderboard) around the same long table, so each stage is its own function:

    cases = builtin_cases()
    table = score_cases(cases, metrics)          # long form: case, label, metric, value, empty_gt, empty_pred
    summary = summarise(table, cases, metrics)   # derived from the long table, never the other way round
    write_outputs(out_dir, table, summary)       # cases.csv + summary.json, each written atomically
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medmix.atomic import atomic_write_text
from medmix.data.phantoms import PhantomCase, builtin_cases

LONG_COLUMNS = ("case", "label", "metric", "value", "empty_gt", "empty_pred")
SUITE = "builtin_phantoms"


@dataclass
class DemoResult:
    """What `run_metric_demo` produced.

    table: pandas DataFrame in long form (columns `LONG_COLUMNS`, one row per case × label × metric).
    summary: the dict written to summary.json. metrics: metric keys in column order. out_dir: where files went.
    """

    table: Any
    summary: dict[str, Any]
    metrics: list[str]
    out_dir: Path | None = None

    def wide(self):
        """One row per (case, label), one column per metric, plus the empty flags (input order kept)."""
        return to_wide(self.table, self.metrics)


def score_cases(cases: Sequence[PhantomCase], metrics: Iterable[str]):
    """Long table of metric values for each case (per label for label-map cases)."""
    import pandas as pd

    from medmix.metrics import compute_label_metrics, compute_metrics, parse_metric

    requests = [parse_metric(m) for m in metrics]
    rows: list[dict[str, Any]] = []
    for case in cases:
        if case.labels is None:
            results = {1: compute_metrics(case.pred, case.gt, requests, case.spacing)}
        else:
            results = compute_label_metrics(case.pred, case.gt, case.labels, requests, case.spacing)
        for label, res in results.items():
            for req in requests:
                rows.append(
                    {"case": case.name, "label": int(label), "metric": req.key, "value": float(res.values[req.key]),
                     "empty_gt": bool(res.empty_gt), "empty_pred": bool(res.empty_pred)}
                )
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS))


def to_wide(table, metrics: Sequence[str]):
    """Pivot the long table to one row per (case, label) with metric columns and the two empty flags."""
    keys = ["case", "label"]
    wide = table.pivot_table(index=keys, columns="metric", values="value", sort=False)
    flags = table.groupby(keys, sort=False)[["empty_gt", "empty_pred"]].first()
    wide = wide.reindex(columns=list(metrics)).join(flags)
    wide.columns.name = None
    return wide.reset_index()


def summarise(table, cases: Sequence[PhantomCase], metrics: Sequence[str]) -> dict[str, Any]:
    """summary.json content: aggregates per metric over all (case, label) rows, flags, case metadata."""
    from medmix import __version__
    from medmix.metrics import get_metric, parse_metric

    aggregates: dict[str, dict[str, float]] = {}
    for key in metrics:
        values = table.loc[table["metric"] == key, "value"]
        aggregates[key] = {
            "mean": float(values.mean()), "median": float(values.median()), "std": float(values.std(ddof=0)),
            "min": float(values.min()), "max": float(values.max()), "n": int(values.size),
        }
    per_row = table.drop_duplicates(["case", "label"])
    metric_info = {}
    for key in metrics:
        spec = get_metric(parse_metric(key).name)
        metric_info[key] = {"higher_is_better": spec.higher_is_better, "units": spec.units,
                            "convention": spec.convention}
    return {
        "medmix_version": __version__,
        "suite": SUITE,
        "n_cases": len(cases),
        "n_rows": int(len(per_row)),
        "aggregates": aggregates,
        "flags": {
            "empty_gt": int(per_row["empty_gt"].sum()),
            "empty_pred": int(per_row["empty_pred"].sum()),
            "both_empty": int((per_row["empty_gt"] & per_row["empty_pred"]).sum()),
        },
        "metrics": metric_info,
        "empty_policy": "both empty: overlap 1, distance 0; one empty: overlap 0, distance = image diagonal (mm)",
        "cases": {
            c.name: {"description": c.description, "shape": list(c.shape), "spacing_mm": list(c.spacing),
                     "labels": list(c.labels) if c.labels else [1]}
            for c in cases
        },
    }


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def write_outputs(out_dir: str | Path, table, summary: dict[str, Any]) -> Path:
    """Write `cases.csv` (the long table) and `summary.json` into `out_dir` (created if needed)."""
    from medmix.errors import InputError

    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"output folder {str(out)!r}: cannot create it ({exc}). Pick a writable folder.") from exc
    if not out.is_dir():
        raise InputError(f"output folder {str(out)!r}: exists and is not a folder. Pick another path.")
    atomic_write_text(out / "cases.csv", table.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(out / "summary.json", json.dumps(_json_safe(summary), indent=2, allow_nan=False) + "\n")
    return out


def run_metric_demo(out_dir: str | Path | None = None, metrics: Sequence[str] | None = None) -> DemoResult:
    """Score every built-in phantom case on `metrics` (default `DEFAULT_METRICS`); write files if `out_dir`."""
    from medmix.metrics import DEFAULT_METRICS, parse_metric

    keys = [parse_metric(m).key for m in (metrics or DEFAULT_METRICS)]
    cases = builtin_cases()
    table = score_cases(cases, keys)
    summary = summarise(table, cases, keys)
    written = write_outputs(out_dir, table, summary) if out_dir is not None else None
    return DemoResult(table=table, summary=summary, metrics=keys, out_dir=written)

"""Inter-observer benchmark: is the model's agreement with the experts as good as the experts' with each other?

Inputs: masks of a reference reader E1, a second reader E2 and the model M, paired by case key
(`medmix.validation.masks`). Per case and metric: m(M, E1), m(M, E2) and m(E2, E1), the second argument being
the reference of the pair (it matters for bAHD, which averages over the reference's points).

Primary comparison, per case: d = [m(M, E1) + m(M, E2)] / 2 − m(E2, E1), oriented so that d > 0 means the model
agrees better (for lower-is-better metrics the sign is flipped). Non-inferiority with margin δ (default Dice
0.05; a distance metric is tested when a margin in mm is given, otherwise only described):

- H0: the median of d ≤ −δ; H1: > −δ. One-sided Wilcoxon signed-rank test of d + δ > 0 (scipy's conventions,
  exact null for small n, `medmix.leaderboard.stats.wilcoxon_greater`);
- the percentile bootstrap 95 % interval of the mean of d (seeded, cases resampled);
- verdict "non-inferior" when p < α and the interval's lower end > −δ, else "not shown" (both must hold: the
  rank test and the mean's interval answer slightly different questions, and a claim needs both).

Secondary: the same with E1 as the only reference, d₁ = m(M, E1) − m(E2, E1) (the model as a substitute for the
second reader).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.errors import InputError

DEFAULT_METRICS = ("dice", "hd95", "bahd")
DEFAULT_MARGINS = {"dice": 0.05}
PAIRS = (("model_e1", "model", "reader1"), ("model_e2", "model", "reader2"), ("e2_e1", "reader2", "reader1"))


@dataclass
class ObserverResult:
    """Per-case values (long: case, metric, pair, value), one summary row per metric and comparison, settings."""

    cases: pd.DataFrame
    summary: pd.DataFrame
    settings: dict[str, Any]
    excluded: dict[str, list[str]] = field(default_factory=dict)  # role → case keys it lacks

    def verdict(self, metric: str = "dice") -> str:
        row = self.summary[(self.summary["metric"] == metric) & (self.summary["comparison"] == "model_vs_experts")]
        return str(row["verdict"].iloc[0]) if len(row) else "not tested"


def _higher_is_better(metric: str) -> bool:
    from medmix.metrics.registry import get_metric

    return get_metric(metric.partition(":")[0]).higher_is_better


def non_inferiority(d: np.ndarray, margin: float | None, *, alpha: float = 0.05, n_bootstrap: int = 2000,
                    seed: int = 0) -> dict[str, Any]:
    """Summary of differences d (n,; positive = model better, NaN dropped) against the margin (see the module
    docstring): n, mean, median, bootstrap 95 % interval of the mean, one-sided p, verdict."""
    from medmix.leaderboard.stats import wilcoxon_greater

    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    out: dict[str, Any] = {"n": int(d.size), "mean_difference": float(d.mean()) if d.size else np.nan,
                           "median_difference": float(np.median(d)) if d.size else np.nan, "margin": margin}
    if d.size:
        rng = np.random.default_rng(seed)
        means = d[rng.integers(0, d.size, size=(n_bootstrap, d.size))].mean(axis=1)
        out["ci_low"], out["ci_high"] = (float(x) for x in np.quantile(means, [0.025, 0.975]))
    else:
        out["ci_low"] = out["ci_high"] = np.nan
    if margin is None or d.size == 0:
        out["p_value"] = np.nan
        out["verdict"] = "described only (no margin)" if margin is None else "no case"
        return out
    out["p_value"] = float(wilcoxon_greater(d + margin))
    shown = out["p_value"] < alpha and out["ci_low"] > -margin
    out["verdict"] = "non-inferior" if shown else "not shown"
    return out


def inter_observer(model, reader1, reader2, *, metrics=DEFAULT_METRICS, margins: dict[str, float] | None = None,
                   alpha: float = 0.05, n_bootstrap: int = 2000, seed: int = 0, spacing=None) -> ObserverResult:
    """Score M–E1, M–E2, E2–E1 on every common case and test model–expert against expert–expert agreement.

    model, reader1, reader2: mask folders or run folders with predictions. metrics: metric keys (default Dice,
    HD95, bAHD). margins: metric → non-inferiority margin in the metric's units (default {"dice": 0.05}).
    spacing: mm per axis overriding the file headers (default: the reference reader's header)."""
    from medmix.metrics import compute_metrics, parse_metric
    from medmix.scoring import load_pair, parse_spacing
    from medmix.validation.masks import paired_cases

    metrics = [parse_metric(m).key for m in metrics]
    if not metrics:
        raise InputError("no metric requested; name at least one (e.g. dice).")
    margins = dict(DEFAULT_MARGINS if margins is None else margins)
    unknown = [m for m in margins if m not in metrics]
    if unknown:
        raise InputError(f"margin given for {', '.join(unknown)}, which is not among the metrics "
                         f"({', '.join(metrics)}).")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1), got {alpha}.")
    explicit = parse_spacing(spacing)
    cases, index, lacking = paired_cases({"model": model, "reader1": reader1, "reader2": reader2})
    rows = []
    for case in cases:
        for pair, pred_role, ref_role in PAIRS:
            pred, ref, spacing_mm, _ = load_pair(index[pred_role][case], index[ref_role][case], explicit)
            result = compute_metrics(pred.array, ref.array, metrics, spacing_mm)
            rows += [{"case": case, "metric": m, "pair": pair, "value": float(result.values[m])} for m in metrics]
    table = pd.DataFrame(rows, columns=["case", "metric", "pair", "value"])
    summary = []
    for metric in metrics:
        wide = table[table["metric"] == metric].pivot(index="case", columns="pair", values="value").reindex(cases)
        sign = 1.0 if _higher_is_better(metric) else -1.0
        experts = wide["e2_e1"].to_numpy()
        both = (wide["model_e1"].to_numpy() + wide["model_e2"].to_numpy()) / 2.0
        comparisons = (("model_vs_experts", both), ("model_as_reader2", wide["model_e1"].to_numpy()))
        for comparison, model_agreement in comparisons:
            d = sign * (np.asarray(model_agreement, dtype=float) - experts)
            stats = non_inferiority(d, margins.get(metric), alpha=alpha, n_bootstrap=n_bootstrap, seed=seed)
            summary.append({"metric": metric, "comparison": comparison,
                            "model_expert_mean": float(np.nanmean(model_agreement)),
                            "expert_expert_mean": float(np.nanmean(experts)), **stats})
    settings = {"metrics": metrics, "margins": margins, "alpha": alpha, "n_bootstrap": n_bootstrap, "seed": seed,
                "sources": {"model": Path(model).name, "reader1": Path(reader1).name, "reader2": Path(reader2).name},
                "n_cases": len(cases)}
    return ObserverResult(cases=table, summary=pd.DataFrame(summary), settings=settings, excluded=lacking)


def observer_figure(result: ObserverResult, metric: str = "dice"):
    """Left: per case, the three agreements (M–E1, M–E2, E2–E1) joined by a line, boxes behind. Right: the
    per-case differences d (model–experts minus expert–expert) with the margin and the bootstrap interval."""
    from medmix.leaderboard.plots import figure

    table = result.cases[result.cases["metric"] == metric]
    wide = table.pivot(index="case", columns="pair", values="value")
    pairs = ["model_e1", "model_e2", "e2_e1"]
    fig = figure(8.0, 3.4)
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    left.boxplot([wide[p].dropna().to_numpy() for p in pairs], positions=range(3), widths=0.5, showfliers=False)
    for _, row in wide.iterrows():
        left.plot(range(3), [row[p] for p in pairs], color="0.6", linewidth=0.6, marker="o", markersize=3)
    left.set_xticks(range(3))
    left.set_xticklabels(["model–E1", "model–E2", "E2–E1"], fontsize=8)
    left.set_ylabel(metric, fontsize=8)
    left.set_title(f"Agreement per case ({len(wide)} cases)", fontsize=9)
    row = result.summary[(result.summary["metric"] == metric) &
                         (result.summary["comparison"] == "model_vs_experts")].iloc[0]
    sign = 1.0 if _higher_is_better(metric) else -1.0
    d = sign * ((wide["model_e1"] + wide["model_e2"]) / 2 - wide["e2_e1"])
    spread = np.linspace(-0.15, 0.15, len(d)) if len(d) > 1 else np.zeros(len(d))
    right.scatter(spread, d.to_numpy(), s=12, color="C0")
    right.errorbar([0.35], [row["mean_difference"]], yerr=[[row["mean_difference"] - row["ci_low"]],
                                                           [row["ci_high"] - row["mean_difference"]]],
                   fmt="o", color="black", capsize=4)
    if row["margin"] is not None and np.isfinite(row["margin"]):
        right.axhline(-row["margin"], color="C3", linestyle="--", linewidth=1)
        right.text(0.5, -row["margin"], f" −δ = {-row['margin']:g}", color="C3", fontsize=7, va="bottom")
    right.axhline(0, color="0.5", linewidth=0.6)
    right.set_xlim(-0.4, 0.8)
    right.set_xticks([])
    right.set_ylabel("model–experts − expert–expert", fontsize=8)
    right.set_title(f"{row['verdict']} (p = {row['p_value']:.3g})" if np.isfinite(row["p_value"]) else
                    row["verdict"], fontsize=9)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
    return fig


def observer_verdict(result: ObserverResult) -> list[str]:
    """One line per metric: model–experts against expert–expert agreement, the interval, the test's verdict."""
    verdict = []
    for row in result.summary[result.summary["comparison"] == "model_vs_experts"].to_dict("records"):
        line = (f"{row['metric']}: model–experts {row['model_expert_mean']:.3f} vs expert–expert "
                f"{row['expert_expert_mean']:.3f}; difference {row['mean_difference']:+.3f} "
                f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] over {row['n']} cases")
        if pd.notna(row["margin"]):
            line += f"; one-sided Wilcoxon p = {row['p_value']:.3g} against −δ = {-row['margin']:g}: {row['verdict']}"
        else:
            line += f": {row['verdict']}"
        verdict.append(line + ".")
    return verdict


def write_observers(result: ObserverResult, out_dir) -> list:
    """`<out>/observers/` (summary.csv, cases.csv, figure.png, result.json) and the report."""
    from medmix.validation.report import write_protocol

    verdict = observer_verdict(result)
    notes = [f"{role} lacks {len(keys)} case(s) the others have (left out): {', '.join(keys[:8])}"
             for role, keys in result.excluded.items()]
    figure = observer_figure(result, "dice") if "dice" in result.settings["metrics"] else None
    wide = result.cases.pivot_table(index=["case", "metric"], columns="pair", values="value").reset_index()
    wide.columns.name = None
    return write_protocol(out_dir, "observers", settings=result.settings, verdict=verdict,
                          tables={"summary": result.summary, "cases": wide}, figure=figure, notes=notes)

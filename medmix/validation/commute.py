"""COMMUTE readiness: would clinicians use the automatic contours? Expert ratings, editing time, dosimetry.

Input: a CSV with one row per case (and optionally per rater): `case`, `rating` (1 = acceptable as is,
2 = acceptable with minor edits, 3 = major edits needed, 4 = not acceptable), optionally `edit_time` (time to
edit the automatic contour) with `manual_time` (time to contour from scratch; same unit, any unit), and
`dose_auto` with `dose_manual` (a dose metric of the plan on the automatic vs the manual contour, e.g. D95 in Gy)
or `dose_difference_percent`. Optional mask folders of the automatic and of the edited contours give the
surface Dice (NSD at `tolerance_mm`, default 2 mm) between them per case: how much the experts changed.

Criteria (the seed review's targets), each reported with its value, target and whether it is met:

- share of ratings 1–2 ≥ 85 % (Wilson 95 % interval reported too);
- time reduction 1 − Σ edit_time / Σ manual_time ≥ 50 % (per-case median reduction reported too);
- mean absolute dosimetric difference |dose_auto − dose_manual| / dose_manual ≤ 2 % (maximum reported too).
A criterion whose columns are absent is "not assessed", not failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.errors import InputError

RATINGS = {1: "acceptable as is", 2: "minor edits", 3: "major edits", 4: "not acceptable"}
TARGETS = {"acceptable_share": 0.85, "time_reduction": 0.50, "dose_difference_percent": 2.0}


@dataclass
class CommuteResult:
    cases: pd.DataFrame  # the input rows plus dose_difference_percent and surface_dice where computed
    criteria: pd.DataFrame  # criterion, value, target, met, detail
    ratings: pd.DataFrame  # rating, meaning, n, share, mean surface_dice
    settings: dict[str, Any]

    def ready(self) -> bool:
        """Every assessed criterion met (and at least one assessed)."""
        assessed = self.criteria[self.criteria["met"].notna()]
        return bool(len(assessed)) and bool(assessed["met"].astype(bool).all())


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default); (NaN, NaN) for n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def read_ratings(path: str | Path) -> pd.DataFrame:
    """The ratings CSV (module docstring), validated: ratings 1–4, times ≥ 0, doses > 0."""
    try:
        table = pd.read_csv(path, dtype={"case": str}, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc}).") from None
    return check_ratings(table, str(path))


def check_ratings(table: pd.DataFrame, where: str = "ratings") -> pd.DataFrame:
    missing = [c for c in ("case", "rating") if c not in table.columns]
    if missing:
        raise InputError(f"{where}: missing column(s) {', '.join(missing)}; expected case, rating (1–4) and "
                         "optionally edit_time, manual_time, dose_auto, dose_manual or dose_difference_percent.")
    table = table.copy()
    table["case"] = table["case"].astype(str)
    rating = pd.to_numeric(table["rating"], errors="coerce")
    bad = ~rating.isin(list(RATINGS))
    if bad.any():
        row = table[bad].iloc[0]
        raise InputError(f"{where}: rating {row['rating']!r} for case {row['case']!r} is not 1, 2, 3 or 4 "
                         f"({'; '.join(f'{k} = {v}' for k, v in RATINGS.items())}).")
    table["rating"] = rating.astype(int)
    pairs = (("edit_time", "manual_time"), ("dose_auto", "dose_manual"))
    for first, second in pairs:
        if (first in table) != (second in table):
            raise InputError(f"{where}: {first} and {second} come together; the table has only "
                             f"{first if first in table else second}.")
    for column in ("edit_time", "manual_time", "dose_auto", "dose_manual", "dose_difference_percent"):
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce")
            negative = table[column] < 0
            if negative.any():
                raise InputError(f"{where}: {column} is negative for case {table.loc[negative, 'case'].iloc[0]!r}.")
    if "dose_manual" in table and (table["dose_manual"] == 0).any():
        raise InputError(f"{where}: dose_manual is 0 for case {table.loc[table['dose_manual'] == 0, 'case'].iloc[0]!r}"
                         "; the relative difference needs a non-zero reference dose.")
    return table


def commute_readiness(ratings, *, auto=None, edited=None, tolerance_mm: float = 2.0, spacing=None) -> CommuteResult:
    """Assess the criteria (module docstring). ratings: CSV path or DataFrame; auto, edited: mask folders."""
    table = read_ratings(ratings) if not isinstance(ratings, pd.DataFrame) else check_ratings(ratings)
    criteria = []
    n = len(table)
    ok = int((table["rating"] <= 2).sum())
    low, high = wilson_interval(ok, n)
    share = ok / n if n else float("nan")
    criteria.append({"criterion": "acceptable with minor or no edits", "value": share,
                     "target": f"≥ {TARGETS['acceptable_share']:.0%}", "met": share >= TARGETS["acceptable_share"],
                     "detail": f"{ok} of {n} ratings are 1–2; Wilson 95% [{low:.2f}, {high:.2f}]"})
    if "edit_time" in table:
        times = table[["edit_time", "manual_time"]].dropna()
        reduction = 1.0 - times["edit_time"].sum() / times["manual_time"].sum() if len(times) else float("nan")
        per_case = (1.0 - times["edit_time"] / times["manual_time"]).median() if len(times) else float("nan")
        criteria.append({"criterion": "time reduction", "value": reduction,
                         "target": f"≥ {TARGETS['time_reduction']:.0%}",
                         "met": bool(reduction >= TARGETS["time_reduction"]) if np.isfinite(reduction) else None,
                         "detail": f"1 − Σ edit / Σ manual over {len(times)} cases; per-case median {per_case:.2f}"})
    else:
        criteria.append({"criterion": "time reduction", "value": np.nan, "target": "≥ 50%", "met": None,
                         "detail": "not assessed (no edit_time / manual_time columns)"})
    if "dose_auto" in table:
        table["dose_difference_percent"] = 100.0 * (table["dose_auto"] - table["dose_manual"]).abs() / \
            table["dose_manual"]
    if "dose_difference_percent" in table:
        dose = table["dose_difference_percent"].abs().dropna()
        mean = float(dose.mean()) if len(dose) else float("nan")
        criteria.append({"criterion": "dosimetric difference", "value": mean,
                         "target": f"≤ {TARGETS['dose_difference_percent']:g}%",
                         "met": bool(mean <= TARGETS["dose_difference_percent"]) if np.isfinite(mean) else None,
                         "detail": f"mean |Δ| over {len(dose)} cases; max {dose.max():.2f}%, "
                                   f"{int((dose <= 2).sum())} of {len(dose)} within 2%"})
    else:
        criteria.append({"criterion": "dosimetric difference", "value": np.nan, "target": "≤ 2%", "met": None,
                         "detail": "not assessed (no dose columns)"})
    if (auto is None) != (edited is None):
        raise InputError("give both the automatic and the edited contours (--auto and --edited), or neither.")
    if auto is not None:
        table = table.merge(edit_surface_dice(auto, edited, tolerance_mm, spacing), on="case", how="left")
    ratings_rows = []
    for rating, meaning in RATINGS.items():
        part = table[table["rating"] == rating]
        row = {"rating": rating, "meaning": meaning, "n": len(part), "share": len(part) / n if n else np.nan}
        if "surface_dice" in table:
            row["mean_surface_dice"] = float(part["surface_dice"].mean()) if len(part) else np.nan
        ratings_rows.append(row)
    settings = {"n_rows": n, "n_cases": int(table["case"].nunique()), "targets": TARGETS,
                "surface_dice_tolerance_mm": tolerance_mm if auto is not None else None}
    if "surface_dice" in table and table["surface_dice"].notna().sum() > 2:
        from scipy.stats import spearmanr

        valid = table.dropna(subset=["surface_dice"])
        settings["spearman_rating_vs_surface_dice"] = float(spearmanr(valid["rating"], valid["surface_dice"])[0])
    return CommuteResult(cases=table, criteria=pd.DataFrame(criteria), ratings=pd.DataFrame(ratings_rows),
                         settings=settings)


def edit_surface_dice(auto, edited, tolerance_mm: float = 2.0, spacing=None) -> pd.DataFrame:
    """case, surface_dice (NSD at `tolerance_mm` between the automatic and the edited contour), dice."""
    from medmix.metrics import compute_metrics
    from medmix.scoring import load_pair, parse_spacing
    from medmix.validation.masks import paired_cases

    cases, index, _ = paired_cases({"auto": auto, "edited": edited})
    explicit = parse_spacing(spacing)
    key = f"nsd:tolerance_mm={tolerance_mm:g}"
    rows = []
    for case in cases:
        pred, ref, spacing_mm, _ = load_pair(index["auto"][case], index["edited"][case], explicit)
        result = compute_metrics(pred.array, ref.array, [key, "dice"], spacing_mm)
        rows.append({"case": case, "surface_dice": float(result.values[key]), "dice": float(result.values["dice"])})
    return pd.DataFrame(rows, columns=["case", "surface_dice", "dice"])


def commute_figure(result: CommuteResult):
    """Left: ratings 1–4 as bars (target line at 85 % for 1–2). Right: edit vs manual time per case, or the
    surface Dice per rating when given."""
    from medmix.leaderboard.plots import figure

    fig = figure(8.0, 3.2)
    left, right = fig.subplots(1, 2)
    ratings = result.ratings
    left.bar(ratings["rating"], ratings["share"], color=["C2", "C2", "C1", "C3"])
    left.set_xticks(list(RATINGS))
    left.set_xticklabels([f"{k}\n{v}" for k, v in RATINGS.items()], fontsize=6)
    left.set_ylabel("share of ratings", fontsize=8)
    ok = float(ratings.loc[ratings["rating"] <= 2, "share"].sum())
    left.set_title(f"ratings 1–2: {ok:.0%} (target ≥ 85%)", fontsize=9)
    cases = result.cases
    if "edit_time" in cases:
        right.scatter(cases["manual_time"], cases["edit_time"], s=12)
        top = float(np.nanmax(cases[["manual_time", "edit_time"]].to_numpy())) if len(cases) else 1.0
        right.plot([0, top], [0, top], color="0.6", linewidth=0.8)
        right.plot([0, top], [0, top / 2], color="C3", linestyle="--", linewidth=0.8, label="50% reduction")
        right.set_xlabel("manual contouring time", fontsize=8)
        right.set_ylabel("editing time", fontsize=8)
        right.legend(fontsize=6, frameon=False)
        right.set_title("time per case", fontsize=9)
    elif "surface_dice" in cases:
        right.scatter(cases["rating"], cases["surface_dice"], s=12)
        right.set_xlabel("rating", fontsize=8)
        right.set_ylabel("surface Dice auto vs edited", fontsize=8)
    else:
        right.set_visible(False)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
    return fig


def commute_verdict(result: CommuteResult) -> list[str]:
    """One line per criterion (value, target, met / NOT met / not assessed), then the overall readiness."""
    verdict = []
    for row in result.criteria.to_dict("records"):
        state = "not assessed" if row["met"] is None else ("met" if row["met"] else "NOT met")
        value = "" if row["value"] != row["value"] else (f"{row['value']:.1%}" if "%" in row["target"] and
                                                          row["criterion"] != "dosimetric difference"
                                                          else f"{row['value']:.2f}%")
        verdict.append(f"{row['criterion']}: {value} (target {row['target']}) — {state}; {row['detail']}.")
    verdict.append("COMMUTE readiness: " + ("ready (every assessed criterion met)." if result.ready() else
                                            "not ready."))
    return verdict


def write_commute(result: CommuteResult, out_dir) -> list:
    """`<out>/commute/` (criteria.csv, ratings.csv, cases.csv, figure.png, result.json) and the report."""
    from medmix.validation.report import write_protocol

    return write_protocol(out_dir, "commute", settings=result.settings, verdict=commute_verdict(result),
                          tables={"criteria": result.criteria, "ratings": result.ratings, "cases": result.cases},
                          figure=commute_figure(result))

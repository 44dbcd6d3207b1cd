"""Multi-site generalisation: does the model keep its Dice on sites it was not developed on?

Inputs: per-case results (evaluation run folders, long CSVs or grand-challenge metrics.json: anything
`medmix.leaderboard.read_inputs` reads) and where each case comes from, by one of:

- a table (CSV with columns case, site and optionally task; a row without task applies to every task);
- `site_pattern`, a regular expression whose first group (or the whole match) of the case id is the site;
- "entry": the card entry the case comes from — medmix names the cases of a task built from several datasets
  `<entry>/<case>`, so the entry (one dataset = one site) is the id's first part.

Per algorithm × task × site: n, median and IQR of the metric. Internal sites (given; the ones the model was
developed or tuned on) are pooled against the external ones: the drop = median internal − median external (for
lower-is-better metrics, external − internal), flagged when it exceeds `max_drop` (the seed's target: 0.05 Dice),
with a two-sided Mann-Whitney U test of internal against external values; each external site is also compared
with the pooled internal sites.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.errors import InputError, UnknownNameError


@dataclass
class SiteResult:
    per_site: pd.DataFrame  # algorithm, task, site, group, n, median, q25, q75
    comparisons: pd.DataFrame  # algorithm, task, external (site or "all external"), drop, flagged, p_value, …
    settings: dict[str, Any]
    unassigned: list[str]


def site_table(path: str | Path) -> pd.DataFrame:
    """Read a case → site CSV (columns case, site, optional task)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc}).") from None
    missing = [c for c in ("case", "site") if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected case, site and optionally task "
                         f"(got {', '.join(table.columns)}).")
    return table


def assign_sites(table: pd.DataFrame, sites) -> pd.Series:
    """Site per row of a long results table (NaN where unknown). `sites`: DataFrame, mapping case → site, a
    compiled/str regular expression (`re.Pattern` or "re:<pattern>"), or "entry"."""
    cases = table["case"].astype(str)
    if isinstance(sites, str) and sites == "entry":
        return cases.map(lambda c: c.split("/", 1)[0] if "/" in c else np.nan)
    if isinstance(sites, re.Pattern) or (isinstance(sites, str) and sites.startswith("re:")):
        pattern = sites if isinstance(sites, re.Pattern) else re.compile(sites[3:])

        def site_of(case: str):
            match = pattern.search(case)
            if not match:
                return np.nan
            return match.group(1) if pattern.groups else match.group(0)

        return cases.map(site_of)
    if isinstance(sites, Mapping):
        return cases.map(lambda c: sites.get(c, np.nan))
    if isinstance(sites, pd.DataFrame):
        frame = sites.astype(str)
        with_task = frame[frame["task"] != ""] if "task" in frame else frame.iloc[0:0]
        general = frame[frame["task"] == ""] if "task" in frame else frame
        by_case = dict(zip(general["case"], general["site"]))
        by_task = dict(zip(zip(with_task["task"], with_task["case"]), with_task["site"])) if len(with_task) else {}
        return pd.Series([by_task.get((t, c), by_case.get(c, np.nan)) for t, c in zip(table["task"], cases)],
                         index=table.index)
    raise InputError("sites: give a case → site table, a regular expression ('re:…') or 'entry'.")


def site_generalisation(inputs, sites, internal: Sequence[str], *, metric: str = "dice", max_drop: float = 0.05,
                        alpha: float = 0.05, names: Sequence[str] | None = None) -> SiteResult:
    """Per-site statistics and internal-vs-external drops (module docstring). `internal`: the internal sites."""
    from scipy.stats import mannwhitneyu

    from medmix.leaderboard import read_inputs, resolve_metric
    from medmix.leaderboard.stats import describe

    data = read_inputs(inputs, list(names) if names is not None else None)
    info = resolve_metric(metric, list(dict.fromkeys(data.table["metric"])))
    table = data.table[data.table["metric"] == info.key].copy()
    if table.empty:
        raise InputError(f"metric {info.key!r} is not in the inputs; they hold "
                         f"{', '.join(dict.fromkeys(data.table['metric']))}.")
    table["site"] = assign_sites(table, sites)
    unassigned = sorted(set(table.loc[table["site"].isna(), "case"].astype(str)))
    table = table[table["site"].notna()]
    known = sorted(set(table["site"]))
    if not known:
        example = data.table["case"].iloc[0]
        how = ("with sites from the card entry, case ids look like '<entry>/<case>' (tasks built from several "
               "datasets); these do not" if isinstance(sites, str) and sites == "entry" else
               "check the site table's case ids or the pattern")
        raise InputError(f"no case could be given a site: {how} (e.g. {example!r}).")
    internal = list(internal)
    if not internal:
        raise InputError(f"name the internal site(s) (--internal SITE); the sites are: {', '.join(known)}.")
    for site in internal:
        if site not in known:
            raise UnknownNameError("site", site, known)
    if set(internal) == set(known):
        raise InputError(f"every site ({', '.join(known)}) is internal: nothing is external to compare with.")
    sign = 1.0 if info.higher_is_better else -1.0
    per_site, comparisons = [], []
    for (algorithm, task), rows in table.groupby(["algorithm", "task"], sort=False):
        groups = {}
        for site, part in rows.groupby("site", sort=True):
            values = part["value"].to_numpy(dtype=float)
            group = "internal" if site in internal else "external"
            groups[site] = values
            per_site.append({"algorithm": algorithm, "task": task, "site": site, "group": group,
                             **{k: describe(values)[k] for k in ("n", "median", "q25", "q75")}})
        inside = np.concatenate([v for s, v in groups.items() if s in internal] or [np.empty(0)])
        outside = {s: v for s, v in groups.items() if s not in internal}
        targets = [("all external", np.concatenate(list(outside.values())))] if outside else []
        if len(outside) > 1:
            targets += sorted(outside.items())
        for name, values in targets:
            if not inside.size or not values.size:
                continue
            drop = sign * (np.median(inside) - np.median(values))
            p = float(mannwhitneyu(inside, values, alternative="two-sided").pvalue) \
                if inside.size and values.size else np.nan
            comparisons.append({"algorithm": algorithm, "task": task, "external": name,
                                "n_internal": int(inside.size), "n_external": int(values.size),
                                "median_internal": float(np.median(inside)),
                                "median_external": float(np.median(values)),
                                "drop": float(drop), "flagged": bool(drop > max_drop), "p_value": p,
                                "significant": bool(p < alpha)})
    settings = {"metric": info.key, "higher_is_better": info.higher_is_better, "internal": internal,
                "external": [s for s in known if s not in internal], "max_drop": max_drop, "alpha": alpha,
                "test": "two-sided Mann-Whitney U, internal vs external values"}
    return SiteResult(per_site=pd.DataFrame(per_site), comparisons=pd.DataFrame(comparisons), settings=settings,
                      unassigned=unassigned)


def site_figure(result: SiteResult):
    """Per task (panel) and algorithm: the median and IQR per site, internal sites filled, external hollow."""
    from medmix.leaderboard.plots import figure, grid, short

    tasks = list(dict.fromkeys(result.per_site["task"]))
    algorithms = list(dict.fromkeys(result.per_site["algorithm"]))
    rows, cols = grid(len(tasks), 3)
    fig = figure(3.6 * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for n, task in enumerate(tasks):
        ax = axes[n // cols][n % cols]
        part = result.per_site[result.per_site["task"] == task]
        sites = list(dict.fromkeys(part["site"]))
        for a, algorithm in enumerate(algorithms):
            rows_a = part[part["algorithm"] == algorithm].set_index("site")
            for s, site in enumerate(sites):
                if site not in rows_a.index:
                    continue
                r = rows_a.loc[site]
                x = s + (a - (len(algorithms) - 1) / 2) * 0.12
                filled = r["group"] == "internal"
                ax.errorbar([x], [r["median"]], yerr=[[r["median"] - r["q25"]], [r["q75"] - r["median"]]], fmt="o",
                            color=f"C{a % 10}", mfc=f"C{a % 10}" if filled else "white", capsize=2, markersize=5,
                            label=short(algorithm, 20) if s == 0 else None)
        ax.set_xticks(range(len(sites)))
        ax.set_xticklabels([f"{short(s, 14)}{' (int.)' if s in result.settings['internal'] else ''}" for s in sites],
                           rotation=30, ha="right", fontsize=7)
        ax.set_title(short(task, 30), fontsize=9)
        ax.set_ylabel(f"{result.settings['metric']} median [IQR]", fontsize=8)
        ax.tick_params(labelsize=7)
        if n == 0:
            ax.legend(fontsize=6, frameon=False)
    for n in range(len(tasks), rows * cols):
        axes[n // cols][n % cols].set_visible(False)
    fig.suptitle("Per site: filled = internal, hollow = external", fontsize=8)
    return fig


def site_verdict(result: SiteResult) -> list[str]:
    """One line per algorithm × task: internal against all external sites, drop, flag, Mann-Whitney p."""
    verdict = []
    pooled = result.comparisons[result.comparisons["external"] == "all external"]
    for row in pooled.to_dict("records"):
        verdict.append(f"{row['algorithm']} · {row['task']}: median {result.settings['metric']} internal "
                       f"{row['median_internal']:.3f} (n = {row['n_internal']}) vs external "
                       f"{row['median_external']:.3f}"
                       f" (n = {row['n_external']}), drop {row['drop']:+.3f}"
                       f"{' > ' if row['flagged'] else ' ≤ '}{result.settings['max_drop']:g}"
                       f"{' FLAGGED' if row['flagged'] else ''}; Mann-Whitney p = {row['p_value']:.3g}.")
    return verdict


def write_sites(result: SiteResult, out_dir) -> list:
    """`<out>/sites/` (comparisons.csv, per_site.csv, figure.png, result.json) and the report."""
    from medmix.validation.report import write_protocol

    verdict = site_verdict(result)
    notes = [f"{len(result.unassigned)} case(s) without a site, left out: {', '.join(result.unassigned[:8])}"] \
        if result.unassigned else []
    return write_protocol(out_dir, "sites", settings=result.settings, verdict=verdict,
                          tables={"comparisons": result.comparisons, "per_site": result.per_site},
                          figure=site_figure(result), notes=notes)

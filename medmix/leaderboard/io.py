"""Read leaderboard inputs into one long table: task, case, algorithm, metric, value.

Inputs (any mix, any number):

- an evaluation run folder (`medmix evaluate --out DIR`): `cases.csv` (long form: task, case, slice, label, metric,
  value, empty_gt, empty_pred), `summary.json` (its `model` block names the adapter), `cost.json` (parameters, ms per
  slice, peak memory) and, for tasks with a staging rule, `staging.csv`. Volumetric rows (`slice == "volume"`) give
  metric `<name>`; the slice rows give `<name>_slicewise` = the per-case mean over the reference-foreground slices
  (MedSAMix's Dice convention); a case without slice rows (2D images, or no reference foreground) uses its volumetric
  value. A task scored on several labels becomes one leaderboard task per label, `task/label`.
- a long CSV with columns task, case, algorithm, metric, value (results produced elsewhere; extra columns are
  ignored; rows whose value is empty or NaN count as missing cases and are reported).
- a `cases.csv` file of a run (no `algorithm` column), named like its folder.
- grand-challenge evaluation outputs: a `metrics.json` file, a folder holding one, or a folder of algorithm
  folders that each hold one (what `medmix leaderboard` writes to `metrics/`); see
  `medmix.leaderboard.grand_challenge`.
- (Python API) a pandas DataFrame in the long-CSV form.

Algorithm names: `names` (one per run folder, in order), else the run folder's name. Equal names are told
apart by the model adapter in summary.json (`name (adapter)`), then by input order (`name-2`, `name-3`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.errors import InputError

LONG_COLUMNS = ["task", "case", "algorithm", "metric", "value"]
RUN_COLUMNS = ["task", "case", "slice", "label", "metric", "value"]
SLICEWISE_SUFFIX = "_slicewise"
# Subgroups of tumour tasks by the reference's greatest dimension (mm); bins are (low, high].
DIAMETER_BINS_MM = (10.0, 20.0, 30.0, 50.0)


@dataclass
class Source:
    """Where an algorithm's results came from (recorded in leaderboard.json without absolute paths)."""

    kind: str  # "run", "cases_csv", "long_csv", "grand_challenge" or "table"
    name: str  # folder or file name
    algorithms: list[str]
    model: dict | None = None
    suite: str | None = None
    split: str | None = None
    protocol: str | None = None
    run_fingerprint: str | None = field(default=None, compare=False, repr=False)  # run.json: which evaluation
    prompts: dict | None = None  # summary.json "prompts": each task's prompt kind and the digest of the prompts
    prompt_flags: list = field(default_factory=list)  # e.g. a box-only model scored with points
    cost: dict | None = None  # the run's cost.json: parameters, ms_per_slice, peak_memory_mb, device

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "algorithms": list(self.algorithms)}
        if self.model is not None:
            out["model"] = self.model
        if self.suite is not None:
            out["suite"] = self.suite
        if self.split is not None:
            out["split"] = self.split
        if self.protocol is not None:
            out["protocol"] = self.protocol
        if self.prompts is not None:
            out["prompts"] = self.prompts
        if self.prompt_flags:
            out["prompt_flags"] = list(self.prompt_flags)
        if self.cost is not None:
            out["cost"] = dict(self.cost)
        return out


@dataclass
class LeaderboardInput:
    """The long table of every input plus what the leaderboard reports about its sources."""

    table: pd.DataFrame  # LONG_COLUMNS, one row per task × case × algorithm × metric
    algorithms: list[str]
    sources: list[Source] = field(default_factory=list)
    subgroups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["task", "case", "variable",
                                                                                 "group"]))
    warnings: list[str] = field(default_factory=list)


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={c: str for c in ("task", "case", "slice", "label", "algorithm", "metric",
                                                          "true_category")}, keep_default_na=False,
                            na_values={"value": ["", "nan", "NaN", "NA"]})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc}).") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected at least {', '.join(required)} "
                         f"(got {', '.join(map(str, frame.columns))}).")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def slicewise_key(metric: str) -> str:
    """'dice' → 'dice_slicewise'; options stay last: 'nsd:tolerance_mm=2' → 'nsd_slicewise:tolerance_mm=2'."""
    name, sep, options = metric.partition(":")
    return name + SLICEWISE_SUFFIX + sep + options


def run_table(cases: pd.DataFrame) -> pd.DataFrame:
    """A run's long case table → rows (task, case, metric, value): volumetric metrics plus `<m>_slicewise`."""
    cases = cases.copy()
    cases["slice"] = cases["slice"].astype(str)
    labels = cases.groupby("task", sort=False)["label"].nunique()
    multi = set(labels[labels > 1].index)
    if multi:
        cases["task"] = [f"{t}/{lab}" if t in multi else t for t, lab in zip(cases["task"], cases["label"])]
    volume = cases[cases["slice"] == "volume"][["task", "case", "metric", "value"]]
    parts = [volume]
    slices = cases[cases["slice"] != "volume"]
    if len(slices):
        per_case = slices.groupby(["task", "case", "metric"], sort=False)["value"].mean().reset_index()
        per_case["metric"] = per_case["metric"].map(slicewise_key)
        # Cases without slice rows (2D images, no reference foreground) fall back to their volumetric value.
        fallback = volume[volume["metric"].isin(slices["metric"].unique())].copy()
        fallback["metric"] = fallback["metric"].map(slicewise_key)
        have = set(zip(per_case["task"], per_case["case"], per_case["metric"]))
        keep = [(t, c, m) not in have for t, c, m in zip(fallback["task"], fallback["case"], fallback["metric"])]
        parts += [per_case, fallback[keep]]
    out = pd.concat(parts, ignore_index=True)
    return out


def _staging_subgroups(staging: pd.DataFrame) -> pd.DataFrame:
    rows = []
    diameters = pd.to_numeric(staging["true_diameter_mm"], errors="coerce") if "true_diameter_mm" in staging \
        else pd.Series(np.nan, index=staging.index)
    for task, case, category, diameter in zip(staging["task"], staging["case"], staging["true_category"], diameters):
        rows.append((task, case, "reference size-only cT", str(category)))
        if pd.notna(diameter):
            rows.append((task, case, "reference greatest dimension", diameter_bin(float(diameter))))
    return pd.DataFrame(rows, columns=["task", "case", "variable", "group"])


def diameter_bin(diameter_mm: float) -> str:
    """Lesion-size bin label for a greatest dimension in mm (0 → "no lesion")."""
    if diameter_mm <= 0:
        return "no lesion"
    low = 0.0
    for edge in DIAMETER_BINS_MM:
        if diameter_mm <= edge:
            return f"≤{edge:g} mm" if low == 0 else f"{low:g}–{edge:g} mm"
        low = edge
    return f">{low:g} mm"


def read_run(path: Path) -> tuple[pd.DataFrame, Source, pd.DataFrame]:
    """One run folder (or its cases.csv) → (long table without the algorithm column, source, subgroups)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    cases_csv = folder / "cases.csv" if path.is_dir() else path
    if not cases_csv.is_file():
        raise InputError(f"{path}: not an evaluation run folder (no cases.csv inside). Give run folders written "
                         "by `medmix evaluate --out DIR`, or a long CSV with columns task, case, algorithm, metric, "
                         "value.")
    cases = _read_csv(cases_csv, RUN_COLUMNS)
    table = run_table(cases)
    model = suite = split = protocol = prompts = cost = None
    flags: list = []
    summary_path = folder / "summary.json"
    if summary_path.is_file():
        summary = read_json(summary_path)
        model = summary.get("model") if isinstance(summary.get("model"), dict) else None
        suite, split = summary.get("suite"), summary.get("split")
        protocol = (summary.get("protocol") or {}).get("name", "medmix")
        prompts = summary.get("prompts") if isinstance(summary.get("prompts"), dict) else None
        flags = [str(f) for f in summary.get("prompt_flags") or []]
        cost = read_cost(folder, model)
    subgroups = pd.DataFrame(columns=["task", "case", "variable", "group"])
    staging_path = folder / "staging.csv"
    if staging_path.is_file() and staging_path.stat().st_size:
        staging = pd.read_csv(staging_path, dtype={"task": str, "case": str, "true_category": str},
                              keep_default_na=False)
        if {"task", "case", "true_category"} <= set(staging.columns) and len(staging):
            subgroups = _staging_subgroups(staging)
    kind = "run" if path.is_dir() else "cases_csv"
    name = folder.resolve().name or "run"
    run_fingerprint = None
    if (folder / "run.json").is_file():
        try:
            run_fingerprint = json.loads((folder / "run.json").read_text()).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            run_fingerprint = None
    source = Source(kind=kind, name=name, algorithms=[], model=model, suite=suite, split=split, protocol=protocol,
                    run_fingerprint=run_fingerprint, prompts=prompts, prompt_flags=flags, cost=cost)
    return table, source, subgroups


def read_json(path: Path):
    """A JSON file of a run folder; an unreadable one is an InputError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}).") from None


def read_cost(folder: Path, model: dict | None) -> dict | None:
    """A run's cost.json (parameters, ms_per_slice, peak memory); runs without one give the parameter count of
    their summary's model block, or None."""
    path = folder / "cost.json"
    if path.is_file():
        cost = read_json(path)
        if isinstance(cost, dict):
            return cost
    if isinstance(model, dict) and model.get("parameters") is not None:
        return {"parameters": model.get("parameters"), "device": model.get("device")}
    return None


def prompt_notes(sources: list[Source]) -> list[str]:
    """Whether every model saw the same prompts (the runs' prompt digests), and each box-only flag."""
    runs = [s for s in sources if s.kind in ("run", "cases_csv")]
    notes = []
    digests = {s.algorithms[0]: (s.prompts or {}).get("digest") for s in runs if s.algorithms}
    known = {a: d for a, d in digests.items() if d}
    if len(known) > 1 or (known and len(digests) > 1):
        if len(set(known.values())) == 1 and len(known) == len(digests):
            kinds = sorted({k for s in runs for k in ((s.prompts or {}).get("tasks") or {}).values()})
            notes.append(f"same prompts for all models (prompt digest {next(iter(known.values()))[:12]}; "
                         f"{', '.join(kinds)}).")
        else:
            groups: dict[str, list[str]] = {}
            for algorithm, digest in digests.items():
                groups.setdefault(digest[:12] if digest else "unknown", []).append(algorithm)
            notes.append("the models did not all see the same prompts (prompt digests: " + "; ".join(
                f"{d}: {', '.join(a)}" for d, a in groups.items()) + "); replay one run's prompts.json with "
                "`medmix evaluate --prompts` for a like-for-like comparison.")
    for source in runs:
        for flag in source.prompt_flags:
            notes.append(f"flag ({source.algorithms[0] if source.algorithms else source.name}): {flag}.")
    return notes


def _is_long_csv(path: Path) -> bool:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc}).") from None
    return "algorithm" in header


def _unique_names(bases: list[str], adapters: list[str | None], taken: set[str]) -> list[str]:
    """Deterministic unique names: base → 'base (adapter)' where that separates them → 'base-2', 'base-3'…"""
    names = list(bases)
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    for i, n in enumerate(names):
        if (counts[n] > 1 or n in taken) and adapters[i]:
            names[i] = f"{n} ({adapters[i]})"
    seen = set(taken)
    out = []
    for n in names:
        name, k = n, 1
        while name in seen:
            k += 1
            name = f"{n}-{k}"
        seen.add(name)
        out.append(name)
    return out


def _same_evaluation_twice(runs) -> list[str]:
    """Warnings for two run folders holding the same evaluation (a copy ranked against itself) and for runs
    scored under different protocols (their numbers are not comparable as they stand)."""
    by_fingerprint: dict[str, str] = {}
    out = []
    for _, source, _ in runs:
        fp = source.run_fingerprint
        if fp is not None and fp in by_fingerprint:
            out.append(f"run folders {by_fingerprint[fp]!r} and {source.name!r} hold the same evaluation (same model, "
                       "suite, split, protocol, metrics and seed): an algorithm may be ranked against a copy of "
                       "itself.")
        elif fp is not None:
            by_fingerprint[fp] = source.name
    protocols = sorted({s.protocol for _, s, _ in runs if s.protocol})
    if len(protocols) > 1:
        out.append(f"the runs were scored under different protocols ({', '.join(protocols)}): slicing, intensities, "
                   "prompts and preprocessing differ between them, so their ranks mix two evaluations.")
    return out


def read_inputs(inputs, names: list[str] | None = None) -> LeaderboardInput:
    """Read run folders, long CSVs, cases.csv files or long DataFrames into one `LeaderboardInput`."""
    if isinstance(inputs, (str, Path, pd.DataFrame)):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise InputError("no input: give at least one evaluation run folder or a long CSV.")
    seen: dict[Path, int] = {}
    for i, item in enumerate(inputs):
        if isinstance(item, pd.DataFrame):
            continue
        key = Path(item).expanduser().resolve()
        if key in seen:
            raise InputError(f"{item} is given twice (inputs {seen[key] + 1} and {i + 1}): a run would be ranked "
                             "against itself. Give each run once.")
        seen[key] = i
    runs: list[tuple[pd.DataFrame, Source, pd.DataFrame]] = []
    fixed: list[tuple[pd.DataFrame, Source]] = []
    order: list[tuple[str, int]] = []
    warnings: list[str] = []
    for item in inputs:
        if isinstance(item, pd.DataFrame):
            frame = item.copy()
            missing = [c for c in LONG_COLUMNS if c not in frame.columns]
            if missing:
                raise InputError(f"long table: missing column(s) {', '.join(missing)}; expected "
                                 f"{', '.join(LONG_COLUMNS)}.")
            for col in ("task", "case", "algorithm", "metric"):
                frame[col] = frame[col].astype(str)
            frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
            fixed.append((frame[LONG_COLUMNS], Source("table", "DataFrame", [])))
            order.append(("fixed", len(fixed) - 1))
            continue
        path = Path(item)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder. Give evaluation run folders or long CSV files.")
        from medmix.leaderboard.grand_challenge import is_metrics_json, metrics_json_files, read_metrics_json

        if is_metrics_json(path):
            for file in metrics_json_files(path):
                frame = read_metrics_json(file)
                fixed.append((frame, Source("grand_challenge", file.parent.name if file.name == "metrics.json"
                                            else file.name, [])))
                order.append(("fixed", len(fixed) - 1))
        elif path.is_file() and _is_long_csv(path):
            frame = _read_csv(path, LONG_COLUMNS)
            fixed.append((frame[LONG_COLUMNS], Source("long_csv", path.name, [])))
            order.append(("fixed", len(fixed) - 1))
        else:
            runs.append(read_run(path))
            order.append(("run", len(runs) - 1))

    warnings.extend(_same_evaluation_twice(runs))
    if names is not None and len(names) != len(runs):
        raise InputError(f"--name was given {len(names)} time(s) but there are {len(runs)} run folder(s); give one "
                         "name per run folder, in the order of the folders (long CSVs carry their own algorithm "
                         "column).")
    fixed_names: list[str] = []
    for frame, source in fixed:
        algos = list(dict.fromkeys(frame["algorithm"]))
        source.algorithms = algos
        fixed_names += algos
    if names is not None:
        run_names = list(names)
        clash = [n for n in run_names if run_names.count(n) > 1 or n in fixed_names]
        if clash:
            raise InputError(f"--name {clash[0]!r} is used twice; algorithm names must be unique.")
    else:
        adapters = [(r[1].model or {}).get("adapter") for r in runs]
        run_names = _unique_names([r[1].name for r in runs], [str(a) if a else None for a in adapters],
                                  set(fixed_names))

    frames, sources, subgroup_frames, algorithms = [], [], [], []
    for kind, index in order:
        if kind == "run":
            table, source, subgroups = runs[index]
            name = run_names[index]
            table = table.assign(algorithm=name)[LONG_COLUMNS]
            source.algorithms = [name]
            frames.append(table)
            subgroup_frames.append(subgroups)
            algorithms.append(name)
        else:
            table, source = fixed[index]
            frames.append(table)
            algorithms += [a for a in source.algorithms if a not in algorithms]
        sources.append(source)
    if len(algorithms) != len(set(algorithms)):
        dup = next(a for a in algorithms if algorithms.count(a) > 1)
        raise InputError(f"algorithm {dup!r} comes from more than one input; rename one (--name for run folders).")
    table = pd.concat(frames, ignore_index=True)

    duplicated = table.duplicated(subset=["task", "case", "algorithm", "metric"], keep=False)
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise InputError(f"{int(duplicated.sum())} rows repeat a (task, case, algorithm, metric), e.g. task "
                         f"{row['task']!r}, case {row['case']!r}, algorithm {row['algorithm']!r}, metric "
                         f"{row['metric']!r}; each must appear once.")
    bad = ~np.isfinite(table["value"].to_numpy(dtype=float))
    if bad.any():
        warnings.append(f"{int(bad.sum())} value(s) are empty, NaN or infinite and count as missing cases.")
        table = table[~bad].reset_index(drop=True)

    suites = {s.suite for s in sources if s.suite}
    if len(suites) > 1:
        warnings.append(f"the run folders come from different suites ({', '.join(sorted(suites))}); tasks are "
                        "matched by name.")
    splits = {s.split for s in sources if s.split}
    if len(splits) > 1:
        warnings.append(f"the run folders use different splits ({', '.join(sorted(splits))}).")

    warnings.extend(prompt_notes(sources))
    subgroups = pd.concat(subgroup_frames, ignore_index=True) if subgroup_frames else \
        pd.DataFrame(columns=["task", "case", "variable", "group"])
    if len(subgroups):
        subgroups = subgroups.drop_duplicates(subset=["task", "case", "variable"], keep="first")
        subgroups = _expand_label_tasks(subgroups, table)
    return LeaderboardInput(table=table.reset_index(drop=True), algorithms=algorithms, sources=sources,
                            subgroups=subgroups.reset_index(drop=True), warnings=warnings)


def _expand_label_tasks(subgroups: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Staging subgroups are per task; copy them to the `task/label` tasks a multi-label task became."""
    tasks = list(dict.fromkeys(table["task"]))
    parts = []
    for task in tasks:
        base = task.split("/", 1)[0] if task not in set(subgroups["task"]) else task
        rows = subgroups[subgroups["task"] == base]
        if len(rows):
            parts.append(rows.assign(task=task))
    return pd.concat(parts, ignore_index=True) if parts else subgroups.iloc[0:0]

"""grand-challenge.org evaluation outputs (`metrics.json`): read them as leaderboard inputs, write one per algorithm.

grand-challenge's evaluation container writes one `metrics.json` per submission with a per-case part `case` and a
summary `aggregates` that leaderboards point into by JSON path (e.g. `aggregates.dice.mean`). Read forms of `case`:

- a list of records, one per case: `[{"case": "c1", "dice": 0.91, "bahd": 1.2}, …]`;
- evalutils' `DataFrame.to_dict()` form, column → {row: value}: `{"dice": {"0": 0.91, …}, "pred_fname": {…}}`;
- case id → record: `{"c1": {"dice": 0.91, …}, …}`.

The case id is the first of the columns `case`, `case_id`, `ground_truth_fname`, `pk`, `image` present, else the
record's key or position; the task is a `task` column if there is one, else `DEFAULT_TASK`; every other column with
numbers is a metric (booleans and text are not); null / NaN values are missing cases. The algorithm is the JSON's
`algorithm` key, else the name of the file (`<name>.json`) or of its folder (`<name>/metrics.json`).

Written (`write_metrics_json`, one `metrics/<algorithm>/metrics.json` per algorithm of a leaderboard):
`{"algorithm", "case": [{"task", "case", <metric>: value or null, …}], "aggregates": {<metric>: {count, mean, std,
min, 25%, 50%, 75%, max}} (pooled over every case of every task, evalutils' `describe()` keys), "tasks": {<task>:
{<metric>: {…}}}}`, which this reader reads back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medmix.errors import InputError

GRAND_CHALLENGE_FOLDER = "metrics"
METRICS_JSON = "metrics.json"
DEFAULT_TASK = "challenge"
CASE_ID_COLUMNS = ("case", "case_id", "ground_truth_fname", "pk", "image")


def is_metrics_json(path: Path) -> bool:
    """A .json file, a folder holding metrics.json, or a folder of folders that each hold one."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".json"
    if not path.is_dir() or (path / "cases.csv").is_file():
        return False
    return (path / METRICS_JSON).is_file() or any((child / METRICS_JSON).is_file() for child in path.iterdir()
                                                   if child.is_dir())


def metrics_json_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if (path / METRICS_JSON).is_file():
        return [path / METRICS_JSON]
    return sorted(child / METRICS_JSON for child in path.iterdir() if (child / METRICS_JSON).is_file())


def _records(case, where: str) -> list[dict[str, Any]]:
    if isinstance(case, list):
        if not all(isinstance(r, dict) for r in case):
            raise InputError(f"{where}: 'case' is a list whose items are not all objects (one object per case).")
        return [dict(r) for r in case]
    if not isinstance(case, dict) or not all(isinstance(v, dict) for v in case.values()):
        raise InputError(f"{where}: 'case' must be a list of per-case objects or an object of objects, got "
                         f"{type(case).__name__}.")
    inner = [set(v) for v in case.values()]
    same_rows = inner and all(keys == inner[0] for keys in inner)
    column_form = same_rows and (any(k in case for k in CASE_ID_COLUMNS) or
                                 all(str(k).isdigit() for k in inner[0]))
    if column_form:  # evalutils: column → {row: value}
        frame = pd.DataFrame(case)
        return [dict(row, _key=str(index)) for index, row in zip(frame.index, frame.to_dict("records"))]
    return [dict(record, _key=str(key)) for key, record in case.items()]


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def read_metrics_json(path: Path, algorithm: str | None = None) -> pd.DataFrame:
    """One metrics.json → long rows (task, case, algorithm, metric, value); missing values are NaN."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as JSON ({exc}).") from None
    if not isinstance(data, dict) or "case" not in data:
        keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{path}: not a grand-challenge metrics.json: it needs a per-case 'case' part (got "
                         f"{keys}); 'aggregates' alone cannot be ranked.")
    name = algorithm or data.get("algorithm") or (path.parent.name if path.name == METRICS_JSON else path.stem)
    records = _records(data["case"], str(path))
    rows = []
    for position, record in enumerate(records):
        key = record.pop("_key", str(position))
        id_column = next((c for c in CASE_ID_COLUMNS if record.get(c) not in (None, "")), None)
        case = str(record[id_column]) if id_column else key
        task = str(record["task"]) if record.get("task") not in (None, "") else DEFAULT_TASK
        for column, value in record.items():
            if column in CASE_ID_COLUMNS or column == "task":
                continue
            number = _number(value)
            if number is None and value is not None and not (isinstance(value, float) and math.isnan(value)):
                continue  # text, booleans, nested objects: not metrics
            rows.append((task, case, str(name), str(column), np.nan if number is None else number))
    if not rows:
        raise InputError(f"{path}: 'case' holds no numeric metric value.")
    frame = pd.DataFrame(rows, columns=["task", "case", "algorithm", "metric", "value"])
    numeric = frame.groupby("metric")["value"].apply(lambda v: v.notna().any())
    return frame[frame["metric"].isin(numeric[numeric].index)].reset_index(drop=True)


def _describe(values: np.ndarray) -> dict[str, Any]:
    from medmix.leaderboard.blocks import r6

    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"count": 0, "mean": None, "std": None, "min": None, "25%": None, "50%": None, "75%": None,
                "max": None}
    q = np.percentile(values, [25, 50, 75])
    return {"count": int(values.size), "mean": r6(values.mean()),
            "std": r6(values.std(ddof=1)) if values.size > 1 else None, "min": r6(values.min()), "25%": r6(q[0]),
            "50%": r6(q[1]), "75%": r6(q[2]), "max": r6(values.max())}


def metrics_json_dict(board, algorithm: str) -> dict[str, Any]:
    """grand-challenge metrics.json of one algorithm of a computed leaderboard (module docstring)."""
    from medmix.leaderboard.blocks import r6

    cases: list[dict[str, Any]] = []
    by_case: dict[tuple[str, str], dict[str, Any]] = {}
    pooled: dict[str, list[np.ndarray]] = {}
    tasks: dict[str, dict[str, Any]] = {}
    for (task, metric), wide in board.values.items():
        column = wide[algorithm].to_numpy(dtype=float)
        pooled.setdefault(metric, []).append(column)
        tasks.setdefault(task, {})[metric] = _describe(column)
        for case, value in zip(wide.index, column):
            record = by_case.get((task, str(case)))
            if record is None:
                record = by_case[(task, str(case))] = {"task": task, "case": str(case)}
                cases.append(record)
            record[metric] = r6(value)
    return {"algorithm": algorithm, "case": cases,
            "aggregates": {m: _describe(np.concatenate(parts)) for m, parts in pooled.items()}, "tasks": tasks}


def write_metrics_json(board, folder: Path) -> list[Path]:
    """One `<folder>/<algorithm>/metrics.json` per algorithm; returns the files."""
    from medmix.atomic import atomic_write_text
    from medmix.leaderboard.plots import file_slug

    folder = Path(folder)
    files, used = [], set()
    for algorithm in board.algorithms:
        slug, n = file_slug(algorithm), 1
        while slug in used:
            n += 1
            slug = f"{file_slug(algorithm)}-{n}"
        used.add(slug)
        path = folder / slug / METRICS_JSON
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(metrics_json_dict(board, algorithm), indent=1, ensure_ascii=False, allow_nan=False)
        atomic_write_text(path, text + "\n")
        files.append(path)
    return files

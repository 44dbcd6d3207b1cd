"""The result store of an evaluation run: one part file per case, written atomically, merged at the end.

A case is done when its part file exists, so a killed run resumes at the first case without one and ends with
the same files as an uninterrupted run (parts are merged in suite order, not in completion order).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from medmix.atomic import atomic_write_text
from medmix.errors import MedmixError

CASE_COLUMNS = ["task", "case", "slice", "label", "metric", "value", "empty_gt", "empty_pred"]
STAGING_COLUMNS = ["task", "case", "true_category", "pred_category", "true_diameter_mm", "pred_diameter_mm",
                   "true_lesions", "pred_lesions"]


def _safe(name: str) -> str:
    return name.replace("/", "_")


class ResultStore:
    """Per-case parts under `out_dir/parts/<task>/<case>.json`; `fingerprint` guards against mixing runs."""

    def __init__(self, out_dir: Path, fingerprint: str, *, overwrite: bool = False):
        self.out_dir = Path(out_dir)
        self.parts = self.out_dir / "parts"
        marker = self.out_dir / "run.json"
        if marker.exists() and not overwrite:
            recorded = json.loads(marker.read_text()).get("fingerprint")
            if recorded != fingerprint:
                raise MedmixError(
                    f"{self.out_dir} holds results of a different evaluation (model, suite, split, metrics or seed "
                    "changed), so resuming would mix them. Use another --out, or pass --overwrite to start again."
                )
        elif overwrite and self.parts.exists():
            import shutil

            shutil.rmtree(self.parts)
        atomic_write_text(marker, json.dumps({"fingerprint": fingerprint}, indent=2))

    def path(self, task: str, case_id: str) -> Path:
        return self.parts / _safe(task) / f"{_safe(case_id)}.json"

    def done(self, task: str, case_id: str) -> bool:
        return self.path(task, case_id).exists()

    def write(self, task: str, case_id: str, rows: list[dict], staging: dict | None, extra: dict) -> None:
        payload = {"rows": rows, "staging": staging, "extra": extra}
        atomic_write_text(self.path(task, case_id), json.dumps(payload, allow_nan=False))

    def read(self, task: str, case_id: str) -> dict:
        return json.loads(self.path(task, case_id).read_text())

    def merge(self, order: list[tuple[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Long case table and staging table over `order` (task, case) pairs."""
        rows, staging = [], []
        for task, case_id in order:
            part = self.read(task, case_id)
            rows.extend(part["rows"])
            if part["staging"]:
                staging.append(part["staging"])
        cases = pd.DataFrame(rows, columns=CASE_COLUMNS)
        return cases, pd.DataFrame(staging, columns=STAGING_COLUMNS)


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]

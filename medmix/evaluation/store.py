"""The result store of an evaluation run: one part file per case, written atomically, merged at the end.

A case is done when its part file exists and reads back, so a killed run resumes at the first case without one
and ends with the same files as an uninterrupted run (parts are merged in suite order, not in completion order).
A part that does not read back (a disk that filled up, a file edited by hand) is set aside as `<case>.json.bad`
and its case computed again. The folder's `run.json` names the evaluation that owns it: written only when the
first case is about to be computed (`start`), and checked against folders holding finished cases only, so a run
that failed before computing anything never blocks its corrected re-run (`medmix.run_folder`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from medmix.atomic import atomic_write_text
from medmix.run_folder import check_stamp, stamp

CASE_COLUMNS = ["task", "case", "slice", "label", "metric", "value", "empty_gt", "empty_pred"]
STAGING_COLUMNS = ["task", "case", "true_category", "pred_category", "true_diameter_mm", "pred_diameter_mm",
                   "true_lesions", "pred_lesions"]


LESION_COLUMNS = ["task", "case", "label", "definition", "challenge", "matcher", "compat", "lesion", "status",
                  "volume_mm3", "pred_components", "dice", "hd95", "nsd", "counted"]


def _safe(name: str) -> str:
    return name.replace("/", "_")


class ResultStore:
    """Per-case parts under `out_dir/parts/<task>/<case>.json`; `fingerprint` guards against mixing runs."""

    def __init__(self, out_dir: Path, fingerprint: str, *, overwrite: bool = False):
        self.out_dir = Path(out_dir)
        self.parts = self.out_dir / "parts"
        self.fingerprint = fingerprint
        self.overwrite = overwrite
        self._started = False
        check_stamp(self.out_dir, "run.json", fingerprint, has_results=self.has_results(), overwrite=overwrite,
                    what="evaluation (model, suite, split, metrics, protocol or seed)")

    def has_results(self) -> bool:
        return self.parts.is_dir() and any(self.parts.glob("*/*.json"))

    def start(self) -> None:
        """Stamp the folder as this evaluation's (once, before the first case is computed)."""
        if self._started:
            return
        if self.overwrite and self.parts.exists():
            import shutil

            shutil.rmtree(self.parts)
        stamp(self.out_dir, "run.json", self.fingerprint)
        self._started = True

    def path(self, task: str, case_id: str) -> Path:
        return self.parts / _safe(task) / f"{_safe(case_id)}.json"

    def done(self, task: str, case_id: str) -> bool:
        if self.overwrite and not self._started:
            return False  # --overwrite: everything is computed again
        path = self.path(task, case_id)
        if not path.exists():
            return False
        try:
            json.loads(path.read_text())
        except (OSError, ValueError):
            import warnings

            path.replace(path.with_name(path.name + ".bad"))
            warnings.warn(f"{path} did not read back; set aside as {path.name}.bad and computed again.",
                          stacklevel=2)
            return False
        return True

    def write(self, task: str, case_id: str, rows: list[dict], staging: dict | None, extra: dict) -> None:
        self.start()
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

    def lesions(self, order: list[tuple[str, str]]) -> pd.DataFrame:
        """Per-lesion rows over `order` (empty when no lesion-wise metric was asked for)."""
        rows = []
        for task, case_id in order:
            rows.extend(self.read(task, case_id)["extra"].get("lesions", []))
        return pd.DataFrame(rows, columns=LESION_COLUMNS)


    def costs(self, order: list[tuple[str, str]]) -> dict:
        """Predicted slices and prediction seconds summed over `order` (parts written before these were kept
        count 0 slices)."""
        n_slices, predict_s = 0, 0.0
        for task, case_id in order:
            extra = self.read(task, case_id)["extra"]
            n_slices += int(extra.get("n_slices", 0))
            predict_s += float(extra.get("predict_s", 0.0))
        return {"n_slices": n_slices, "predict_s": predict_s}

    def clicks(self, order: list[tuple[str, str]]) -> pd.DataFrame:
        """Per-click rows of iterative runs over `order` (empty otherwise)."""
        from medmix.evaluation.interactive import CLICK_COLUMNS

        rows = []
        for task, case_id in order:
            rows.extend(self.read(task, case_id)["extra"].get("clicks", []))
        return pd.DataFrame(rows, columns=CLICK_COLUMNS)

    def prompts(self, order: list[tuple[str, str]]) -> list[dict]:
        """The prompt records of every case over `order` ({task, case, slice, objects[, clicks]})."""
        out = []
        for task, case_id in order:
            for record in self.read(task, case_id)["extra"].get("prompts", []):
                out.append({"task": task, "case": case_id, **record})
        return out


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]

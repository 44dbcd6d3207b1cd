"""An evaluation run's saved predictions next to the suite's images and references, case by case.

`medmix evaluate … --save-predictions` writes `predictions/<task>/<case>.nii.gz`; summary.json names the suite
and split. `run_cases` loads each case again from the suite (the same loader the evaluation used, raw
intensities) and pairs it with its prediction, so protocols that need images (radiomics) or the references as
mask files (a reader for the inter-observer benchmark: `export_references`) work from a run folder alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmix.errors import InputError


@dataclass
class RunCase:
    task: str
    case_id: str
    image: np.ndarray  # raw intensities; RGB images averaged over channels
    reference: np.ndarray  # bool, the task's binary target
    prediction: np.ndarray  # bool
    spacing_mm: tuple[float, ...]
    affine: np.ndarray | None


def _summary(run_dir: Path) -> dict:
    from medmix.leaderboard.io import read_json

    path = run_dir / "summary.json"
    if not path.is_file():
        raise InputError(f"{run_dir}: no summary.json; give an evaluation run folder (`medmix evaluate --out DIR "
                         "--save-predictions`).")
    return read_json(path)


def run_cases(run_dir, data_root=None, tasks=None) -> Iterator[RunCase]:
    """Every case of the run that has a saved prediction (see the module docstring)."""
    from medmix.data.io import load_mask
    from medmix.data.sources import load_case
    from medmix.evaluation.suites import load_suite

    run_dir = Path(run_dir)
    summary = _summary(run_dir)
    predictions = run_dir / "predictions"
    if not predictions.is_dir():
        raise InputError(f"{run_dir}: no predictions/ folder; re-run `medmix evaluate` with --save-predictions.")
    if not summary.get("suite"):
        raise InputError(f"{run_dir}/summary.json names no suite; cannot reload the images and references.")
    suite = load_suite(summary["suite"])
    wanted = list(tasks) if tasks else list(summary.get("tasks", {}))
    for task in wanted:
        card = suite.card(task)
        folder = predictions / task
        files = sorted(folder.rglob("*.nii.gz")) if folder.is_dir() else []
        for path in files:
            case_id = path.relative_to(folder).as_posix()[: -len(".nii.gz")]
            case = load_case(card, case_id, data_root)
            image = case.image.mean(axis=-1) if case.channels == "rgb" else case.image
            prediction = load_mask(path).array.astype(bool)
            reference = np.asarray(case.label) > 0
            if prediction.shape != reference.shape:
                raise InputError(f"{path}: prediction shape {prediction.shape} differs from the case's "
                                 f"{reference.shape}.")
            yield RunCase(task, case_id, np.asarray(image, dtype=np.float64), reference, prediction,
                          tuple(float(s) for s in case.spacing), case.affine)


def export_references(run_dir, folder, data_root=None) -> Path:
    """Write the references of the run's predicted cases as `<folder>/<task>/<case>.nii.gz` (a reader folder)."""
    from medmix.data.io import save_mask

    folder = Path(folder)
    for case in run_cases(run_dir, data_root):
        path = folder / case.task / f"{case.case_id}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_mask(path, case.reference.astype(np.uint8), spacing=case.spacing_mm, affine=case.affine)
    return folder

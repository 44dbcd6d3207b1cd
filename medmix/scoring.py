"""Score a prediction file against a reference file: the Python API behind `medmix score`.

    >>> report = score_files("pred.nii.gz", "gt.nii.gz", metrics=["dice", "hd95", "nsd:tolerance_mm=2"])
    >>> report.results[1]["dice"], report.spacing_mm, report.spacing_source

Binary masks are scored with `compute_metrics`; label maps (when `labels` is given, or when either file holds an
id above 1) with `compute_label_metrics`, one `CaseResult` per label. Spacing: an explicit `spacing` wins, then
the reference's header, then the prediction's; files without spacing (PNG, NPY, NPZ without 'spacing') are
scored with spacing 1 and distances are reported in voxels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medmix.errors import InputError

SPACING_ARGUMENT = "argument"
SPACING_DEFAULT = "default (no spacing in either file: 1 per axis, distances in voxels)"
#: Ends the refusal of a header spacing that is zero or not finite: the way round it that `score` offers.
SPACING_HINT = ", or pass the spacing explicitly (medmix score --spacing X,Y,Z; score_files(spacing=...))"


@dataclass
class ScoreReport:
    """Result of `score_files`.

    results: label id → `CaseResult` (label 1 for a binary pair). label_map: True when scored per label.
    spacing_mm: spacing used, array axis order. spacing_source: "argument", "header of <file>" or the default.
    units: metric key → unit ("voxels" instead of "mm" when no spacing was known). higher_is_better: metric key →
    direction.
    """

    pred_path: str
    gt_path: str
    results: dict[int, Any]
    label_map: bool
    spacing_mm: tuple[float, ...]
    spacing_source: str
    shape: tuple[int, ...]
    units: dict[str, str] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)

    @property
    def metric_keys(self) -> list[str]:
        return list(self.units)

    @property
    def distance_units(self) -> str:
        return "voxels" if self.spacing_source == SPACING_DEFAULT else "mm"

    def to_json_dict(self) -> dict[str, Any]:
        """`{metric: value, …, "empty_gt", "empty_pred"}` for one label, `{"labels": {"1": {…}, …}}` for several.

        Always present: "spacing_mm", "spacing_source", "units" (metric → unit), "pred", "gt". Non-finite values
        become null so the output is strict JSON.
        """
        per_label = {str(lab): _case_json(res) for lab, res in self.results.items()}
        if len(per_label) == 1:
            (lab, body), = per_label.items()
            out: dict[str, Any] = dict(body)
            if self.label_map:
                out["label"] = int(lab)
        else:
            out = {"labels": per_label}
        out.update(
            spacing_mm=list(self.spacing_mm),
            spacing_source=self.spacing_source,
            units=dict(self.units),
            pred=self.pred_path,
            gt=self.gt_path,
        )
        return out


def _case_json(res) -> dict[str, Any]:
    body: dict[str, Any] = {k: _finite_or_none(v) for k, v in res.values.items()}
    body.update(empty_gt=bool(res.empty_gt), empty_pred=bool(res.empty_pred), n_gt=int(res.n_gt),
                n_pred=int(res.n_pred))
    return body


def _finite_or_none(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def parse_spacing(text: str | Sequence[float] | float | None) -> tuple[float, ...] | None:
    """'0.8,0.8,2.5' (or 'x'-separated, or one number for every axis) → floats; None stays None."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return (float(text),)
    if isinstance(text, str):
        parts = [t for t in text.replace("x", ",").replace("×", ",").replace(" ", ",").split(",") if t]
        try:
            values = tuple(float(t) for t in parts)
        except ValueError:
            raise InputError(
                f"spacing {text!r}: expected numbers separated by commas in array axis order, e.g. 0.8,0.8,2.5."
            ) from None
    else:
        values = tuple(float(v) for v in text)
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(f"spacing {text!r}: every value must be a positive number of mm, e.g. 0.8,0.8,2.5.")
    return values


def _check_values(img, role: str) -> bool:
    """Refuse non-integer or negative values (naming the file); return True if the file holds an id above 1."""
    arr = img.array
    where = f"{role} file {str(img.path)!r}"
    if arr.dtype == bool:
        return False
    if arr.dtype.kind == "f":
        frac = arr != np.round(arr)
        if frac.any():
            example = float(arr[frac].flat[0])
            raise InputError(
                f"{where}: holds non-integer values (e.g. {example:g}); medmix scores binary masks (0/1) or integer "
                "label maps. Threshold a probability map first (e.g. (prob > 0.5).astype('uint8'))."
            )
    if arr.size and arr.min() < 0:
        raise InputError(f"{where}: holds negative values (min {arr.min()}); label ids must be 0 (background) or positive.")
    return bool(arr.size and arr.max() > 1)


def score_files(
    pred_path: str | Path,
    gt_path: str | Path,
    metrics: Iterable[str] | None = None,
    spacing: Sequence[float] | float | str | None = None,
    labels: Iterable[int] | None = None,
    empty_policy=None,
) -> ScoreReport:
    """Load a prediction and a reference mask, check they share a grid, and score them.

    metrics: names or 'name:opt=value' strings (default `medmix.metrics.DEFAULT_METRICS`). spacing: mm per array
    axis, overrides the file headers. labels: score these label ids separately (default: every id in either file
    when either holds an id above 1, else one binary mask reported as label 1). empty_policy: an `EmptyPolicy`.
    """
    from medmix.metrics import DEFAULT_METRICS, compute_label_metrics, compute_metrics, get_metric, parse_metric

    requests = [parse_metric(m) for m in (DEFAULT_METRICS if metrics is None else metrics)]
    if not requests:
        raise InputError("no metrics requested; name at least one (e.g. dice) or leave the list out for the defaults.")
    if labels is not None:
        labels = [_label_id(lab) for lab in labels]
        if not labels:
            labels = None
    explicit = parse_spacing(spacing)

    pred, gt, spacing_mm, source = load_pair(pred_path, gt_path, explicit)
    pred_ids = _check_values(pred, "pred")
    gt_ids = _check_values(gt, "gt")
    if labels is not None:
        _check_labels_present(labels, pred, gt)

    label_map = labels is not None or pred_ids or gt_ids
    if label_map:
        results = compute_label_metrics(pred.array, gt.array, labels, requests, spacing_mm, empty_policy=empty_policy)
    else:
        results = {1: compute_metrics(pred.array, gt.array, requests, spacing_mm, empty_policy=empty_policy)}

    units: dict[str, str] = {}
    direction: dict[str, bool] = {}
    for req in requests:
        spec = get_metric(req.name)
        unit = spec.units
        if unit == "mm" and source == SPACING_DEFAULT:
            unit = "voxels"
        units[req.key] = unit
        direction[req.key] = spec.higher_is_better
    return ScoreReport(
        pred_path=str(pred.path), gt_path=str(gt.path), results=results, label_map=bool(label_map),
        spacing_mm=tuple(float(s) for s in spacing_mm), spacing_source=source, shape=gt.shape, units=units,
        higher_is_better=direction,
    )


def _check_labels_present(labels: Sequence[int], pred, gt) -> None:
    """Refuse a requested label that neither file holds: both-empty would score it Dice 1 / distance 0."""
    present = {role: sorted(int(v) for v in np.unique(img.array) if v != 0) for role, img in (("pred", pred),
                                                                                               ("gt", gt))}
    absent = [lab for lab in labels if lab not in present["pred"] and lab not in present["gt"]]
    if absent:
        shown = {role: ", ".join(map(str, ids)) or "none (empty mask)" for role, ids in present.items()}
        raise InputError(
            f"label {absent[0]} is in neither file, so there is nothing to score (both empty would count as a "
            f"perfect match). Labels present: pred file {str(pred.path)!r}: {shown['pred']}; gt file "
            f"{str(gt.path)!r}: {shown['gt']}. Pick labels from those (or leave --label out to score every label)."
        )


def _label_id(value) -> int:
    try:
        lab = int(value)
    except (TypeError, ValueError):
        raise InputError(f"label {value!r}: expected a whole-number label id such as 1 or 2.") from None
    if lab != float(value) or lab < 0:
        raise InputError(f"label {value!r}: expected a non-negative whole-number label id such as 1 or 2.")
    return lab


def load_pair(pred_path, gt_path, explicit: tuple[float, ...] | None):
    """Load prediction and reference on one grid: (pred, gt, spacing in mm per array axis, where it came from)."""
    from medmix.data.io import check_same_grid, load_mask

    # An explicit spacing replaces the headers', so a broken header spacing (pixdim 0) is then no obstacle.
    header = {"ignore_header_spacing": explicit is not None, "spacing_hint": SPACING_HINT}
    gt = load_mask(gt_path, name="gt", **header)
    pred = load_mask(pred_path, name="pred", **header)
    check_same_grid(pred, gt)
    ndim = gt.ndim
    if explicit is not None:
        if len(explicit) == 1 and ndim > 1:
            explicit = explicit * ndim
        if len(explicit) != ndim:
            raise InputError(
                f"spacing {explicit}: {len(explicit)} values for {ndim}D masks; give one per array axis "
                f"(array axis order, e.g. {','.join(['1'] * ndim)})."
            )
        return pred, gt, explicit, SPACING_ARGUMENT
    if gt.spacing is not None:
        return pred, gt, gt.spacing, f"header of {gt.path.name}"
    if pred.spacing is not None:
        return pred, gt, pred.spacing, f"header of {pred.path.name}"
    return pred, gt, (1.0,) * ndim, SPACING_DEFAULT


@dataclass
class LesionwiseReport:
    """`medmix score --lesionwise`: per-region aggregates (medmix keys) and per-lesion rows."""

    pred_path: str
    gt_path: str
    definition: str
    challenge: str
    spacing_mm: tuple[float, ...]
    spacing_source: str
    regions: dict[str, Any]  # region → RegionResult

    def to_json_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "pred": self.pred_path, "gt": self.gt_path, "definition": self.definition, "challenge": self.challenge,
            "spacing_mm": list(self.spacing_mm), "spacing_source": self.spacing_source,
            "regions": {name: {k: _finite_or_none(v) for k, v in r.values.items()} for name, r in self.regions.items()},
            "lesions": [{**asdict(row), "pred_components": list(row.pred_components),
                         **{k: _finite_or_none(getattr(row, k)) for k in ("dice", "hd95", "nsd")}}
                        for r in self.regions.values() for row in r.lesions],
        }


def score_lesionwise_files(
    pred_path: str | Path,
    gt_path: str | Path,
    definition: str = "brats2023",
    challenge: str = "glioma",
    *,
    convention: str | None = None,
    regions: Sequence[str] | None = None,
    matcher: str = "bipartite",
    compat: bool = False,
    spacing: Sequence[float] | float | str | None = None,
) -> LesionwiseReport:
    """Lesion-wise scores of two label-map files per region (`medmix.metrics.lesionwise.lesionwise`).

    compat=True (panoptica only) reproduces brats-evaluation's file route bit for bit, quirks included: global
    metrics in voxel units, float32 zooms, and the spacing in reversed axis order (the package pairs SimpleITK's x, y, z spacing
    with arrays in nibabel's axis order), so anisotropic per-lesion distances are off as the package's are.
    """
    from medmix.metrics.lesionwise import lesionwise

    pred, gt, spacing_mm, source = load_pair(pred_path, gt_path, parse_spacing(spacing))
    if compat:
        # the package keeps the header's float32 zooms (medmix rounds them to the decimal they stand for)
        spacing_mm = tuple(float(np.float32(s)) for s in reversed(spacing_mm))
        source += ", reversed and float32 as brats-evaluation reads it (--compat)"
    results = lesionwise(pred.array, gt.array, spacing_mm, definition=definition, challenge=challenge,
                         convention=convention, regions=regions, matcher=matcher, compat=compat)
    return LesionwiseReport(str(pred.path), str(gt.path), definition, challenge,
                            tuple(float(s) for s in spacing_mm), source, results)

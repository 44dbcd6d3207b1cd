"""One call that scores a case on a chosen set of metrics in a single pass (shared crop and distances)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medmix.errors import InputError, MedmixError
from medmix.metrics.geometry import CaseGeometry
from medmix.metrics.inputs import as_binary_mask, as_label_map, as_spacing, check_same_shape
from medmix.metrics.registry import EmptyPolicy, MetricSpec, get_metric


@dataclass(frozen=True)
class MetricRequest:
    """A metric name plus options; `key` is the column name results are reported under."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        if not self.options:
            return self.name
        return self.name + ":" + ",".join(f"{k}={_fmt(v)}" for k, v in sorted(self.options.items()))


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).lower() if isinstance(v, bool) else str(v)


def parse_metric(text: str | MetricRequest) -> MetricRequest:
    """Parse 'name' or 'name:key=value,key=value' (e.g. 'nsd:tolerance_mm=2', 'hd95:percentile=99,pooled=true')."""
    if isinstance(text, MetricRequest):
        return text
    name, _, rest = text.strip().partition(":")
    spec = get_metric(name)
    options: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq:
            raise InputError(f"metric {text!r}: option {item!r} must look like key=value.")
        if spec.builtin and key not in spec.defaults:
            allowed = ", ".join(spec.defaults) or "none"
            raise InputError(f"metric {text!r}: unknown option {key!r} for {name}; options: {allowed}.")
        options[key] = _parse_value(raw)
    if spec.check_options is not None:
        spec.check_options(options)
    return MetricRequest(spec.name, options)


def _parse_value(raw: str) -> Any:
    low = raw.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(raw)
    except ValueError:
        return raw.strip()


@dataclass
class CaseResult:
    """Metric values for one case (one label), with the empty-mask flags every row carries."""

    values: dict[str, float]
    empty_gt: bool
    empty_pred: bool
    n_gt: int
    n_pred: int

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def to_dict(self) -> dict[str, Any]:
        return {**self.values, "empty_gt": self.empty_gt, "empty_pred": self.empty_pred,
                "n_gt": self.n_gt, "n_pred": self.n_pred}


def _empty_value(spec: MetricSpec, geom: CaseGeometry, policy: EmptyPolicy) -> float | None:
    """The policy value when a mask is empty, or None when the metric should be computed normally."""
    if not (geom.empty_gt or geom.empty_pred):
        return None
    both = geom.empty_gt and geom.empty_pred
    if spec.kind == "overlap":
        return policy.both_empty_overlap if both else policy.one_empty_overlap
    if spec.kind == "distance":
        if both:
            return policy.both_empty_distance
        worst = policy.one_empty_distance
        return geom.diagonal_mm if worst == "diagonal" else float(worst)
    if isinstance(spec.empty, Mapping):
        return float(spec.empty["both" if both else "one"])
    return None


def compute_metrics(
    pred,
    gt,
    metrics: Iterable[str | MetricRequest] = ("dice", "iou", "hd", "hd95", "assd", "nsd", "ahd", "bahd"),
    spacing: Sequence[float] | float | None = None,
    *,
    empty_policy: EmptyPolicy | None = None,
    distance_method: str = "auto",
) -> CaseResult:
    """Score one binary case on several metrics at once.

    pred, gt: binary arrays (numpy or torch, any device) of equal shape, 2D or 3D. spacing: mm per array axis
    (None → 1, distances in voxels). metrics: names or 'name:option=value' strings. Empty masks follow
    `empty_policy` (default: both empty → overlap 1 / distance 0; one empty → 0 / image diagonal in mm) and set
    the result's `empty_gt` / `empty_pred` flags. distance_method: "auto", "edt" or "kdtree" (same values).
    """
    pred_mask = as_binary_mask(pred, "pred")
    gt_mask = as_binary_mask(gt, "gt")
    check_same_shape(pred_mask, gt_mask)
    spacing_mm = as_spacing(spacing, gt_mask.ndim)
    if distance_method not in ("auto", "edt", "kdtree"):
        raise InputError(f"distance_method must be 'auto', 'edt' or 'kdtree', got {distance_method!r}.")
    geom = CaseGeometry(pred_mask, gt_mask, spacing_mm, distance_method)
    return _score(geom, [parse_metric(m) for m in metrics], empty_policy or EmptyPolicy())


def _score(geom: CaseGeometry, requests: list[MetricRequest], policy: EmptyPolicy) -> CaseResult:
    values: dict[str, float] = {}
    for req in requests:
        spec = get_metric(req.name)
        value = _empty_value(spec, geom, policy)
        if value is None:
            if spec.geometry_fn is not None:
                value = float(spec.geometry_fn(geom, **req.options))
            else:
                value = float(spec.case_fn(geom.pred, geom.gt, spacing=geom.spacing, **req.options))
                if math.isnan(value):
                    raise MedmixError(
                        f"metric {spec.name!r} returned NaN (empty_gt={geom.empty_gt}, empty_pred={geom.empty_pred}). "
                        "Return a number, or register it with empty={'both': …, 'one': …}."
                    )
        values[req.key] = value
    return CaseResult(values, geom.empty_gt, geom.empty_pred, geom.n_gt, geom.n_pred)


def compute_label_metrics(
    pred,
    gt,
    labels: Iterable[int] | None = None,
    metrics: Iterable[str | MetricRequest] = ("dice", "iou", "hd", "hd95", "assd", "nsd", "ahd", "bahd"),
    spacing: Sequence[float] | float | None = None,
    *,
    empty_policy: EmptyPolicy | None = None,
    distance_method: str = "auto",
) -> dict[int, CaseResult]:
    """Per-label results for two integer label maps; `labels` defaults to every non-zero id in either map."""
    pred_map = as_label_map(pred, "pred")
    gt_map = as_label_map(gt, "gt")
    check_same_shape(pred_map, gt_map)
    if labels is None:
        labels = sorted((set(np.unique(gt_map).tolist()) | set(np.unique(pred_map).tolist())) - {0})
    requests = [parse_metric(m) for m in metrics]
    spacing_mm = as_spacing(spacing, gt_map.ndim)
    policy = empty_policy or EmptyPolicy()
    return {
        int(lab): _score(CaseGeometry(pred_map == lab, gt_map == lab, spacing_mm, distance_method), requests, policy)
        for lab in labels
    }


@dataclass
class SliceResult:
    index: int
    result: CaseResult


def compute_slicewise(
    pred,
    gt,
    axis: int = 0,
    metrics: Iterable[str | MetricRequest] = ("dice",),
    spacing: Sequence[float] | float | None = None,
    *,
    slices: str = "gt",
    empty_policy: EmptyPolicy | None = None,
) -> list[SliceResult]:
    """Metrics per 2D slice along `axis` of a 3D case.

    slices: "gt" = slices where the reference has foreground (the MedSAMix convention), "any" = slices where either
    mask has foreground, "all" = every slice. Spacing of each slice is the 3D spacing without `axis`.
    """
    pred_mask = as_binary_mask(pred, "pred")
    gt_mask = as_binary_mask(gt, "gt")
    check_same_shape(pred_mask, gt_mask)
    if gt_mask.ndim != 3:
        raise InputError(f"slice-wise metrics need 3D masks, got {gt_mask.ndim}D.")
    if not -3 <= axis < 3:
        raise InputError(f"axis must be 0, 1 or 2, got {axis}.")
    axis %= 3
    spacing_mm = as_spacing(spacing, 3)
    slice_spacing = tuple(s for a, s in enumerate(spacing_mm) if a != axis)
    other = tuple(a for a in range(3) if a != axis)
    gt_any = gt_mask.any(axis=other)
    pred_any = pred_mask.any(axis=other)
    chosen = {"gt": gt_any, "any": gt_any | pred_any, "all": np.ones_like(gt_any)}.get(slices)
    if chosen is None:
        raise InputError(f"slices must be 'gt', 'any' or 'all', got {slices!r}.")
    requests = [parse_metric(m) for m in metrics]
    policy = empty_policy or EmptyPolicy()
    out = []
    for i in np.flatnonzero(chosen):
        p2 = np.take(pred_mask, i, axis=axis)
        g2 = np.take(gt_mask, i, axis=axis)
        out.append(SliceResult(int(i), _score(CaseGeometry(p2, g2, slice_spacing), requests, policy)))
    return out


def slicewise_mean(pred, gt, metric: str = "dice", axis: int = 0, spacing=None, *, slices: str = "gt") -> float:
    """Mean of a metric over the chosen 2D slices (MedSAMix: Dice averaged over reference-foreground slices).

    Returns NaN-free values: with no chosen slice (empty reference) it raises `InputError`.
    """
    rows = compute_slicewise(pred, gt, axis, [metric], spacing, slices=slices)
    if not rows:
        raise InputError(f"slicewise_mean: no slice selected by slices={slices!r} (is the reference empty?).")
    key = parse_metric(metric).key
    return float(np.mean([r.result.values[key] for r in rows]))

"""Segmentation metrics with explicit conventions (reference.md §1).

Functional API: `dice, iou, hd, hd95, assd, masd, nsd, ahd, bahd` each `f(pred, gt, spacing=None, **options)`;
`compute_metrics` scores several at once; `compute_label_metrics` for label maps; `compute_slicewise` and
`slicewise_mean` for per-slice scores; `metric` registers a custom metric; `lesionwise` (BraTS 2023 and
panoptica lesion-wise scores per tumour region, reference.md §9) with `LABEL_CONVENTIONS` and `CHALLENGES`.
"""

from medmix.metrics.engine import (
    CaseResult,
    MetricRequest,
    SliceResult,
    compute_label_metrics,
    compute_metrics,
    compute_slicewise,
    parse_metric,
    slicewise_mean,
)
from medmix.metrics.label_conventions import CHALLENGES, LABEL_CONVENTIONS
from medmix.metrics.lesionwise import lesionwise
from medmix.metrics.functional import ahd, assd, bahd, dice, hd, hd95, iou, masd, nsd
from medmix.metrics.plugins import load_plugin
from medmix.metrics.registry import EmptyPolicy, MetricSpec, get_metric, list_metrics, metric

DEFAULT_METRICS = ("dice", "iou", "hd", "hd95", "assd", "nsd", "ahd", "bahd")

__all__ = [
    "CHALLENGES", "LABEL_CONVENTIONS", "lesionwise", "CaseResult", "EmptyPolicy", "MetricRequest", "MetricSpec", "SliceResult", "DEFAULT_METRICS",
    "ahd", "assd", "bahd", "compute_label_metrics", "compute_metrics", "compute_slicewise", "dice", "get_metric",
    "hd", "hd95", "iou", "list_metrics", "load_plugin", "masd", "metric", "nsd", "parse_metric", "slicewise_mean",
]

"""One function per metric: `f(pred, gt, spacing=None, **options) -> float`.

Each accepts binary numpy arrays or torch tensors (2D or 3D) with spacing in mm per array axis, and follows the
empty-mask policy (pass `empty_policy=EmptyPolicy(...)` to change it). To score several metrics on one case,
use `compute_metrics`, which shares the crop and distance fields between them.
"""

from __future__ import annotations

from medmix.metrics.engine import MetricRequest, compute_metrics


def _one(name: str, pred, gt, spacing, options) -> float:
    policy = options.pop("empty_policy", None)
    method = options.pop("distance_method", "auto")
    request = MetricRequest(name, options)
    return compute_metrics(pred, gt, [request], spacing, empty_policy=policy, distance_method=method).values[
        request.key
    ]


def dice(pred, gt, spacing=None, **options) -> float:
    """Dice = 2TP/(2TP+FP+FN). Both empty → 1, one empty → 0 (default policy)."""
    return _one("dice", pred, gt, spacing, options)


def iou(pred, gt, spacing=None, **options) -> float:
    """IoU (Jaccard) = TP/(TP+FP+FN) = Dice/(2−Dice)."""
    return _one("iou", pred, gt, spacing, options)


def hd(pred, gt, spacing=None, **options) -> float:
    """Hausdorff distance in mm between voxel-centre surfaces."""
    return _one("hd", pred, gt, spacing, options)


def hd95(pred, gt, spacing=None, percentile: float = 95.0, pooled: bool = False, **options) -> float:
    """p-th percentile Hausdorff distance in mm: max over directions of the directed percentiles.

    `pooled=True` takes the percentile of both directions pooled (MedPy's convention).
    """
    return _one("hd95", pred, gt, spacing, {"percentile": float(percentile), "pooled": bool(pooled), **options})


def assd(pred, gt, spacing=None, **options) -> float:
    """Average symmetric surface distance in mm: mean of the pooled distances of both directions."""
    return _one("assd", pred, gt, spacing, options)


def masd(pred, gt, spacing=None, **options) -> float:
    """Mean average surface distance in mm: mean of the two directed means."""
    return _one("masd", pred, gt, spacing, options)


def nsd(pred, gt, spacing=None, tolerance_mm: float = 1.0, **options) -> float:
    """Normalised surface Dice: fraction of surface voxels (both masks) within `tolerance_mm` of the other surface."""
    return _one("nsd", pred, gt, spacing, {"tolerance_mm": float(tolerance_mm), **options})


def ahd(pred, gt, spacing=None, **options) -> float:
    """Average Hausdorff distance over all foreground voxels, in mm."""
    return _one("ahd", pred, gt, spacing, options)


def bahd(pred, gt, spacing=None, **options) -> float:
    """Balanced average Hausdorff distance (Aydin et al. 2021): both sums divided by |G|. Not symmetric."""
    return _one("bahd", pred, gt, spacing, options)

"""Built-in metrics, each a pure function of the shared `CaseGeometry` (reference.md §1)."""

from __future__ import annotations

import numpy as np

from medmix.metrics.geometry import CaseGeometry
from medmix.metrics.registry import METRICS, MetricSpec


def _dice(g: CaseGeometry, epsilon: float = 0.0) -> float:
    # epsilon: MedSAMix adds 1e-8 to the denominator (its protocol); 0 gives the exact count ratio.
    if not epsilon >= 0:
        from medmix.errors import InputError

        raise InputError(f"dice: epsilon must be ≥ 0, got {epsilon}.")
    return 2.0 * g.n_tp / (g.n_pred + g.n_gt + epsilon)


def _iou(g: CaseGeometry) -> float:
    return g.n_tp / (g.n_pred + g.n_gt - g.n_tp)


def _pooled(g: CaseGeometry) -> np.ndarray:
    return np.concatenate([g.pred_to_gt_surface, g.gt_to_pred_surface])


def _hd(g: CaseGeometry) -> float:
    return float(max(g.pred_to_gt_surface.max(), g.gt_to_pred_surface.max()))


def _surface(name: str, surface: str) -> bool:
    """True for DeepMind surfels, False for voxel centres (the default)."""
    if surface not in ("voxel", "surfel"):
        from medmix.errors import InputError

        raise InputError(f"{name}: surface must be 'voxel' (voxel centres, default) or 'surfel' (DeepMind "
                         f"surface-distance), got {surface!r}.")
    return surface == "surfel"


def _hd95(g: CaseGeometry, percentile: float = 95.0, pooled: bool = False, surface: str = "voxel") -> float:
    if not 0 <= percentile <= 100:
        from medmix.errors import InputError

        raise InputError(f"hd95: percentile must lie in [0, 100], got {percentile}.")
    if _surface("hd95", surface):
        if pooled:
            from medmix.errors import InputError

            raise InputError("hd95: pooled=true has no surfel form (DeepMind's HD95 is the max of two directions).")
        from medmix.metrics.surfels import surfel_hd

        return surfel_hd(g.surfels, percentile)
    if pooled:
        return float(np.percentile(_pooled(g), percentile))
    return float(max(np.percentile(g.pred_to_gt_surface, percentile), np.percentile(g.gt_to_pred_surface, percentile)))


def _assd(g: CaseGeometry, surface: str = "voxel") -> float:
    if _surface("assd", surface):
        from medmix.metrics.surfels import surfel_assd

        return surfel_assd(g.surfels)
    return float(_pooled(g).mean())


def _masd(g: CaseGeometry) -> float:
    return float((g.pred_to_gt_surface.mean() + g.gt_to_pred_surface.mean()) / 2.0)


def _nsd(g: CaseGeometry, tolerance_mm: float = 1.0, surface: str = "voxel") -> float:
    if not tolerance_mm >= 0:
        from medmix.errors import InputError

        raise InputError(f"nsd: tolerance_mm must be ≥ 0, got {tolerance_mm}.")
    if _surface("nsd", surface):
        from medmix.metrics.surfels import surfel_nsd

        return surfel_nsd(g.surfels, tolerance_mm)
    within = np.count_nonzero(g.pred_to_gt_surface <= tolerance_mm) + np.count_nonzero(
        g.gt_to_pred_surface <= tolerance_mm
    )
    return within / (g.pred_to_gt_surface.size + g.gt_to_pred_surface.size)


def _ahd(g: CaseGeometry) -> float:
    return 0.5 * (g.gt_to_pred_foreground_sum / g.n_gt + g.pred_to_gt_foreground_sum / g.n_pred)


def _bahd(g: CaseGeometry) -> float:
    return 0.5 * (g.gt_to_pred_foreground_sum + g.pred_to_gt_foreground_sum) / g.n_gt


def ahd_from_sums(sum_gt_to_pred: float, sum_pred_to_gt: float, n_gt: int, n_pred: int) -> float:
    """AHD from the two directed distance sums over all foreground voxels and the mask sizes."""
    return 0.5 * (sum_gt_to_pred / n_gt + sum_pred_to_gt / n_pred)


def bahd_from_sums(sum_gt_to_pred: float, sum_pred_to_gt: float, n_gt: int) -> float:
    """bAHD (Aydin et al. 2021): both directed sums divided by |G|."""
    return 0.5 * (sum_gt_to_pred + sum_pred_to_gt) / n_gt


_VOXEL_CENTRES = "voxel-centre surfaces (face-connectivity erosion, border = background)"

_BUILTINS = [
    MetricSpec("dice", True, "1", "overlap", "2TP/(2TP+FP+FN) from integer counts; epsilon=1e-8 adds MedSAMix's "
               "denominator epsilon", "Dice 1945", defaults={"epsilon": 0.0}, geometry_fn=_dice, builtin=True),
    MetricSpec("iou", True, "1", "overlap", "TP/(TP+FP+FN); equals Dice/(2-Dice)", "Jaccard 1912",
               geometry_fn=_iou, builtin=True),
    MetricSpec("hd", False, "mm", "distance", f"max of the two directed maxima; {_VOXEL_CENTRES}",
               "Huttenlocher et al. 1993", geometry_fn=_hd, builtin=True),
    MetricSpec("hd95", False, "mm", "distance",
               "max over the two directions of each directed p-th percentile (numpy linear), as MONAI / "
               f"Metrics Reloaded / DeepMind; pooled=True gives MedPy's pooled variant; {_VOXEL_CENTRES}; "
               "surface=surfel: DeepMind's surfel-area-weighted HD95 (BraTS 2023 lesion-wise)",
               "Maier-Hein et al., Metrics Reloaded 2024", defaults={"percentile": 95.0, "pooled": False, "surface": "voxel"},
               geometry_fn=_hd95, builtin=True),
    MetricSpec("assd", False, "mm", "distance", f"mean of the pooled surface distances of both directions; "
               f"{_VOXEL_CENTRES}; surface=surfel: DeepMind surfels, area-weighted", "MedPy assd; MONAI symmetric ASD",
               defaults={"surface": "voxel"}, geometry_fn=_assd, builtin=True),
    MetricSpec("masd", False, "mm", "distance", f"mean of the two directed mean surface distances; {_VOXEL_CENTRES}",
               "Metrics Reloaded MASD", geometry_fn=_masd, builtin=True),
    MetricSpec("nsd", True, "1", "overlap",
               f"fraction of surface voxels of both masks within tolerance_mm of the other surface; {_VOXEL_CENTRES} "
               "(surface=surfel: DeepMind's surfel-area weighting)", "Nikolov et al. 2021",
               defaults={"tolerance_mm": 1.0, "surface": "voxel"}, geometry_fn=_nsd, builtin=True),
    MetricSpec("ahd", False, "mm", "distance",
               "1/2[(1/|G|)Σ_G d(g,P) + (1/|P|)Σ_P d(p,G)] over all foreground voxels",
               "Taha & Hanbury 2015", geometry_fn=_ahd, builtin=True),
    MetricSpec("bahd", False, "mm", "distance",
               "1/2[(1/|G|)Σ_G d(g,P) + (1/|G|)Σ_P d(p,G)] over all foreground voxels; not symmetric",
               "Aydin et al., Eur Radiol Exp 2021;5:4", geometry_fn=_bahd, builtin=True),
]

for _spec in _BUILTINS:
    METRICS.add(_spec.name, _spec)

DEFAULT_METRICS = ("dice", "iou", "hd", "hd95", "assd", "nsd", "ahd", "bahd")

from medmix.metrics import lesion_metrics  # noqa: E402  (lesion-wise metrics share the registry)

lesion_metrics.register()

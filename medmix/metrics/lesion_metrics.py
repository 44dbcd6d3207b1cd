"""Lesion-wise aggregates as per-case metrics (`lesion_dice`, `lesion_hd95`, `lesion_f1`, …) of one binary region.

Options (as for any metric: `lesion_dice:definition=panoptica,challenge=metastases`): definition brats2023
(default) or panoptica; challenge glioma (default), ssa, paediatric, meningioma, metastases; matcher bipartite
(default) or greedy_iou and compat (false) for panoptica. The metrics of one case share one lesion-wise pass.
"""

from __future__ import annotations

import math

from medmix.metrics.lesionwise import score_region
from medmix.metrics.registry import METRICS, MetricSpec

# (metric name, key in RegionResult.values, higher is better, units, panoptica only)
LESION_METRICS = (
    ("lesion_dice", "lesion_dice", True, "1", False),
    ("lesion_hd95", "lesion_hd95", False, "mm", False),
    ("lesion_tp", "tp", True, "lesions", False),
    ("lesion_fp", "fp", False, "lesions", False),
    ("lesion_fn", "fn", False, "lesions", False),
    ("lesion_f1", "f1", True, "1", False),
    ("lesion_nsd", "lesion_nsd", True, "1", True),
    ("lesion_rq", "rq", True, "1", True),
    ("lesion_sq_dice", "sq_dice", True, "1", True),
    ("lesion_sq_hd95", "sq_hd95", False, "mm", True),
    ("lesion_pq", "pq", True, "1", True),
)
_OPTIONS = {"definition": "brats2023", "challenge": "glioma", "matcher": "bipartite", "compat": False}
# The metrics of one case are asked for one after another with the same arrays: keep that case's results (one
# per option set) until other arrays arrive. Also what `last_case_lesions` reads for the per-lesion table.
_case: dict = {"arrays": (None, None), "results": {}}


def region_result(pred, gt, spacing, definition: str = "brats2023", challenge: str = "glioma",
                  matcher: str = "bipartite", compat: bool = False):
    arrays = _case["arrays"]
    if arrays[0] is not pred or arrays[1] is not gt:
        _case["arrays"], _case["results"] = (pred, gt), {}
    key = (tuple(spacing), definition, challenge, matcher, bool(compat))
    if key in _case["results"]:
        return _case["results"][key]
    # the registry's metrics never include BraTS 2023's whole-region "legacy" values: skip their surfel pass
    result = score_region(pred, gt, spacing, definition=definition, challenge=challenge, matcher=matcher,
                          compat=compat, legacy=False)
    _case["results"][key] = result
    return result


def _finite(value: float) -> float | None:
    """None (an empty CSV cell) for panoptica's unmatched distances (inf): the JSON parts refuse inf / NaN."""
    return value if math.isfinite(value) else None


def last_case_lesions() -> list[dict]:
    """Per-lesion rows of the case just scored (every definition / challenge asked), then forgotten."""
    rows = []
    for (_, definition, challenge, matcher, compat), result in _case["results"].items():
        for lesion in result.lesions:
            rows.append({"definition": definition, "challenge": challenge, "matcher": matcher, "compat": compat,
                         "lesion": lesion.lesion, "status": lesion.status, "volume_mm3": lesion.volume_mm3,
                         "pred_components": " ".join(map(str, lesion.pred_components)),
                         **{k: _finite(getattr(lesion, k)) for k in ("dice", "hd95", "nsd")},
                         "counted": lesion.counted})
    _case["arrays"], _case["results"] = (None, None), {}
    return rows


def _checker(name: str, panoptica_only: bool):
    """Validate option values when the request is parsed, so a typo stops a run before it starts."""

    def check(options) -> None:
        from medmix.errors import InputError
        from medmix.metrics.label_conventions import get_challenge
        from medmix.metrics.lesionwise import DEFINITIONS, MATCHERS

        opts = {**_OPTIONS, **options}
        if opts["definition"] not in DEFINITIONS:
            raise InputError(f"{name}: definition must be one of {', '.join(DEFINITIONS)}, got "
                             f"{opts['definition']!r}.")
        get_challenge(str(opts["challenge"]))
        if opts["matcher"] not in MATCHERS:
            raise InputError(f"{name}: matcher must be one of {', '.join(MATCHERS)}, got {opts['matcher']!r}.")
        if not isinstance(opts["compat"], bool):
            raise InputError(f"{name}: compat must be true or false, got {opts['compat']!r}.")
        if panoptica_only and opts["definition"] != "panoptica":
            raise InputError(f"{name} exists only for definition=panoptica (write {name}:definition=panoptica).")

    return check


def _case_fn(value_key: str, name: str):
    def fn(pred, gt, spacing=None, **options):
        return float(region_result(pred, gt, spacing, **{**_OPTIONS, **options}).values[value_key])

    return fn


def register() -> None:
    for name, key, higher, units, panoptica_only in LESION_METRICS:
        METRICS.add(name, MetricSpec(
            name, higher, units, "custom",
            convention=f"lesion-wise {key} of one region (reference.md §9); options definition, challenge, "
                       "matcher, compat; no lesion and no prediction: the definition's perfect score",
            citation="BraTS 2023 lesion-wise metrics; brats-evaluation / panoptica",
            defaults=dict(_OPTIONS), empty="compute", case_fn=_case_fn(key, name), builtin=True,
            check_options=_checker(name, panoptica_only)))

"""Lesion-wise (instance) evaluation: the two BraTS definitions of reference.md §9, as pure functions.

- `brats2023_region`: the BraTS 2023 challenge script. GT lesions are the 26-connected components of the GT
  dilated d times (18-neighbourhood), cut back to the GT; each lesion is matched to every prediction component
  that touches the lesion dilated d times; lesions at most `threshold_mm3` are not counted; unmatched
  prediction components are false positives (Dice 0, HD95 374); HD95 is DeepMind's surfel HD95.
- `panoptica_region`: the `brats-evaluation` package (on `panoptica`): 26-connected instances, one-to-one
  maximum bipartite matching on Dice (or greedy IoU ≥ 0.5), per-match Dice / pooled voxel-centre HD95 / NSD at
  τ = min(spacing), RQ/SQ/PQ; the metastasis parser penalises FN/FP lesions of at least 20 mm³.

Both work on one binary region (a union of labels, see `label_conventions`); `lesionwise` splits a label map
into regions. Work is done per lesion on bounding-box crops, never on whole-image distance transforms.
Every function returns the definition's own values (`raw`: NaN / inf where the original gives them) and the
medmix reading of them (`values`: NaN → the empty-mask policy, 1 for overlap / quality, 0 for distances;
inf → the definition's distance penalty), which is what summaries and leaderboards use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from medmix.errors import InputError
from medmix.metrics.inputs import as_binary_mask, as_label_map, as_spacing, check_same_shape
from medmix.metrics.instances import components, crop_to_union, dilate, instance_stats
from medmix.metrics.label_conventions import get_challenge, region_labels

BRATS2023_HD95_PENALTY = 374.0
PANOPTICA_HD95_PENALTY = 373.0  # brats-evaluation's "diameter of the cube in SRI space"
METS_LARGE_MM3 = 20.0
METS_OVERLAP = 0.1
DEFINITIONS = ("brats2023", "panoptica")
MATCHERS = ("bipartite", "greedy_iou")


@dataclass(frozen=True)
class LesionRow:
    """One lesion (status TP/FN, `lesion` = its GT instance id) or one false-positive component (status FP,
    `lesion` = 0). `pred_components` are prediction component ids (raster order, 1-based); `counted` says whether
    the row enters the aggregates (BraTS 2023: volume above the threshold)."""

    region: str
    lesion: int
    volume_mm3: float
    pred_components: tuple[int, ...]
    dice: float
    hd95: float
    nsd: float
    status: str
    counted: bool = True


@dataclass
class RegionResult:
    region: str
    definition: str
    values: dict[str, float]
    raw: dict[str, float]
    lesions: list[LesionRow] = field(default_factory=list)


def _crop(shape, *boxes, margin: int = 1) -> tuple[slice, ...]:
    """The union of bounding boxes, grown by `margin` and clipped to the image."""
    lo = [min(b[a].start for b in boxes) for a in range(len(shape))]
    hi = [max(b[a].stop for b in boxes) for a in range(len(shape))]
    return tuple(slice(max(l - margin, 0), min(h + margin, n)) for l, h, n in zip(lo, hi, shape))


def _fix(value: float, *, nan: float, inf: float) -> float:
    if math.isnan(value):
        return nan
    return inf if math.isinf(value) else float(value)


# --- BraTS 2023 -------------------------------------------------------------------------------------------------


def brats2023_region(
    pred,
    gt,
    spacing: Sequence[float] | float | None = None,
    *,
    dilation_voxels: int = 3,
    threshold_mm3: float = 50.0,
    region: str = "region",
    legacy: bool = True,
) -> RegionResult:
    """BraTS 2023 lesion-wise Dice / HD95 of one binary region (reference.md §9 A).

    pred, gt: boolean 2D or 3D arrays; spacing: mm per axis (BraTS reads the prediction file's zooms).
    values: lesion_dice, lesion_hd95 (mm, surfel HD95, 374 per FN/FP), tp, fp, fn, f1 (2TP/(2TP+FP+FN)), plus
    the whole-region "legacy" dice and hd95 (legacy=False skips them: a whole-region surfel pass, as costly as
    all the lesions together). No lesion and no prediction: Dice 1, HD95 0.
    """
    from medmix.metrics.surfels import surfel_distances, surfel_hd, surfel_nsd

    pred_mask, gt_mask = _binary_pair(pred, gt)
    spacing_mm = as_spacing(spacing, gt_mask.ndim)
    voxel_mm3 = math.prod(spacing_mm)
    d = int(dilation_voxels)
    # 18-neighbourhood dilation in 3D is scipy's rank 2; in 2D rank 2 is the full 8-neighbourhood
    dil_conn = 18 if gt_mask.ndim == 3 else 8
    pred_mask, gt_mask = crop_to_union(pred_mask, gt_mask, d + 1)

    joined, n_lesions = components(dilate(gt_mask, d, dil_conn))
    lesion_labels = np.where(gt_mask, joined, 0)
    pred_labels, n_pred = components(pred_mask)
    pred_sizes, pred_boxes = instance_stats(pred_labels, n_pred)
    lesion_sizes, lesion_boxes = instance_stats(lesion_labels, n_lesions, margin=d)

    rows: list[LesionRow] = []
    served: set[int] = set()
    for j, box in enumerate(lesion_boxes, start=1):
        lesion = lesion_labels[box] == j
        touching = np.unique(pred_labels[box][dilate(lesion, d, dil_conn)])
        touching = tuple(int(c) for c in touching if c)
        served.update(touching)
        volume = float(lesion_sizes[j]) * voxel_mm3
        if not touching:
            rows.append(LesionRow(region, j, volume, (), 0.0, BRATS2023_HD95_PENALTY, 0.0, "FN",
                                  volume > threshold_mm3))
            continue
        crop = _crop(gt_mask.shape, box, *(pred_boxes[c - 1] for c in touching))
        lesion_c = lesion_labels[crop] == j
        pred_c = np.isin(pred_labels[crop], touching)
        overlap = int(np.count_nonzero(lesion_c & pred_c))
        dice = 2.0 * overlap / (int(lesion_sizes[j]) + int(pred_sizes[list(touching)].sum()))
        distances = surfel_distances(pred_c, lesion_c, spacing_mm)
        # NSD is not part of the 2023 rules; reported per lesion as DeepMind's surface Dice at 1 mm
        rows.append(LesionRow(region, j, volume, touching, dice, surfel_hd(distances, 95.0),
                              surfel_nsd(distances, 1.0), "TP", volume > threshold_mm3))
    false_positives = [c for c in range(1, n_pred + 1) if c not in served]
    for c in false_positives:
        rows.append(LesionRow(region, 0, float(pred_sizes[c]) * voxel_mm3, (c,), 0.0, BRATS2023_HD95_PENALTY,
                              0.0, "FP"))

    counted = [r for r in rows if r.status != "FP" and r.counted]
    tp = sum(r.status == "TP" for r in counted)
    fn = len(counted) - tp
    fp = len(false_positives)
    denominator = len(counted) + fp
    if denominator == 0:
        lesion_dice, lesion_hd95 = 1.0, 0.0
    else:
        lesion_dice = sum(r.dice for r in counted) / denominator
        lesion_hd95 = (sum(r.hd95 for r in counted) + BRATS2023_HD95_PENALTY * fp) / denominator
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    values = {"lesion_dice": lesion_dice, "lesion_hd95": lesion_hd95, "tp": float(tp), "fp": float(fp),
              "fn": float(fn), "f1": f1, **(_legacy(pred_mask, gt_mask, spacing_mm) if legacy else {})}
    return RegionResult(region, "brats2023", values, dict(values), rows)


def _legacy(pred: np.ndarray, gt: np.ndarray, spacing_mm) -> dict[str, float]:
    """The 2023 script's whole-region Dice and surfel HD95 (both empty: 1 / 0; inf → 374)."""
    from medmix.metrics.surfels import surfel_distances, surfel_hd

    n_p, n_g = int(np.count_nonzero(pred)), int(np.count_nonzero(gt))
    if n_p == 0 and n_g == 0:
        return {"legacy_dice": 1.0, "legacy_hd95": 0.0}
    dice = 2.0 * int(np.count_nonzero(pred & gt)) / (n_p + n_g)
    if n_p == 0 or n_g == 0:
        return {"legacy_dice": dice, "legacy_hd95": BRATS2023_HD95_PENALTY}
    hd95 = surfel_hd(surfel_distances(pred, gt, spacing_mm), 95.0)
    return {"legacy_dice": dice, "legacy_hd95": BRATS2023_HD95_PENALTY if math.isinf(hd95) else hd95}


# --- panoptica / brats-evaluation --------------------------------------------------------------------------------


def match_instances(
    ref_labels: np.ndarray, n_ref: int, pred_labels: np.ndarray, n_pred: int, matcher: str = "bipartite",
    sizes: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[tuple[int, int]]:
    """One-to-one (ref id, pred id) matches, as panoptica makes them.

    bipartite: `scipy.optimize.linear_sum_assignment` on cost 1 − Dice over overlapping pairs with Dice ≥ 1e-6
    (others cost 1 + 1e-6), keeping pairs with cost < 1. greedy_iou: pairs by IoU, highest first (ties: lower
    ref id, then lower pred id), taken while both are free and IoU ≥ 0.5.
    """
    if matcher not in MATCHERS:
        raise InputError(f"matcher must be one of {', '.join(MATCHERS)}, got {matcher!r}.")
    if n_ref == 0 or n_pred == 0:
        return []
    both = (ref_labels > 0) & (pred_labels > 0)
    pair_ids, overlaps = np.unique(ref_labels[both].astype(np.int64) * (n_pred + 1) + pred_labels[both],
                                   return_counts=True)
    ref_ids, pred_ids = np.divmod(pair_ids, n_pred + 1)
    if sizes is None:
        sizes = (np.bincount(ref_labels.ravel(), minlength=n_ref + 1),
                 np.bincount(pred_labels.ravel(), minlength=n_pred + 1))
    ref_sizes, pred_sizes = sizes
    total = ref_sizes[ref_ids] + pred_sizes[pred_ids]
    if matcher == "bipartite":
        from scipy.optimize import linear_sum_assignment

        dice = 2.0 * overlaps / total
        cost = np.full((n_ref, n_pred), 1.0 + 1e-6)
        keep = dice >= 1e-6
        cost[ref_ids[keep] - 1, pred_ids[keep] - 1] = 1.0 - dice[keep]
        rows, cols = linear_sum_assignment(cost)
        return [(int(r) + 1, int(c) + 1) for r, c in zip(rows, cols) if cost[r, c] < 1.0]
    iou = overlaps / (total - overlaps)
    order = np.argsort(-iou, kind="stable")
    used_ref, used_pred, matches = set(), set(), []
    for k in order:
        r, p = int(ref_ids[k]), int(pred_ids[k])
        if iou[k] >= 0.5 and r not in used_ref and p not in used_pred:
            used_ref.add(r)
            used_pred.add(p)
            matches.append((r, p))
    return sorted(matches)


def _pair_metrics(ref: np.ndarray, pred: np.ndarray, spacing_mm, tolerance_mm: float) -> tuple[float, float, float]:
    """panoptica's per-pair Dice, pooled voxel-centre HD95 and NSD = ½(fraction of each border within τ of the
    other; the mean of two fractions, not medmix's pooled `nsd`). Both masks non-empty."""
    from medmix.metrics.geometry import CaseGeometry

    geom = CaseGeometry(pred, ref, tuple(spacing_mm))
    to_gt, to_pred = geom.pred_to_gt_surface, geom.gt_to_pred_surface
    dice = 2.0 * geom.n_tp / (geom.n_pred + geom.n_gt)
    hd95 = float(np.percentile(np.concatenate([to_pred, to_gt]), 95))
    nsd = float(np.count_nonzero(to_pred <= tolerance_mm) / to_pred.size
                + np.count_nonzero(to_gt <= tolerance_mm) / to_gt.size) / 2.0
    return dice, hd95, nsd


def panoptica_region(
    pred,
    gt,
    spacing: Sequence[float] | float | None = None,
    *,
    matcher: str = "bipartite",
    parser: str = "glioma",
    compat: bool = False,
    region: str = "region",
) -> RegionResult:
    """brats-evaluation / panoptica lesion-wise metrics of one binary region (reference.md §9 B).

    raw: panoptica's names (tp, fp, fn, prec, rec, rq, sq_dsc, sq_iou, sq_hd95, sq_nsd, pq, pq_dsc,
    global_bin_dsc / hd95 / nsd) and the parser's lesionwise_dsc_mean / hd95_mean / nsd_mean. values: medmix keys
    (lesion_dice, lesion_hd95, lesion_nsd = the parser's means; tp, fp, fn, f1 = rq; rq, sq_dice, sq_hd95, sq_nsd,
    pq; global_dice, global_hd95, global_nsd). Global metrics use spacing, with medmix's empty-mask policy;
    compat=True reproduces the package instead: voxel units (NSD τ = 0.5 voxel) and its edge values (both empty
    → Dice 0, HD95 inf).
    """
    pred_mask, gt_mask = _binary_pair(pred, gt)
    spacing_mm = as_spacing(spacing, gt_mask.ndim)
    if parser not in ("glioma", "metastases"):
        raise InputError(f"parser must be 'glioma' or 'metastases', got {parser!r}.")
    voxel_mm3 = math.prod(spacing_mm)
    tolerance_mm = min(spacing_mm)
    pred_mask, gt_mask = crop_to_union(pred_mask, gt_mask, 1)
    ref_labels, n_ref = components(gt_mask)
    pred_labels, n_pred = components(pred_mask)
    ref_sizes, ref_boxes = instance_stats(ref_labels, n_ref)
    pred_sizes, pred_boxes = instance_stats(pred_labels, n_pred)
    matches = match_instances(ref_labels, n_ref, pred_labels, n_pred, matcher, (ref_sizes, pred_sizes))

    rows: list[LesionRow] = []
    for r, p in matches:
        crop = _crop(gt_mask.shape, ref_boxes[r - 1], pred_boxes[p - 1])
        dice, hd95, nsd = _pair_metrics(ref_labels[crop] == r, pred_labels[crop] == p, spacing_mm, tolerance_mm)
        rows.append(LesionRow(region, r, float(ref_sizes[r]) * voxel_mm3, (p,), dice, hd95, nsd, "TP"))
    matched_ref = {r for r, _ in matches}
    matched_pred = {p for _, p in matches}
    for r in range(1, n_ref + 1):
        if r not in matched_ref:
            rows.append(LesionRow(region, r, float(ref_sizes[r]) * voxel_mm3, (), 0.0, math.inf, 0.0, "FN"))
    for p in range(1, n_pred + 1):
        if p not in matched_pred:
            rows.append(LesionRow(region, 0, float(pred_sizes[p]) * voxel_mm3, (p,), 0.0, math.inf, 0.0, "FP"))

    tp, fp, fn = len(matches), n_pred - len(matches), n_ref - len(matches)
    raw = _panoptica_counts(tp, fp, fn, n_pred, n_ref)
    tp_rows = [row for row in rows if row.status == "TP"]
    sq_iou = [row.dice / (2.0 - row.dice) for row in tp_rows]  # per-match IoU from Dice, exact for one pair
    for name, vals, zero_tp in (("sq_dsc", [x.dice for x in tp_rows], 0.0), ("sq_iou", sq_iou, 0.0),
                                ("sq_hd95", [x.hd95 for x in tp_rows], math.inf),
                                ("sq_nsd", [x.nsd for x in tp_rows], 0.0)):
        raw[name] = float(np.mean(vals)) if vals else (math.nan if n_ref + n_pred == 0 else zero_tp)
    raw["pq"] = raw["sq_iou"] * raw["rq"]  # panoptica's PQ: IoU-based SQ × RQ
    raw["pq_dsc"] = raw["sq_dsc"] * raw["rq"]
    raw.update(_panoptica_globals(pred_mask, gt_mask, spacing_mm, compat))
    if parser == "glioma":
        raw["lesionwise_dsc_mean"], raw["lesionwise_hd95_mean"] = raw["sq_dsc"], raw["sq_hd95"]
        raw["lesionwise_nsd_mean"] = raw["sq_nsd"]
    else:
        raw.update(_metastasis_parser(rows, fp, n_ref))
    return RegionResult(region, "panoptica", _panoptica_values(raw), raw, rows)


def _panoptica_counts(tp: int, fp: int, fn: int, n_pred: int, n_ref: int) -> dict[str, float]:
    nan = math.nan
    rq = (0.0 if n_pred + n_ref > 0 else nan) if tp == 0 else tp / (tp + 0.5 * fp + 0.5 * fn)
    return {"tp": float(tp), "fp": float(fp), "fn": float(fn),
            "prec": tp / (tp + fp) if tp + fp else nan, "rec": tp / (tp + fn) if tp + fn else nan, "rq": rq}


def _panoptica_globals(pred: np.ndarray, gt: np.ndarray, spacing_mm, compat: bool) -> dict[str, float]:
    """Whole-region Dice, pooled HD95 and panoptica's NSD. Default: in mm (NSD τ = min spacing); both empty →
    NaN (read as 1 / 0), one empty → Dice 0, HD95 inf (read as 373), NSD 0. compat: as the package computes
    them: without spacing (voxels, τ = 0.5 voxel), and masks that do not overlap at all take the zero-TP edge
    values (Dice 0, HD95 inf, NSD 0) even when both are non-empty."""
    empty_p, empty_g = not pred.any(), not gt.any()
    if empty_p and empty_g:
        return {"global_bin_dsc": math.nan, "global_bin_hd95": math.nan, "global_bin_nsd": math.nan}
    if empty_p or empty_g or (compat and not (pred & gt).any()):
        return {"global_bin_dsc": 0.0, "global_bin_hd95": math.inf, "global_bin_nsd": 0.0}
    if compat:
        dice, hd95, nsd = _pair_metrics(gt, pred, (1.0,) * gt.ndim, 0.5)
    else:
        dice, hd95, nsd = _pair_metrics(gt, pred, spacing_mm, min(spacing_mm))
    return {"global_bin_dsc": dice, "global_bin_hd95": hd95, "global_bin_nsd": nsd}


def _metastasis_parser(rows: list[LesionRow], n_fp: int, n_ref: int) -> dict[str, float]:
    """brats-evaluation's `parse_mets_results`: lesions ≥ 20 mm³; FN and every FP count as Dice 0 / HD95 373."""
    dsc, hd95, nsd = [], [], []
    large_tp = large_fn = 0
    for row in rows:
        if row.status == "FP" or row.volume_mm3 < METS_LARGE_MM3:
            continue
        if row.status == "TP":
            dsc.append(row.dice), hd95.append(row.hd95), nsd.append(row.nsd)
            large_tp, large_fn = (large_tp + 1, large_fn) if row.dice >= METS_OVERLAP else (large_tp, large_fn + 1)
        else:
            dsc.append(0.0), hd95.append(PANOPTICA_HD95_PENALTY), nsd.append(0.0)
            large_fn += 1
    large_present = bool(dsc)
    dsc += [0.0] * n_fp
    nsd += [0.0] * n_fp
    hd95 += [PANOPTICA_HD95_PENALTY] * n_fp
    out = {}
    if large_present:
        denominator = 2 * large_tp + n_fp + large_fn
        out.update(large_instance_tp=float(large_tp), large_instance_fp=float(n_fp),
                   large_instance_fn=float(large_fn), large_instance_f1=2 * large_tp / denominator)
    if n_ref == 0 or not large_present:
        out.update(lesionwise_dsc_mean=math.nan, lesionwise_hd95_mean=math.nan, lesionwise_nsd_mean=math.nan)
    else:
        finite = [v for v in hd95 if not math.isinf(v)]
        out.update(lesionwise_dsc_mean=float(np.mean(dsc)), lesionwise_nsd_mean=float(np.mean(nsd)),
                   lesionwise_hd95_mean=float(np.mean(finite)) if finite else PANOPTICA_HD95_PENALTY)
    return out


def _panoptica_values(raw: dict[str, float]) -> dict[str, float]:
    """medmix keys: NaN (nothing to score) → 1 for overlap / quality, 0 for distances; inf → 373."""
    pen = PANOPTICA_HD95_PENALTY
    return {
        "lesion_dice": _fix(raw["lesionwise_dsc_mean"], nan=1.0, inf=1.0),
        "lesion_hd95": _fix(raw["lesionwise_hd95_mean"], nan=0.0, inf=pen),
        "lesion_nsd": _fix(raw["lesionwise_nsd_mean"], nan=1.0, inf=1.0),
        "tp": raw["tp"], "fp": raw["fp"], "fn": raw["fn"],
        "f1": _fix(raw["rq"], nan=1.0, inf=1.0), "rq": _fix(raw["rq"], nan=1.0, inf=1.0),
        "sq_dice": _fix(raw["sq_dsc"], nan=1.0, inf=1.0), "sq_hd95": _fix(raw["sq_hd95"], nan=0.0, inf=pen),
        "sq_nsd": _fix(raw["sq_nsd"], nan=1.0, inf=1.0), "pq": _fix(raw["pq_dsc"], nan=1.0, inf=1.0),
        "global_dice": _fix(raw["global_bin_dsc"], nan=1.0, inf=1.0),
        "global_hd95": _fix(raw["global_bin_hd95"], nan=0.0, inf=pen),
        "global_nsd": _fix(raw["global_bin_nsd"], nan=1.0, inf=1.0),
    }


# --- label maps -----------------------------------------------------------------------------------------------


def lesionwise(
    pred,
    gt,
    spacing: Sequence[float] | float | None = None,
    *,
    definition: str = "brats2023",
    challenge: str = "glioma",
    convention: str | None = None,
    regions: Sequence[str] | None = None,
    matcher: str = "bipartite",
    compat: bool = False,
) -> dict[str, RegionResult]:
    """Lesion-wise results per region of two integer label maps (2D or 3D, equal shape).

    definition: "brats2023" or "panoptica"; challenge: glioma, ssa, paediatric, meningioma, metastases (sets
    dilation / threshold for brats2023 and the parser for panoptica); convention: the label convention (default:
    the challenge's; brats2023 reads labels as brats_glioma); regions: default the definition's regions for the
    challenge.
    """
    spec = get_challenge(challenge)
    _check_definition(definition)
    pred_map, gt_map = as_label_map(pred, "pred"), as_label_map(gt, "gt")
    check_same_shape(pred_map, gt_map)
    if definition == "brats2023":
        convention = convention or "brats_glioma"
        regions = regions or spec.brats2023_regions
    else:
        convention = convention or spec.convention
        regions = regions or spec.panoptica_regions
    # every region lies inside the bounding box of all labels: cut the maps once (results are unchanged, see
    # crop_to_union); a region of consecutive ids is one range test, not np.isin over the image
    pred_map, gt_map = crop_to_union(pred_map, gt_map, max(spec.dilation_voxels, 0) + 1)
    out = {}
    for region in regions:
        labels = region_labels(convention, region)
        out[region] = score_region(_select(pred_map, labels), _select(gt_map, labels), spacing,
                                   definition=definition, challenge=challenge, matcher=matcher, compat=compat,
                                   region=region)
    return out


def score_region(pred, gt, spacing=None, *, definition: str = "brats2023", challenge: str = "glioma",
                 matcher: str = "bipartite", compat: bool = False, region: str = "region",
                 legacy: bool = True) -> RegionResult:
    """One binary region under a definition, with the challenge's parameters (dilation / threshold for brats2023,
    the parser for panoptica); legacy: BraTS 2023's whole-region values too."""
    spec = get_challenge(challenge)
    _check_definition(definition)
    if definition == "brats2023":
        return brats2023_region(pred, gt, spacing, dilation_voxels=spec.dilation_voxels,
                                threshold_mm3=spec.threshold_mm3, region=region, legacy=legacy)
    return panoptica_region(pred, gt, spacing, matcher=matcher, parser=spec.panoptica_parser, compat=compat,
                            region=region)


def _check_definition(definition: str) -> None:
    if definition not in DEFINITIONS:
        raise InputError(f"lesion-wise definition must be one of {', '.join(DEFINITIONS)}, got {definition!r}.")


def _select(label_map: np.ndarray, labels: tuple[int, ...]) -> np.ndarray:
    lo, hi = min(labels), max(labels)
    if len(set(labels)) == hi - lo + 1:
        return (label_map == lo) if lo == hi else (label_map >= lo) & (label_map <= hi)
    return np.isin(label_map, labels)


def _binary_pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    pred_mask, gt_mask = as_binary_mask(pred, "pred"), as_binary_mask(gt, "gt")
    check_same_shape(pred_mask, gt_mask)
    if gt_mask.ndim not in (2, 3):
        raise InputError(f"lesion-wise metrics need 2D or 3D masks, got {gt_mask.ndim}D.")
    return pred_mask, gt_mask

"""Live cross-checks of medmix metrics against MedPy, MONAI and DeepMind's surface-distance (reference.md §1, §6).

Each peer is compared under the convention it shares with medmix; where conventions differ, the test asserts the
difference (and says why) instead of a coincidence that does not hold. Masks are seeded random blobs made by
thresholding smoothed noise (realistic, multi-component surfaces), in 2D and 3D, with anisotropic spacing in
array axis order.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from medmix.metrics import assd, compute_metrics, dice, hd, hd95, iou, masd, nsd
from medmix.metrics.geometry import CaseGeometry

pytestmark = pytest.mark.peer

TOL_MM = 1e-6
METHODS = ["edt", "kdtree"]


# --------------------------------------------------------------------------------------------------------------
# Seeded cases


def _smooth_noise(rng: np.random.Generator, shape, sigma) -> np.ndarray:
    return gaussian_filter(rng.standard_normal(shape), sigma)


def _blob_pair(seed: int, shape, sigma, frac_gt: float, frac_pred: float, mix: float, interior: bool):
    """Reference and prediction blobs: thresholded smooth noise, the prediction from correlated noise."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape)
    other = rng.standard_normal(shape)
    field_gt = gaussian_filter(base, sigma)
    field_pred = gaussian_filter(base + mix * other, sigma)
    gt = field_gt > np.quantile(field_gt, 1.0 - frac_gt)
    pred = field_pred > np.quantile(field_pred, 1.0 - frac_pred)
    if interior:  # keep a background margin so nothing touches the image border
        inner = tuple(slice(2, n - 2) for n in shape)
        keep = np.zeros(shape, bool)
        keep[inner] = True
        gt &= keep
        pred &= keep
    assert gt.any() and pred.any() and (gt ^ pred).any()
    return pred, gt


def _far_false_positive(seed: int, shape, spacing):
    """A blob in one corner region and a single predicted voxel in the opposite corner (a far outlier)."""
    pred, gt = _blob_pair(seed, shape, 1.5, 0.15, 0.16, 0.5, interior=True)
    corner = tuple(slice(0, n // 2) for n in shape)
    keep = np.zeros(shape, bool)
    keep[corner] = True
    gt &= keep
    pred &= keep
    pred[tuple(n - 2 for n in shape)] = True
    assert gt.any()
    return pred, gt, spacing


def _sparse_lesion(seed: int, outer, box, offset, spacing, far_fp: bool, at_border: bool = False):
    """A small lesion pair in a large image (foreground ≪ 1%: the engine's sparse path), optionally with a far
    false-positive voxel, optionally cut by the image border (the box placed against two image edges)."""
    pred_small, gt_small = _blob_pair(seed, box, 1.5, 0.3, 0.3, 0.7, interior=not at_border)
    pred, gt = np.zeros(outer, bool), np.zeros(outer, bool)
    window = tuple(slice(o, o + n) for o, n in zip(offset, box))
    pred[window], gt[window] = pred_small, gt_small
    if far_fp:
        pred[tuple(n - 3 for n in outer)] = True
    assert (pred.sum() + gt.sum()) < 0.01 * pred.size
    if at_border:
        assert pred[0].any() and gt[0].any() and pred[..., -1].any() and gt[..., -1].any()
    return pred, gt, spacing


CASES = {
    "2d_64x64_iso_border": lambda: (*_blob_pair(1, (64, 64), 3.0, 0.30, 0.32, 0.6, False), (1.0, 1.0)),
    "2d_48x40_aniso": lambda: (*_blob_pair(2, (48, 40), 2.5, 0.25, 0.22, 0.8, True), (0.7, 1.3)),
    "2d_37x53_aniso_border": lambda: (*_blob_pair(3, (37, 53), 2.0, 0.40, 0.40, 1.0, False), (1.3, 0.7)),
    "3d_24x32x28_aniso": lambda: (*_blob_pair(4, (24, 32, 28), 2.0, 0.20, 0.22, 0.7, True), (2.5, 0.8, 0.8)),
    "3d_20x20x20_iso_border": lambda: (*_blob_pair(5, (20, 20, 20), 1.8, 0.30, 0.28, 0.9, False), (1.0, 1.0, 1.0)),
    "3d_16x30x22_aniso3_border": lambda: (*_blob_pair(6, (16, 30, 22), 2.2, 0.25, 0.25, 0.6, False),
                                          (0.8, 1.7, 3.0)),
    "3d_far_fp": lambda: _far_false_positive(7, (20, 24, 24), (2.5, 0.8, 0.8)),
    "2d_far_fp": lambda: _far_false_positive(8, (60, 50), (0.7, 1.3)),
    "3d_sparse_lesion_far_fp": lambda: _sparse_lesion(9, (40, 96, 96), (10, 16, 16), (12, 30, 50),
                                                      (2.5, 0.8, 0.8), far_fp=True),
    "3d_sparse_lesion_at_border": lambda: _sparse_lesion(11, (40, 96, 96), (10, 16, 16), (0, 40, 80),
                                                         (2.5, 0.8, 0.8), far_fp=False, at_border=True),
    "2d_sparse_lesion": lambda: _sparse_lesion(10, (256, 256), (20, 24), (100, 7), (0.7, 1.3), far_fp=False),
}
CASE_IDS = sorted(CASES)


@pytest.fixture(params=CASE_IDS)
def case(request):
    pred, gt, spacing = CASES[request.param]()
    return pred, gt, spacing


def _close_f32(monai_value: float, medmix_value: float) -> bool:
    """MONAI returns float32 tensors: equal within 1e-6 mm plus a few float32 roundings of the value."""
    return abs(monai_value - medmix_value) <= TOL_MM + 4 * float(np.finfo(np.float32).eps) * abs(medmix_value)


def test_cases_exercise_the_border_and_far_outliers():
    """The fixture cases really include masks touching the image border and a far outlier (guards the fixtures)."""
    def touches_border(m):
        return any(np.take(m, i, axis=a).any() for a in range(m.ndim) for i in (0, m.shape[a] - 1))

    touching = [cid for cid in CASE_IDS if touches_border(CASES[cid]()[1]) or touches_border(CASES[cid]()[0])]
    assert {"2d_64x64_iso_border", "3d_20x20x20_iso_border"} <= set(touching)
    pred, gt, spacing = CASES["3d_far_fp"]()
    assert hd(pred, gt, spacing) > 3 * hd95(pred, gt, spacing)  # the outlier dominates HD, not HD95


# --------------------------------------------------------------------------------------------------------------
# MedPy: same voxel-centre surfaces (result ^ binary_erosion(result, connectivity-1 footprint, border_value=0),
# so the image border is background), EDT with `voxelspacing` in array axis order, HD95 over the pooled
# distances of both directions, ASSD the pooled mean.


@pytest.fixture(scope="module")
def medpy_binary():
    pytest.importorskip("medpy")
    from medpy.metric import binary

    return binary


@pytest.mark.parametrize("method", METHODS)
def test_medpy_distances(medpy_binary, case, method):
    pred, gt, spacing = case
    assert medpy_binary.hd95(pred, gt, voxelspacing=spacing) == pytest.approx(
        hd95(pred, gt, spacing, pooled=True, distance_method=method), abs=TOL_MM, rel=0)
    assert medpy_binary.assd(pred, gt, voxelspacing=spacing) == pytest.approx(
        assd(pred, gt, spacing, distance_method=method), abs=TOL_MM, rel=0)
    assert medpy_binary.hd(pred, gt, voxelspacing=spacing) == pytest.approx(
        hd(pred, gt, spacing, distance_method=method), abs=TOL_MM, rel=0)


def test_medpy_overlap(medpy_binary, case):
    pred, gt, spacing = case
    assert medpy_binary.dc(pred, gt) == pytest.approx(dice(pred, gt), abs=1e-12)
    assert medpy_binary.jc(pred, gt) == pytest.approx(iou(pred, gt), abs=1e-12)


def test_medpy_hd95_is_pooled_not_max_of_directions(medpy_binary):
    """TV-1 separates the two HD95 conventions: MedPy pools (1.8), medmix's default is max-of-directions (1.9)."""
    g = np.zeros((3, 9), bool)
    g[1, [1, 2]] = True
    p = np.zeros((3, 9), bool)
    p[1, [2, 3, 4]] = True
    assert medpy_binary.hd95(p, g) == pytest.approx(1.8, abs=1e-12)
    assert hd95(p, g, pooled=True) == pytest.approx(1.8, abs=1e-12)
    assert hd95(p, g) == pytest.approx(1.9, abs=1e-12)


def test_medpy_spacing_is_array_axis_order(medpy_binary):
    """Reversing the spacing changes both libraries' answer in the same way (guards against silent axis swaps)."""
    pred, gt, spacing = CASES["3d_24x32x28_aniso"]()
    reversed_spacing = spacing[::-1]
    a = medpy_binary.hd95(pred, gt, voxelspacing=reversed_spacing)
    assert a == pytest.approx(hd95(pred, gt, reversed_spacing, pooled=True), abs=TOL_MM, rel=0)
    assert abs(a - hd95(pred, gt, spacing, pooled=True)) > 0.1


# --------------------------------------------------------------------------------------------------------------
# MONAI (monai/metrics/utils.py): get_mask_edges crops to the union box with a 1-voxel margin (padding with
# background if the box leaves the image) and takes `binary_erosion(seg) ^ seg` with scipy's default
# cross-shaped structure and border_value=0: the same voxel-centre surfaces. With distance_metric="euclidean" on
# CPU, get_surface_distance queries a KD-tree of edge coordinates scaled by the spacing (exact Euclidean).
# compute_hausdorff_distance takes the max over the two directions of each direction's torch.quantile (linear
# interpolation, like numpy's default): medmix's default HD95. Results are float32.


@pytest.fixture(scope="module")
def monai_metrics():
    pytest.importorskip("monai")
    pytest.importorskip("torch")
    from monai import metrics

    return metrics


def _onehot(mask: np.ndarray):
    import torch

    return torch.from_numpy(mask[None, None].astype(np.float32))


def _monai(fn, pred, gt, spacing, **kwargs) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(_onehot(pred), _onehot(gt), include_background=True, spacing=list(spacing), **kwargs)
    assert tuple(out.shape) == (1, 1)
    return float(out[0, 0])


@pytest.mark.parametrize("method", METHODS)
def test_monai_hd95_and_hd(monai_metrics, case, method):
    pred, gt, spacing = case
    got95 = _monai(monai_metrics.compute_hausdorff_distance, pred, gt, spacing, percentile=95,
                   distance_metric="euclidean")
    assert _close_f32(got95, hd95(pred, gt, spacing, distance_method=method)), (got95, hd95(pred, gt, spacing))
    got = _monai(monai_metrics.compute_hausdorff_distance, pred, gt, spacing, percentile=None,
                 distance_metric="euclidean")
    assert _close_f32(got, hd(pred, gt, spacing, distance_method=method)), (got, hd(pred, gt, spacing))


@pytest.mark.parametrize("method", METHODS)
def test_monai_symmetric_asd_is_pooled_assd(monai_metrics, case, method):
    """MONAI symmetric=True: `torch.cat(distances).mean()`, the pooled mean of both directions = medmix `assd`
    (not `masd`, the mean of the two directed means)."""
    pred, gt, spacing = case
    got = _monai(monai_metrics.compute_average_surface_distance, pred, gt, spacing, symmetric=True,
                 distance_metric="euclidean")
    assert _close_f32(got, assd(pred, gt, spacing, distance_method=method)), (got, assd(pred, gt, spacing))


def test_monai_symmetric_asd_differs_from_masd(monai_metrics):
    """On a case where pooled mean and mean of directed means differ, MONAI follows the pooled mean."""
    pred, gt, spacing = CASES["3d_far_fp"]()
    pooled, directed_mean = assd(pred, gt, spacing), masd(pred, gt, spacing)
    assert abs(pooled - directed_mean) > 1e-3
    got = _monai(monai_metrics.compute_average_surface_distance, pred, gt, spacing, symmetric=True)
    assert _close_f32(got, pooled)
    assert not _close_f32(got, directed_mean)


# Tolerances chosen away from every achievable voxel-centre distance of the spacings used (no exact ties, so the
# float32 distances of MONAI and float64 distances of medmix fall on the same side of the threshold).
NSD_TOLERANCES_MM = [1.05, 2.2]


@pytest.mark.parametrize("tolerance_mm", NSD_TOLERANCES_MM)
def test_monai_surface_dice_voxel_counting_equals_nsd(monai_metrics, case, tolerance_mm):
    """use_subvoxels=False: MONAI counts edge voxels (both sides) within the threshold over all edge voxels —
    medmix's voxel-centre NSD."""
    if not hasattr(monai_metrics, "compute_surface_dice"):
        pytest.skip("this MONAI has no compute_surface_dice")
    pred, gt, spacing = case
    geom = CaseGeometry(pred, gt, tuple(map(float, spacing)))
    every = np.concatenate([geom.pred_to_gt_surface, geom.gt_to_pred_surface])
    assert np.min(np.abs(every - tolerance_mm)) > 1e-4  # no tie at the threshold
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = monai_metrics.compute_surface_dice(_onehot(pred), _onehot(gt), [tolerance_mm], include_background=True,
                                                 spacing=list(spacing), use_subvoxels=False)
    ours = nsd(pred, gt, spacing, tolerance_mm=tolerance_mm)
    assert 0.0 < ours < 1.0  # the check is not vacuous
    assert _close_f32(float(out[0, 0]), ours)


@pytest.mark.parametrize("method", ["edt", "kdtree", "auto"])
def test_monai_surface_dice_at_exact_ties(monai_metrics, method):
    """NSD@1.6 mm at 0.8 mm spacing: many surface distances equal the tolerance exactly. MONAI (float32 distances
    against a float32 threshold) counts them as within, like medmix's EDT path: 0.7748 on this case."""
    pred, gt = _blob_pair(21, (64, 64), 3.0, 0.3, 0.32, 0.6, True)
    spacing = (0.8, 0.8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = monai_metrics.compute_surface_dice(_onehot(pred), _onehot(gt), [1.6], include_background=True,
                                                 spacing=list(spacing), use_subvoxels=False)
    assert float(out[0, 0]) == pytest.approx(0.7748, abs=1e-4)
    assert _close_f32(float(out[0, 0]), nsd(pred, gt, spacing, tolerance_mm=1.6, distance_method=method))


def test_monai_surface_dice_subvoxels_is_a_different_convention(monai_metrics):
    """use_subvoxels=True weights DeepMind-style surfels by area: on TV-5 it is not medmix's voxel-centre NSD."""
    if not hasattr(monai_metrics, "compute_surface_dice"):
        pytest.skip("this MONAI has no compute_surface_dice")
    pred, gt, spacing = _tv5()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counted = monai_metrics.compute_surface_dice(_onehot(pred), _onehot(gt), [1.0], include_background=True,
                                                     spacing=list(spacing), use_subvoxels=False)
        surfels = monai_metrics.compute_surface_dice(_onehot(pred), _onehot(gt), [1.0], include_background=True,
                                                     spacing=list(spacing), use_subvoxels=True)
    ours = nsd(pred, gt, spacing, tolerance_mm=1.0)
    assert ours == pytest.approx(0.7549, abs=5e-5)
    assert _close_f32(float(counted[0, 0]), ours)
    assert abs(float(surfels[0, 0]) - ours) > 0.02


def test_monai_dice(monai_metrics, case):
    pred, gt, _ = case
    out = monai_metrics.compute_dice(_onehot(pred), _onehot(gt), include_background=True)
    assert float(out[0, 0]) == pytest.approx(dice(pred, gt), abs=1e-6)


# --------------------------------------------------------------------------------------------------------------
# DeepMind surface-distance: surfels on the voxel-corner grid (2×2(×2) neighbourhood codes), each weighted by its
# contour length / surface area; distances between corner points. A different convention from medmix's
# voxel-centre surfaces, so directed means and NSD differ (TV-5); HD can coincide on simple shapes.


@pytest.fixture(scope="module")
def deepmind():
    return pytest.importorskip("surface_distance")


def _tv5():
    g = np.zeros((100, 100, 100), bool)
    g[:50] = True
    p = np.zeros((100, 100, 100), bool)
    p[:51] = True
    return p, g, (2.0, 1.0, 1.0)


def _dm_distances(deepmind, gt, pred, spacing):
    with warnings.catch_warnings():  # scipy.ndimage.filters / morphology namespaces are deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return deepmind.compute_surface_distances(gt, pred, spacing)


def test_deepmind_tv5_surfels_differ_from_voxel_centres(deepmind):
    pred, gt, spacing = _tv5()
    d = _dm_distances(deepmind, gt, pred, spacing)
    dm_gt_to_pred, dm_pred_to_gt = deepmind.compute_average_surface_distance(d)
    dm_nsd = deepmind.compute_surface_dice_at_tolerance(d, 1.0)
    assert dm_gt_to_pred == pytest.approx(0.3224, abs=5e-4)
    assert dm_pred_to_gt == pytest.approx(0.3394, abs=5e-4)
    assert dm_nsd == pytest.approx(0.8361, abs=5e-4)

    geom = CaseGeometry(pred, gt, spacing)
    mm_gt_to_pred, mm_pred_to_gt = geom.gt_to_pred_surface.mean(), geom.pred_to_gt_surface.mean()
    assert mm_gt_to_pred == pytest.approx(0.4825, abs=5e-5)
    assert mm_pred_to_gt == pytest.approx(0.5076, abs=5e-5)
    result = compute_metrics(pred, gt, ["masd", "assd", "nsd", "hd", "hd95"], spacing)
    assert result["masd"] == pytest.approx((mm_gt_to_pred + mm_pred_to_gt) / 2, abs=1e-12)
    assert result["assd"] == pytest.approx(0.4951, abs=5e-5)
    assert result["nsd"] == pytest.approx(0.7549, abs=5e-5)
    # the two modes must differ
    assert abs(mm_gt_to_pred - dm_gt_to_pred) > 0.1 and abs(mm_pred_to_gt - dm_pred_to_gt) > 0.1
    assert abs(result["nsd"] - dm_nsd) > 0.05
    # ... while HD coincides on this slab: the corner surfaces are shifted by the same 1 slice of 2 mm
    assert deepmind.compute_robust_hausdorff(d, 100) == pytest.approx(2.0, abs=TOL_MM)
    assert result["hd"] == pytest.approx(2.0, abs=TOL_MM) and result["hd95"] == pytest.approx(2.0, abs=TOL_MM)


@pytest.mark.parametrize("shift", [(0, 3, 0), (2, 0, 1), (1, -2, 3)])
def test_deepmind_hd_coincides_on_translated_boxes(deepmind, shift):
    """For a box and its translate both surface models are translates of each other: HD = |shift| in mm."""
    spacing = (2.5, 0.8, 0.8)
    gt = np.zeros((20, 24, 24), bool)
    gt[5:11, 6:15, 7:13] = True
    pred = np.roll(gt, shift, axis=(0, 1, 2))
    expected = math.sqrt(sum((k * s) ** 2 for k, s in zip(shift, spacing)))
    d = _dm_distances(deepmind, gt, pred, spacing)
    assert deepmind.compute_robust_hausdorff(d, 100) == pytest.approx(expected, abs=TOL_MM)
    assert hd(pred, gt, spacing) == pytest.approx(expected, abs=TOL_MM)


def test_deepmind_hd_within_one_voxel_diagonal(deepmind, case):
    """In general the HDs differ, but by at most one voxel diagonal ‖spacing‖: every voxel-centre surface voxel
    has a surfel corner at half a diagonal and vice versa, so each surface moves by ≤ ½‖spacing‖."""
    pred, gt, spacing = case
    d = _dm_distances(deepmind, gt, pred, spacing)
    dm_hd = deepmind.compute_robust_hausdorff(d, 100)
    # percent=100 picks the largest distance of each direction (the cumulative area reaches 1 at the end)
    assert dm_hd == pytest.approx(max(d["distances_gt_to_pred"].max(), d["distances_pred_to_gt"].max()), abs=1e-12)
    assert abs(dm_hd - hd(pred, gt, spacing)) <= math.hypot(*spacing) + 1e-9


def test_deepmind_hd_differs_on_some_blobs(deepmind):
    """The coincidence is not general: on realistic blobs the corner-surfel HD differs from the voxel-centre HD."""
    diffs = []
    for cid in CASE_IDS:
        pred, gt, spacing = CASES[cid]()
        d = _dm_distances(deepmind, gt, pred, spacing)
        diffs.append(abs(deepmind.compute_robust_hausdorff(d, 100) - hd(pred, gt, spacing)))
    assert max(diffs) > 0.1


def test_deepmind_dice(deepmind, case):
    pred, gt, _ = case
    assert deepmind.compute_dice_coefficient(gt, pred) == pytest.approx(dice(pred, gt), abs=1e-12)

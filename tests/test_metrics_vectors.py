"""Reference test vectors (reference.md §6) and the engine's contract: options, labels, slices, errors."""

import math

import numpy as np
import pytest

import medmix
from medmix.errors import InputError, MedmixError, UnknownNameError
from medmix.metrics import (
    EmptyPolicy,
    ahd,
    assd,
    bahd,
    compute_label_metrics,
    compute_metrics,
    compute_slicewise,
    dice,
    get_metric,
    hd,
    hd95,
    iou,
    masd,
    nsd,
    slicewise_mean,
)
from medmix.metrics.builtin import ahd_from_sums, bahd_from_sums

METHODS = ["edt", "kdtree", "auto"]


def tv1():
    g = np.zeros((3, 9), bool)
    g[1, [1, 2]] = True
    p = np.zeros((3, 9), bool)
    p[1, [2, 3, 4]] = True
    return p, g


def tv2():
    g = np.zeros((20, 20), bool)
    g[2:4, 2:4] = True
    p1 = g.copy()
    p1[2, 13] = True
    p2 = p1.copy()
    for r, c in [(4, 2), (4, 3), (1, 2), (1, 3)]:
        p2[r, c] = True
    return g, p1, p2


@pytest.mark.parametrize("method", METHODS)
def test_tv1(method):
    p, g = tv1()
    kw = {"distance_method": method}
    assert ahd(p, g, **kw) == pytest.approx(0.75, abs=1e-12)
    assert bahd(p, g, **kw) == pytest.approx(1.0, abs=1e-12)
    assert dice(p, g) == pytest.approx(0.4, abs=1e-12)
    assert iou(p, g) == pytest.approx(0.25, abs=1e-12)
    assert hd(p, g, **kw) == pytest.approx(2.0, abs=1e-12)
    assert hd95(p, g, **kw) == pytest.approx(1.9, abs=1e-12)
    assert hd95(p, g, pooled=True, **kw) == pytest.approx(1.8, abs=1e-12)
    assert assd(p, g, **kw) == pytest.approx(0.8, abs=1e-12)
    assert masd(p, g, **kw) == pytest.approx(0.75, abs=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_tv2_bahd_penalises_false_positives_that_ahd_rewards(method):
    g, p1, p2 = tv2()
    names = ["dice", "ahd", "bahd", "hd", "hd95", "hd95:pooled=true"]
    r1 = compute_metrics(p1, g, names, distance_method=method).values
    r2 = compute_metrics(p2, g, names, distance_method=method).values
    expected1 = {"dice": 0.888889, "ahd": 1.0, "bahd": 1.25, "hd": 10, "hd95": 8.0, "hd95:pooled=true": 6.0}
    expected2 = {"dice": 0.615385, "ahd": 0.777778, "bahd": 1.75, "hd": 10, "hd95": 6.4, "hd95:pooled=true": 4.6}
    for key in names:
        assert r1[key] == pytest.approx(expected1[key], abs=1e-6), key
        assert r2[key] == pytest.approx(expected2[key], abs=1e-6), key
    assert r2["ahd"] < r1["ahd"] and r2["bahd"] > r1["bahd"]


def test_tv3_from_published_sums():
    sums = dict(sum_gt_to_pred=5.27971e6, sum_pred_to_gt=51095.3)
    assert ahd_from_sums(**sums, n_gt=9069636, n_pred=7554643) == pytest.approx(0.294447, abs=1e-6)
    assert bahd_from_sums(**sums, n_gt=9069636) == pytest.approx(0.293882, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_tv4_anisotropic_single_voxels(method):
    g = np.zeros((5, 5, 5), bool)
    g[2, 2, 2] = True
    p = np.zeros_like(g)
    p[3, 2, 2] = True
    r = compute_metrics(p, g, ["hd", "hd95", "assd", "ahd", "bahd", "dice"], (3, 1, 1), distance_method=method)
    for key in ["hd", "hd95", "assd", "ahd", "bahd"]:
        assert r[key] == pytest.approx(3.0, abs=1e-12), key
    assert r["dice"] == 0.0


@pytest.mark.parametrize("method", ["edt", "kdtree"])
def test_tv5_voxel_centre_surfaces(method):
    g = np.zeros((100, 100, 100), bool)
    g[:50] = True
    p = np.zeros_like(g)
    p[:51] = True
    r = compute_metrics(p, g, ["hd", "hd95", "assd", "masd", "nsd"], (2, 1, 1), distance_method=method)
    assert r["hd"] == pytest.approx(2.0) and r["hd95"] == pytest.approx(2.0)
    assert r["assd"] == pytest.approx(0.4951, abs=1e-4)
    assert r["nsd"] == pytest.approx(0.7549, abs=1e-4)
    # MASD is the mean of the directed means G→P 0.4825 and P→G 0.5076.
    assert r["masd"] == pytest.approx((0.4825 + 0.5076) / 2, abs=1e-4)


def test_tv5_directed_means():
    from medmix.metrics.geometry import CaseGeometry

    g = np.zeros((100, 100, 100), bool)
    g[:50] = True
    p = np.zeros_like(g)
    p[:51] = True
    geom = CaseGeometry(p, g, (2.0, 1.0, 1.0))
    assert geom.gt_to_pred_surface.mean() == pytest.approx(0.4825, abs=1e-4)
    assert geom.pred_to_gt_surface.mean() == pytest.approx(0.5076, abs=1e-4)


def test_tv6_disk_shift_and_spacing():
    yy, xx = np.mgrid[:64, :64]
    g = (yy - 32) ** 2 + (xx - 30) ** 2 <= 100
    p = (yy - 32) ** 2 + (xx - 33) ** 2 <= 100
    assert hd(p, g) == pytest.approx(3.0) and hd95(p, g) == pytest.approx(3.0)
    assert hd(p, g, spacing=(1, 2)) == pytest.approx(6.0)
    assert hd95(p, g, spacing=(1, 2)) == pytest.approx(5.656854, abs=1e-6)


def test_iou_dice_identity_on_counts():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, g = rng.random((2, 30, 30)) > 0.5
        d = dice(p, g)
        assert iou(p, g) == pytest.approx(d / (2 - d), rel=1e-12)


def test_option_syntax_and_keys():
    p, g = tv1()
    r = compute_metrics(p, g, ["hd95:percentile=100", "nsd:tolerance_mm=1.5", "nsd"])
    assert r["hd95:percentile=100"] == pytest.approx(2.0)
    # Surface distances are {0, 0, 1, 1, 2}: within 1.5 mm → 4 of 5, within 1 mm → 4 of 5.
    assert r["nsd:tolerance_mm=1.5"] == pytest.approx(0.8)
    assert nsd(p, g, tolerance_mm=0.5) == pytest.approx(0.4)
    with pytest.raises(InputError, match="unknown option 'tolerance'"):
        compute_metrics(p, g, ["nsd:tolerance=2"])
    with pytest.raises(UnknownNameError, match="Did you mean 'hd95'"):
        compute_metrics(p, g, ["hd96"])


class TestEmptyMasks:
    def test_both_empty(self):
        z = np.zeros((4, 5, 6), bool)
        r = compute_metrics(z, z)
        assert r.empty_gt and r.empty_pred
        assert [r[k] for k in ("dice", "iou", "nsd")] == [1.0, 1.0, 1.0]
        assert [r[k] for k in ("hd", "hd95", "assd", "ahd", "bahd")] == [0.0] * 5

    def test_one_empty_gives_diagonal(self):
        g = np.zeros((240, 240, 155), bool)
        p = g.copy()
        p[100, 100, 50] = True
        r = compute_metrics(p, g)
        assert r.empty_gt and not r.empty_pred
        assert r["dice"] == 0 and r["nsd"] == 0
        assert r["hd95"] == pytest.approx(373.13, abs=0.01)  # BraTS's worst value
        r2 = compute_metrics(g, p, spacing=(2, 1, 1))
        assert r2.empty_pred and not r2.empty_gt
        assert r2["bahd"] == pytest.approx(math.sqrt(480**2 + 240**2 + 155**2))

    def test_configurable(self):
        g = np.zeros((10, 10), bool)
        p = g.copy()
        p[3, 3] = True
        policy = EmptyPolicy(one_empty_distance=50.0, both_empty_overlap=0.0)
        assert hd(p, g, empty_policy=policy) == 50.0
        assert dice(g, g, empty_policy=policy) == 0.0
        with pytest.raises(MedmixError):
            EmptyPolicy(one_empty_distance="worst")

    def test_no_nan_anywhere(self):
        z = np.zeros((8, 8), bool)
        one = z.copy()
        one[2, 2] = True
        for p, g in [(z, z), (z, one), (one, z)]:
            assert all(math.isfinite(v) for v in compute_metrics(p, g).values.values())


def test_label_maps_give_per_label_results():
    gt = np.zeros((20, 20), int)
    gt[2:6, 2:6] = 1
    gt[10:15, 10:15] = 2
    pred = gt.copy()
    pred[10:15, 10:16] = 2
    pred[18, 18] = 3
    res = compute_label_metrics(pred, gt, metrics=["dice", "hd"])
    assert sorted(res) == [1, 2, 3]
    assert res[1]["dice"] == 1.0 and res[1]["hd"] == 0.0
    assert res[2]["dice"] == pytest.approx(2 * 25 / (25 + 30))
    assert res[3].empty_gt and not res[3].empty_pred and res[3]["dice"] == 0.0
    assert compute_label_metrics(pred, gt, labels=[4])[4]["dice"] == 1.0


def test_slicewise_follows_medsamix_convention():
    gt = np.zeros((5, 10, 10), bool)
    gt[1:4, 2:6, 2:6] = True
    pred = gt.copy()
    pred[3] = False  # a missed slice
    pred[0, 0, 0] = True  # a false positive on a slice without reference foreground
    rows = compute_slicewise(pred, gt, axis=0, metrics=["dice"])
    assert [r.index for r in rows] == [1, 2, 3]
    assert [r.result["dice"] for r in rows] == [1.0, 1.0, 0.0]
    assert slicewise_mean(pred, gt) == pytest.approx(2 / 3)
    assert [r.index for r in compute_slicewise(pred, gt, slices="any")] == [0, 1, 2, 3]
    rows_ax2 = compute_slicewise(pred, gt, axis=2, metrics=["hd"], spacing=(3.0, 1.0, 0.5))
    assert [r.index for r in rows_ax2] == [2, 3, 4, 5]
    # In-slice spacing drops the slicing axis: the missed slice 3 lies 1 row away → 3 mm.
    assert rows_ax2[0].result["hd"] == pytest.approx(3.0)


class TestBadInput:
    def test_non_binary(self):
        with pytest.raises(InputError, match="pred: expected a binary mask"):
            dice(np.array([[0, 2]]), np.array([[0, 1]]))

    def test_nan(self):
        with pytest.raises(InputError, match="gt: mask contains NaN"):
            dice(np.zeros((2, 2)), np.array([[np.nan, 1.0], [0, 0]]))

    def test_shape_mismatch(self):
        with pytest.raises(InputError, match=r"same shape.*\(2, 2\).*\(2, 3\)"):
            dice(np.zeros((2, 2)), np.zeros((2, 3)))

    @pytest.mark.parametrize("spacing", [(0, 1), (-1, 1), (float("nan"), 1), (1, 2, 3)])
    def test_bad_spacing(self, spacing):
        with pytest.raises(InputError, match="spacing"):
            hd(np.ones((2, 2)), np.ones((2, 2)), spacing=spacing)

    def test_errors_are_medmix_errors(self):
        with pytest.raises(MedmixError):
            iou(np.ones((2, 2)) * 3, np.ones((2, 2)))


def test_custom_metric_registration_and_use():
    @medmix.metric("test_volume_ratio", higher_is_better=True, units="1", empty={"both": 1.0, "one": 0.0})
    def volume_ratio(pred, gt, spacing=None):
        return min(pred.sum(), gt.sum()) / max(pred.sum(), gt.sum())

    try:
        p, g = tv1()
        assert compute_metrics(p, g, ["dice", "test_volume_ratio"])["test_volume_ratio"] == pytest.approx(2 / 3)
        assert compute_metrics(g & False, g, ["test_volume_ratio"])["test_volume_ratio"] == 0.0
        spec = get_metric("test_volume_ratio")
        assert spec.higher_is_better and not spec.builtin
        with pytest.raises(MedmixError, match="already registered"):
            medmix.metric("test_volume_ratio", higher_is_better=True)(volume_ratio)
    finally:
        from medmix.metrics.registry import METRICS

        METRICS.remove("test_volume_ratio")


def test_custom_metric_returning_nan_is_an_error():
    @medmix.metric("test_nan_metric", higher_is_better=False)
    def bad(pred, gt, spacing=None):
        return float("nan")

    try:
        with pytest.raises(MedmixError, match="returned NaN"):
            compute_metrics(*tv1(), ["test_nan_metric"])
    finally:
        from medmix.metrics.registry import METRICS

        METRICS.remove("test_nan_metric")


def test_metric_metadata_directions():
    lower = {"hd", "hd95", "assd", "masd", "ahd", "bahd"}
    for name in ["dice", "iou", "nsd", *lower]:
        spec = get_metric(name)
        assert spec.higher_is_better == (name not in lower)
        assert spec.convention and spec.citation

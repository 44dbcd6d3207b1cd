"""medmix.validation.radiomics: analytic phantoms (ball, box, single voxel, rectangle), first-order textbook
values, ICCs against pingouin live, and the agreement table's contract. The cross-check against PyRadiomics
itself is tests/test_radiomics_peer.py."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

from medmix.errors import InputError, UnknownNameError
from medmix.validation.mask_mesh import max_pairwise_distance
from medmix.validation.radiomics import (
    FEATURE_NAMES,
    FEATURES,
    PYRADIOMICS_NAMES,
    agreement_summary,
    icc,
    koo_li_band,
    radiomics_agreement,
    radiomics_cases,
    radiomics_features,
)

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.dropna")  # inside pingouin

R2 = math.sqrt(2.0)
R3 = math.sqrt(3.0)


def ball(radius: int, pad: int = 3) -> np.ndarray:
    n = radius + pad
    z, y, x = np.mgrid[-n:n + 1, -n:n + 1, -n:n + 1]
    return z**2 + y**2 + x**2 <= radius**2


def box(shape, pad: int = 2) -> np.ndarray:
    mask = np.zeros(tuple(s + 2 * pad for s in shape), dtype=bool)
    mask[tuple(slice(pad, pad + s) for s in shape)] = True
    return mask


def features_of(mask, spacing=None, image=None, **kwargs):
    spacing = (1.0,) * mask.ndim if spacing is None else spacing
    image = np.zeros(mask.shape) if image is None else image
    return radiomics_features(image, mask, spacing, **kwargs)


def test_feature_names_are_grouped_and_mapped_to_pyradiomics():
    assert FEATURE_NAMES == FEATURES["shape"] + FEATURES["firstorder"]
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == 30
    assert set(PYRADIOMICS_NAMES) == set(FEATURE_NAMES)
    f = features_of(ball(3))
    assert list(f) == list(FEATURE_NAMES) and all(isinstance(v, float) for v in f.values())


# --- shape: analytic phantoms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("radius", [10, 12])
def test_ball(radius):
    f = features_of(ball(radius))
    volume = 4 / 3 * math.pi * radius**3
    assert f["voxel_volume"] == pytest.approx(volume, rel=0.02)
    assert f["mesh_volume"] == pytest.approx(volume, rel=0.02)
    assert f["mesh_volume"] < f["voxel_volume"]  # the mesh cuts the voxels' corners
    assert f["surface_area"] == pytest.approx(4 * math.pi * radius**2, rel=0.1)  # ~7–9 % more: staircase
    assert 0.9 < f["sphericity"] <= 1.0
    # vertices lie halfway to the first outside voxel: (r + 1/2) from the centre along each axis
    assert f["maximum_diameter"] == pytest.approx(2 * radius + 1, abs=1e-12)
    # cubic symmetry: isotropic coordinate covariance; a solid ball's per-axis variance is r²/5
    assert f["elongation"] == pytest.approx(1.0, abs=1e-9) and f["flatness"] == pytest.approx(1.0, abs=1e-9)
    assert f["major_axis_length"] == pytest.approx(4 * radius / math.sqrt(5), rel=0.03)
    assert f["surface_volume_ratio"] == pytest.approx(f["surface_area"] / f["mesh_volume"])


def _box_mesh(n, s):
    """Mesh volume and (isotropic) area of an n1×n2×n3 box: the Minkowski sum of the box of voxel centres
    (edges L = n − 1) and the octahedron of radius 1/2 (the midpoint vertices), scaled by the spacing."""
    L = np.asarray(n, dtype=float) - 1
    r = 0.5
    pairs = L[0] * L[1] + L[1] * L[2] + L[0] * L[2]
    volume = L.prod() + 2 * r * pairs + 2 * r**2 * L.sum() + 4 * r**3 / 3
    area = 2 * pairs + 4 * L.sum() * r * R2 + 4 * R3 * r**2
    return volume * np.prod(s), area * s[0] ** 2


@pytest.mark.parametrize("n, spacing", [((4, 7, 12), (1.0, 1.0, 1.0)), ((3, 5, 9), (2.5, 0.8, 1.1)),
                                        ((1, 1, 1), (1.0, 1.0, 1.0)), ((1, 6, 6), (3.0, 0.5, 0.5))])
def test_box(n, spacing):
    f = features_of(box(n), spacing)
    assert f["voxel_volume"] == pytest.approx(np.prod(n) * np.prod(spacing), rel=1e-12)
    volume, area = _box_mesh(n, spacing)
    assert f["mesh_volume"] == pytest.approx(volume, rel=1e-12)
    if len(set(spacing)) == 1:
        assert f["surface_area"] == pytest.approx(area, rel=1e-12)
    # a grid of n centres at spacing s has variance s²(n² − 1)/12 along that axis, 0 covariance
    variances = np.sort([s**2 * (k**2 - 1) / 12 for k, s in zip(n, spacing)])[::-1]
    lengths = 4 * np.sqrt(variances)
    assert f["major_axis_length"] == pytest.approx(lengths[0], rel=1e-12, abs=1e-12)
    assert f["minor_axis_length"] == pytest.approx(lengths[1], rel=1e-12, abs=1e-12)
    assert f["least_axis_length"] == pytest.approx(lengths[2], rel=1e-12, abs=1e-12)
    assert f["major_axis_length"] >= f["minor_axis_length"] >= f["least_axis_length"]
    if variances[0] > 0:
        assert f["elongation"] == pytest.approx(math.sqrt(variances[1] / variances[0]), rel=1e-12, abs=1e-12)
        assert f["flatness"] == pytest.approx(math.sqrt(variances[2] / variances[0]), rel=1e-12, abs=1e-12)
    # the farthest vertices: corners of the box of centres pushed out half a voxel along the box's long diagonal
    ends = [(k - 1) * s for k, s in zip(n, spacing)]
    assert f["maximum_diameter"] <= math.hypot(*[e + s for e, s in zip(ends, spacing)]) + 1e-12
    assert f["maximum_diameter"] >= math.hypot(*ends)


def test_single_voxel_is_an_octahedron():
    spacing = (2.0, 0.5, 1.5)
    f = features_of(box((1, 1, 1)), spacing)
    assert f["mesh_volume"] == pytest.approx(np.prod(spacing) / 6, rel=1e-12)
    assert f["maximum_diameter"] == pytest.approx(max(spacing), rel=1e-12)
    assert f["major_axis_length"] == 0.0 and math.isnan(f["elongation"]) and math.isnan(f["flatness"])
    iso = features_of(box((1, 1, 1)))
    assert iso["surface_area"] == pytest.approx(R3, rel=1e-12)
    assert iso["sphericity"] == pytest.approx((36 * math.pi / 36) ** (1 / 3) / R3, rel=1e-12)


def test_disjoint_components_add_and_translation_does_not_matter():
    part = ball(3, pad=0)
    both = np.zeros((7, 7, 20), dtype=bool)
    both[:, :, :7] = part
    both[:, :, 12:19] = part
    one, two = features_of(np.pad(part, 2)), features_of(both)
    assert two["mesh_volume"] == pytest.approx(2 * one["mesh_volume"], rel=1e-12)
    assert two["surface_area"] == pytest.approx(2 * one["surface_area"], rel=1e-12)
    assert two["voxel_volume"] == 2 * one["voxel_volume"]
    speckle = np.random.default_rng(3).random((6, 6, 6)) > 0.5
    shifted = features_of(np.pad(speckle, ((5, 1), (0, 4), (3, 3))))
    assert shifted == pytest.approx(features_of(speckle), rel=1e-12)


def test_open_meshes_make_the_volume_depend_on_the_bounding_box_as_in_pyradiomics():
    """Speckle has ambiguous faces, hence holes in the mesh, and the signed volume of an open surface depends on
    the origin, PyRadiomics' (and medmix's) being the padded bounding box's corner: two copies of a speckled
    part in one bounding box do not have twice its volume."""
    part = np.random.default_rng(3).random((6, 6, 6)) > 0.5
    both = np.zeros((6, 6, 20), dtype=bool)
    both[:, :, :6] = part
    both[:, :, 12:18] = part
    one, two = features_of(part), features_of(both)
    assert two["surface_area"] == pytest.approx(2 * one["surface_area"], rel=1e-12)
    assert two["mesh_volume"] != pytest.approx(2 * one["mesh_volume"], rel=1e-3)


def test_rectangle_and_disc_2d():
    n, spacing = (5, 8), (0.7, 1.2)
    f = features_of(box(n), spacing)
    L1, L2 = n[0] - 1, n[1] - 1
    # Minkowski sum of the rectangle of centres and the diamond of radius 1/2
    assert f["voxel_volume"] == pytest.approx(40 * 0.7 * 1.2, rel=1e-12)
    assert f["mesh_volume"] == pytest.approx((L1 * L2 + L1 + L2 + 0.5) * 0.7 * 1.2, rel=1e-12)
    iso = features_of(box(n))
    assert iso["surface_area"] == pytest.approx(2 * (L1 + L2) + 2 * R2, rel=1e-12)
    assert math.isnan(f["least_axis_length"]) and math.isnan(f["flatness"])
    var = sorted([(0.7**2) * (n[0] ** 2 - 1) / 12, (1.2**2) * (n[1] ** 2 - 1) / 12])
    assert f["major_axis_length"] == pytest.approx(4 * math.sqrt(var[1]), rel=1e-12)
    assert f["elongation"] == pytest.approx(math.sqrt(var[0] / var[1]), rel=1e-12)
    y, x = np.mgrid[-18:19, -18:19]
    disc = features_of(y**2 + x**2 <= 15**2)
    assert disc["voxel_volume"] == pytest.approx(math.pi * 225, rel=0.02)
    assert disc["mesh_volume"] == pytest.approx(math.pi * 225, rel=0.02)
    assert 0.9 < disc["sphericity"] <= 1.0
    assert disc["maximum_diameter"] == pytest.approx(31.0, abs=1e-12)


def test_saddles_are_not_joined_in_2d():
    checker = np.zeros((4, 4), dtype=bool)
    checker[1, 1] = checker[2, 2] = True  # diagonal neighbours: two separate diamonds
    f = features_of(checker)
    assert f["mesh_volume"] == pytest.approx(2 * 0.5, rel=1e-12)
    assert f["surface_area"] == pytest.approx(2 * 2 * R2, rel=1e-12)


def test_max_pairwise_distance_equals_brute_force():
    rng = np.random.default_rng(0)
    for dim, size in ((3, 50), (3, 3000), (2, 500)):
        points = rng.normal(size=(size, dim)) * rng.uniform(0.5, 3.0, size=dim)
        brute = max(np.linalg.norm(points[i] - points[i + 1:], axis=1).max() for i in range(size - 1))
        assert max_pairwise_distance(points) == pytest.approx(brute, rel=1e-12)
    assert max_pairwise_distance(np.zeros((1, 3))) == 0.0


# --- first order ------------------------------------------------------------------------------------------------

def _on_image(values, spacing=(1.0, 1.0), **kwargs):
    values = np.asarray(values, dtype=float)
    image = np.full((3, values.size + 2), 1e6)  # outside the mask: must not count
    mask = np.zeros(image.shape, dtype=bool)
    image[1, 1:-1], mask[1, 1:-1] = values, True
    return radiomics_features(image, mask, spacing, **kwargs)


def test_first_order_on_one_to_ten():
    x = np.arange(1.0, 11.0)
    f = _on_image(x, spacing=(0.5, 2.0), bin_width=1.0)
    assert f["mean"] == 5.5 and f["median"] == 5.5 and f["minimum"] == 1.0 and f["maximum"] == 10.0
    assert f["percentile_10"] == pytest.approx(1.9) and f["percentile_90"] == pytest.approx(9.1)
    assert f["interquartile_range"] == pytest.approx(7.75 - 3.25) and f["range"] == 9.0
    assert f["mean_absolute_deviation"] == pytest.approx(2.5)
    assert f["robust_mean_absolute_deviation"] == pytest.approx(2.0)  # over 2…9, the values in [1.9, 9.1]
    assert f["energy"] == 385.0 and f["total_energy"] == pytest.approx(385.0 * 1.0)  # pixel area 0.5 × 2 mm²
    assert f["root_mean_squared"] == pytest.approx(math.sqrt(38.5))
    assert f["variance"] == pytest.approx(99 / 12) and f["standard_deviation"] == pytest.approx(math.sqrt(99 / 12))
    assert f["skewness"] == pytest.approx(0.0, abs=1e-12)
    assert f["kurtosis"] == pytest.approx(stats.kurtosis(x, fisher=False), rel=1e-12)
    assert f["kurtosis"] == pytest.approx(1.7757575757575758, rel=1e-12)  # m₄/m₂² = 120.8625 / 8.25²
    # ten values, one per bin: uniform histogram
    assert f["entropy"] == pytest.approx(math.log2(10), rel=1e-12) and f["uniformity"] == pytest.approx(0.1)
    assert _on_image(x)["entropy"] == pytest.approx(0.0, abs=1e-12)  # width 25: one bin
    assert _on_image(x)["uniformity"] == 1.0


def test_first_order_matches_scipy_on_skewed_values():
    x = np.random.default_rng(7).exponential(40.0, size=500) - 20.0
    f = _on_image(x)
    assert f["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert f["standard_deviation"] == pytest.approx(np.std(x, ddof=0), rel=1e-12)
    assert f["standard_deviation"] != pytest.approx(np.std(x, ddof=1), rel=1e-6)
    assert f["skewness"] == pytest.approx(stats.skew(x, bias=True), rel=1e-10)
    assert f["kurtosis"] == pytest.approx(stats.kurtosis(x, fisher=False, bias=True), rel=1e-10)
    assert f["kurtosis"] - 3 == pytest.approx(stats.kurtosis(x, fisher=True, bias=True), rel=1e-10)
    assert f["median"] == pytest.approx(np.median(x)) and f["percentile_90"] == pytest.approx(np.percentile(x, 90))
    inner = x[(x >= np.percentile(x, 10)) & (x <= np.percentile(x, 90))]
    assert f["robust_mean_absolute_deviation"] == pytest.approx(np.mean(np.abs(inner - inner.mean())), rel=1e-12)


def test_bins_are_anchored_at_multiples_of_the_width():
    # floor(x/25) − floor(min/25) + 1 → levels 1,1,2,3,3,4,4,5: counts 2,1,2,2,1 (not bins started at the minimum)
    values = [-30.0, -26.0, -1.0, 0.0, 24.0, 25.0, 49.0, 50.0]
    p = np.array([2, 1, 2, 2, 1]) / 8
    f = _on_image(values)
    assert f["entropy"] == pytest.approx(-np.sum(p * np.log2(p)), rel=1e-12)
    assert f["uniformity"] == pytest.approx(np.sum(p**2), rel=1e-12)
    x = np.arange(1.0, 11.0)  # width 2: levels of 1…10 are 1,2,2,3,3,4,4,5,5,6
    p = np.array([1, 2, 2, 2, 2, 1]) / 10
    assert _on_image(x, bin_width=2.0)["entropy"] == pytest.approx(-np.sum(p * np.log2(p)), rel=1e-12)


def test_flat_region_gives_zero_moments_as_pyradiomics():
    f = _on_image([42.0] * 6)
    assert f["variance"] == 0.0 and f["skewness"] == 0.0 and f["kurtosis"] == 0.0
    assert f["entropy"] == pytest.approx(0.0, abs=1e-12) and f["uniformity"] == 1.0


def test_empty_mask_gives_nan_everywhere():
    f = radiomics_features(np.ones((5, 5, 5)), np.zeros((5, 5, 5), dtype=bool), (1, 1, 1))
    assert list(f) == list(FEATURE_NAMES) and all(math.isnan(v) for v in f.values())


@pytest.mark.parametrize("image, mask, spacing, match", [
    (np.zeros((4, 4)), np.zeros((4, 5)), (1, 1), "shape"),
    (np.zeros((4, 4)), np.full((4, 4), 2), (1, 1), "binary"),
    (np.zeros((4, 4)), np.ones((4, 4)), (1, 1, 1), "spacing_mm"),
    (np.zeros((4, 4)), np.ones((4, 4)), (1, 0), "spacing_mm"),
    (np.zeros(4), np.ones(4), (1,), "2-D or 3-D"),
    (np.full((4, 4), np.nan), np.ones((4, 4)), (1, 1), "non-finite"),
])
def test_input_errors(image, mask, spacing, match):
    with pytest.raises(InputError, match=match):
        radiomics_features(image, mask, spacing)


def test_bin_width_must_be_positive():
    with pytest.raises(InputError, match="bin_width"):
        _on_image([1.0, 2.0], bin_width=0)


# --- ICC -------------------------------------------------------------------------------------------------------

PINGOUIN_TYPES = {"ICC1_1": "ICC(1,1)", "ICC2_1": "ICC(A,1)", "ICC3_1": "ICC(C,1)",
                  "ICC1_k": "ICC(1,k)", "ICC2_k": "ICC(A,k)", "ICC3_k": "ICC(C,k)"}


@pytest.fixture
def pingouin():
    pg = pytest.importorskip("pingouin", reason="pingouin (not a medmix dependency) gives the reference ICCs")
    saved = pg.options.get("round.column.CI95")
    pg.options["round.column.CI95"] = None  # pingouin rounds the intervals to 2 decimals by default
    yield pg
    pg.options["round.column.CI95"] = saved


@pytest.mark.parametrize("seed, n, k", [(0, 12, 2), (1, 30, 2), (2, 9, 3), (3, 20, 4), (4, 6, 5)])
def test_icc_equals_pingouin(pingouin, seed, n, k):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(n, 1)) * rng.uniform(0.5, 3) + rng.normal(size=(n, k)) + rng.normal(size=k)
    long = pd.DataFrame([(i, j, table[i, j]) for i in range(n) for j in range(k)], columns=["case", "rater", "y"])
    ref = pingouin.intraclass_corr(long, targets="case", raters="rater", ratings="y").set_index("Type")
    for form, label in PINGOUIN_TYPES.items():
        value, low, high = icc(table, form)
        assert value == pytest.approx(ref.at[label, "ICC"], abs=1e-9), form
        assert low == pytest.approx(ref.at[label, "CI95"][0], abs=1e-9), form
        assert high == pytest.approx(ref.at[label, "CI95"][1], abs=1e-9), form
        assert low <= value <= high


def test_icc_drops_cases_with_nan_as_pingouin_omit(pingouin):
    rng = np.random.default_rng(5)
    table = rng.normal(size=(15, 1)) + 0.5 * rng.normal(size=(15, 2))
    table[[3, 8], [0, 1]] = np.nan
    long = pd.DataFrame([(i, j, table[i, j]) for i in range(15) for j in range(2)], columns=["case", "rater", "y"])
    ref = pingouin.intraclass_corr(long, "case", "rater", "y", nan_policy="omit").set_index("Type")
    assert icc(table, "ICC3_1")[0] == pytest.approx(ref.at["ICC(C,1)", "ICC"], abs=1e-12)
    assert icc(table, "ICC3_1") == icc(table[~np.isnan(table).any(axis=1)], "ICC3_1")


def test_icc_perfect_agreement_and_constant_offset():
    x = np.random.default_rng(6).normal(50, 10, size=20)
    for form in ("ICC1_1", "ICC2_1", "ICC3_1", "ICC3_k"):
        assert icc(np.column_stack([x, x]), form) == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)
    offset = np.column_stack([x, x + 5.0])
    assert icc(offset, "ICC3_1") == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)  # consistency ignores the offset
    a2, low, high = icc(offset, "ICC2_1")
    assert a2 < 1.0 and low < a2 < high < 1.0  # absolute agreement does not
    assert icc(offset, "ICC1_1")[0] < 1.0
    # the interval at MSE = 0 is the limit of those with a vanishing residual
    noisy = offset + np.random.default_rng(7).normal(size=offset.shape) * 1e-9
    assert icc(noisy, "ICC2_1") == pytest.approx((a2, low, high), abs=1e-6)


def test_icc_degenerate_tables_and_errors():
    assert all(math.isnan(v) for v in icc(np.ones((10, 2)), "ICC3_1"))  # no variance at all
    # float noise is not variance: one-bin entropies are −log2(1 + ε) or 0 (seen on [0, 1] MRI with bin width 25)
    noise = np.where(np.random.default_rng(0).random((10, 2)) < 0.5, -3.2e-16, 0.0)
    assert all(math.isnan(v) for v in icc(noise, "ICC3_1"))
    assert all(math.isnan(v) for v in icc(np.array([[1.0, 2.0]]), "ICC3_1"))  # one case
    with pytest.raises(UnknownNameError, match="ICC3_1"):
        icc(np.ones((4, 2)), "ICC31")
    with pytest.raises(InputError, match="k ≥ 2"):
        icc(np.ones((4, 1)))
    with pytest.raises(InputError, match="confidence"):
        icc(np.ones((4, 2)), confidence=95)


def test_koo_li_bands():
    assert [koo_li_band(v) for v in (0.2, 0.4999, 0.5, 0.7499, 0.75, 0.9, 0.9001, 1.0)] == [
        "poor", "poor", "moderate", "moderate", "good", "good", "excellent", "excellent"]
    assert koo_li_band(math.nan) == "undefined"


# --- agreement table --------------------------------------------------------------------------------------------

def _pairs(n=8, seed=0, predict=lambda ref, rng: ref):
    rng = np.random.default_rng(seed)
    for i in range(n):
        field = ndimage.gaussian_filter(rng.normal(size=(14, 16, 16)), 2.0)
        reference = field > np.quantile(field, rng.uniform(0.75, 0.9))
        image = rng.normal(100 + 20 * i, 30, size=field.shape)
        yield f"case{i:02d}", image, predict(reference, rng), reference.astype(np.uint8), (2.0, 0.9, 0.9)


def test_identical_masks_agree_perfectly():
    summary = radiomics_agreement(_pairs())
    assert list(summary["feature"]) == list(FEATURE_NAMES)
    assert (summary["n_cases"] == 8).all() and (summary["n_missing"] == 0).all()
    assert np.allclose(summary["icc"], 1.0) and (summary["band"] == "excellent").all()
    assert np.allclose(summary["mean_relative_difference"], 0.0)
    assert np.allclose(summary["mean_predicted"], summary["mean_reference"])


def test_dilated_predictions_and_the_long_table():
    dilate = (lambda ref, rng: ndimage.binary_dilation(ref))
    cases = radiomics_cases(_pairs(predict=dilate), features=["shape", "mean"])
    assert list(cases.columns) == ["case", "group", "feature", "predicted", "reference"]
    assert len(cases) == 8 * (len(FEATURES["shape"]) + 1)
    summary = agreement_summary(cases, form="ICC2_1")
    row = summary.set_index("feature").loc["voxel_volume"]
    assert row["mean_relative_difference"] > 0.2 and row["mean_predicted"] > row["mean_reference"]
    # the summary is the ICC of the long table's columns
    block = cases[cases["feature"] == "voxel_volume"]
    expect = icc(block[["predicted", "reference"]].to_numpy(), "ICC2_1")
    assert (row["icc"], row["ci_low"], row["ci_high"]) == pytest.approx(expect, rel=1e-12)
    assert row["band"] == koo_li_band(row["icc"]) and row["form"] == "ICC2_1"
    assert icc(block[["predicted", "reference"]].to_numpy(), "ICC3_1")[0] > row["icc"]  # offset hurts A,1 only


def test_an_empty_prediction_drops_that_case():
    def predict(ref, rng, state={"i": 0}):
        state["i"] += 1
        return np.zeros_like(ref) if state["i"] == 3 else ref
    summary = radiomics_agreement(_pairs(predict=predict), features=["firstorder"])
    assert list(summary["feature"]) == list(FEATURES["firstorder"])
    assert (summary["n_cases"] == 7).all() and (summary["n_missing"] == 1).all()
    assert np.allclose(summary["icc"], 1.0)


def test_agreement_input_errors():
    pairs = list(_pairs(n=2))
    with pytest.raises(InputError, match="appears twice"):
        radiomics_cases([pairs[0], pairs[0]])
    with pytest.raises(InputError, match=r"pairs\[0\]"):
        radiomics_cases([pairs[0][:4]])
    with pytest.raises(InputError, match="case 'case01', predicted mask"):
        radiomics_cases([pairs[0], (pairs[1][0], pairs[1][1], pairs[1][2][:, :5], *pairs[1][3:])])
    with pytest.raises(UnknownNameError, match="sphericity"):
        radiomics_cases(pairs, features=["spherisity"])
    with pytest.raises(UnknownNameError, match="ICC3_1"):
        radiomics_agreement(pairs, form="ICC(3,1)")

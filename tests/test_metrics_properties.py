"""Property tests (hypothesis) for the metric engine: identities, symmetries, invariances, empty masks, inputs.

Masks are small random 2D/3D boolean arrays (up to 12×12×8) with spacing in [0.3, 3.0] mm per array axis.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import binary_erosion, distance_transform_edt
from scipy.spatial.distance import cdist

from medmix.metrics import EmptyPolicy, ahd, bahd, compute_metrics, dice, iou, nsd, parse_metric
from medmix.metrics.geometry import CaseGeometry

ALL = ["dice", "iou", "hd", "hd95", "hd95:pooled=true", "assd", "masd", "nsd", "ahd", "bahd"]
SYMMETRIC = ["dice", "iou", "hd", "hd95", "hd95:pooled=true", "assd", "masd", "nsd", "ahd"]
DISTANCES = ["hd", "hd95", "hd95:pooled=true", "assd", "masd", "ahd", "bahd"]
OVERLAPS = ["dice", "iou", "nsd"]


def fast(n: int = 60):
    return settings(max_examples=n, deadline=None, database=None)


# --------------------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def shapes(draw, ndim=None):
    ndim = ndim or draw(st.sampled_from([2, 3]))
    if ndim == 2:
        return (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    return (draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.integers(1, 8)))


def spacings(ndim: int):
    return st.tuples(*[st.floats(0.3, 3.0, allow_nan=False, allow_infinity=False)] * ndim)


@st.composite
def mask(draw, shape, nonempty: bool):
    m = draw(arrays(np.bool_, shape, elements=st.booleans()))
    if nonempty and not m.any():
        m[tuple(draw(st.integers(0, n - 1)) for n in shape)] = True
    return m


@st.composite
def dense_cases(draw, nonempty: bool = True, ndim=None):
    shape = draw(shapes(ndim))
    return draw(mask(shape, nonempty)), draw(mask(shape, nonempty)), draw(spacings(len(shape)))


@st.composite
def sparse_cases(draw, nonempty: bool = True, ndim=None):
    """A tiny case (≤ 3×3 or 4×4×2) at a random place in a larger image: foreground well under 1% of the image,
    which sends the engine down its sparse (flat-index) path instead of the dense bounding-box one."""
    ndim = ndim or draw(st.sampled_from([2, 3]))
    small = tuple(draw(st.integers(1, n)) for n in ((3, 3) if ndim == 2 else (4, 4, 2)))
    outer = (48, 48) if ndim == 2 else (24, 24, 16)
    pred, gt = draw(mask(small, nonempty)), draw(mask(small, nonempty))
    # against either edge of the image (the border is background there too) or anywhere in between
    offset = tuple(draw(st.one_of(st.just(0), st.just(n - k), st.integers(0, n - k))) for n, k in zip(outer, small))
    return _embed(pred, outer, offset), _embed(gt, outer, offset), draw(spacings(ndim))


def cases(nonempty: bool = True, ndim=None):
    """(pred, gt, spacing): both masks non-empty unless nonempty=False; small dense images or sparse large ones."""
    return st.one_of(dense_cases(nonempty, ndim), sparse_cases(nonempty, ndim))


def _embed(m: np.ndarray, outer: tuple[int, ...], offset: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(outer, bool)
    out[tuple(slice(o, o + n) for o, n in zip(offset, m.shape))] = m
    return out


def values(pred, gt, spacing, metrics=ALL, **kwargs) -> dict[str, float]:
    return compute_metrics(pred, gt, metrics, spacing, **kwargs).values


def assert_same(a: dict[str, float], b: dict[str, float], rel: float = 1e-9, abs_: float = 1e-12):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=rel, abs=abs_), key


# --------------------------------------------------------------------------------------------------------------
# Brute-force oracle: surfaces from scipy's erosion of the zero-padded mask, all pairwise distances with cdist.


def _brute(pred, gt, spacing, tolerance_mm=1.0):
    s = np.asarray(spacing)

    def surface_points(m):
        padded = np.pad(m, 1)
        surf = padded & ~binary_erosion(padded, border_value=0)  # default structure: face connectivity
        return (np.argwhere(surf) - 1) * s

    def points(m):
        return np.argwhere(m) * s

    sp, sg = surface_points(pred), surface_points(gt)
    d_pg = cdist(sp, sg).min(axis=1)
    d_gp = cdist(sg, sp).min(axis=1)
    pooled = np.concatenate([d_pg, d_gp])
    fp, fg = points(pred), points(gt)
    sum_gp = cdist(fg, fp).min(axis=1).sum()  # d(g, P) over all g ∈ G (0 inside P)
    sum_pg = cdist(fp, fg).min(axis=1).sum()
    n_p, n_g, tp = pred.sum(), gt.sum(), (pred & gt).sum()
    return {
        "dice": 2 * tp / (n_p + n_g),
        "iou": tp / (n_p + n_g - tp),
        "hd": max(d_pg.max(), d_gp.max()),
        "hd95": max(np.percentile(d_pg, 95), np.percentile(d_gp, 95)),
        "hd95:pooled=true": np.percentile(pooled, 95),
        "assd": pooled.mean(),
        "masd": (d_pg.mean() + d_gp.mean()) / 2,
        "nsd": np.count_nonzero(pooled <= tolerance_mm) / pooled.size,
        "ahd": 0.5 * (sum_gp / n_g + sum_pg / n_p),
        "bahd": 0.5 * (sum_gp + sum_pg) / n_g,
    }, pooled


def no_tie(pred, gt, spacing, tolerance_mm: float = 1.0) -> bool:
    """True unless a surface distance equals the NSD tolerance (to 1e-9): at an exact tie the k-d tree path can
    fall on the other side of the threshold (see test_nsd_at_an_exact_tie_does_not_depend_on_the_method)."""
    if not (pred.any() and gt.any()):
        return True
    _, pooled = _brute(pred, gt, spacing)
    return bool(np.min(np.abs(pooled - tolerance_mm)) > 1e-9 * max(tolerance_mm, 1.0))


@fast(80)
@given(cases())
def test_matches_brute_force_oracle(case):
    pred, gt, spacing = case
    expected, _ = _brute(pred, gt, spacing)
    assume(no_tie(pred, gt, spacing))
    assert_same(values(pred, gt, spacing), expected)


# --------------------------------------------------------------------------------------------------------------
# Identities and symmetry


@fast(100)
@given(cases(nonempty=False))
def test_iou_equals_dice_over_two_minus_dice(case):
    pred, gt, spacing = case
    d, j = dice(pred, gt), iou(pred, gt)
    assert j == pytest.approx(d / (2.0 - d), rel=1e-12)


@fast(80)
@given(cases(nonempty=False))
def test_symmetric_metrics_are_symmetric(case):
    pred, gt, spacing = case
    assert_same(values(pred, gt, spacing, SYMMETRIC), values(gt, pred, spacing, SYMMETRIC), rel=1e-12)


def test_bahd_is_not_symmetric():
    """TV-1: bAHD(P, G) = 1.0 but bAHD(G, P) = 2/3 (both sums divided by |G|, the second argument)."""
    g = np.zeros((3, 9), bool)
    g[1, [1, 2]] = True
    p = np.zeros((3, 9), bool)
    p[1, [2, 3, 4]] = True
    assert bahd(p, g) == pytest.approx(1.0, abs=1e-12)
    assert bahd(g, p) == pytest.approx(2.0 / 3.0, abs=1e-12)
    assert ahd(p, g) == pytest.approx(ahd(g, p), abs=1e-12) == pytest.approx(0.75, abs=1e-12)


@fast(60)
@given(cases())
def test_bahd_swap_rescales_by_mask_sizes(case):
    """Swapping the arguments keeps the numerator and divides by |P| instead of |G|: bAHD(P,G)·|G| = bAHD(G,P)·|P|."""
    pred, gt, spacing = case
    assert bahd(pred, gt, spacing) * gt.sum() == pytest.approx(bahd(gt, pred, spacing) * pred.sum(), rel=1e-12,
                                                               abs=1e-12)


# --------------------------------------------------------------------------------------------------------------
# Invariances


@st.composite
def interior_placements(draw):
    """A case, an outer shape, and two offsets that both keep a ≥1-voxel background margin on every side."""
    pred, gt, spacing = draw(cases(nonempty=False))
    slack = [draw(st.integers(0, 3)) for _ in pred.shape]
    outer = tuple(n + 2 + k for n, k in zip(pred.shape, slack))
    first = tuple(draw(st.integers(1, 1 + k)) for k in slack)
    second = tuple(draw(st.integers(1, 1 + k)) for k in slack)
    return pred, gt, spacing, outer, first, second


@fast(60)
@given(interior_placements())
def test_translation_invariance_in_the_interior(placement):
    pred, gt, spacing, outer, a, b = placement
    assume(no_tie(pred, gt, spacing))
    assert_same(values(_embed(pred, outer, a), _embed(gt, outer, a), spacing),
                values(_embed(pred, outer, b), _embed(gt, outer, b), spacing))


@fast(40)
@given(interior_placements())
def test_border_counts_as_background_so_touching_the_border_changes_nothing(placement):
    """The image border is background, so a mask placed against the border (offset 0) scores exactly as when it is
    surrounded by background voxels: its border voxels are surface voxels either way."""
    pred, gt, spacing, outer, a, _ = placement
    assume(no_tie(pred, gt, spacing))
    corner = (0,) * pred.ndim
    assert_same(values(_embed(pred, outer, corner), _embed(gt, outer, corner), spacing),
                values(_embed(pred, outer, a), _embed(gt, outer, a), spacing))


def test_mask_touching_the_border_has_its_border_voxels_on_the_surface():
    gt = np.ones((7, 7), bool)  # fills the image: the 24 border voxels are surface, the 5×5 inside is not
    pred = np.zeros((7, 7), bool)
    pred[2:5, 2:5] = True  # surface: the 8-voxel ring around (3, 3)
    got = compute_metrics(pred, gt, ["hd", "assd"])
    # gt corner (0, 0) → pred ring corner (2, 2): √8. With the border as foreground (erosion border_value=1) the
    # whole image would be interior and gt would have no surface at all.
    assert got["hd"] == pytest.approx(math.sqrt(8), abs=1e-12)
    assert not (gt & ~binary_erosion(gt, border_value=1)).any()
    # gt→pred over the 24-voxel ring: 4 corners at √8, 8 at √5, 12 at 2; pred→gt over the 8-voxel ring: 8 at 2
    expected_assd = (4 * math.sqrt(8) + 8 * math.sqrt(5) + 12 * 2 + 8 * 2) / 32
    assert got["assd"] == pytest.approx(expected_assd, abs=1e-12)
    assert got["assd"] == pytest.approx(_brute(pred, gt, (1.0, 1.0))[0]["assd"], abs=1e-12)

    top = np.zeros((7, 7), bool)
    top[0:3, 2:5] = True  # 3×3 block against the top edge; (0, 3) is surface only because the border is background
    centre = np.zeros((7, 7), bool)
    centre[1, 3] = True
    # gt→pred over 8 ring voxels: 4 edge-adjacent at 1, 4 corners at √2; pred→gt: 1 → pooled mean (5 + 4√2) / 9.
    # Were (0, 3) not surface, it would be (4 + 4√2) / 8.
    assert compute_metrics(centre, top, ["assd"])["assd"] == pytest.approx((5 + 4 * math.sqrt(2)) / 9, abs=1e-12)


@fast(60)
@given(cases(nonempty=False), st.data())
def test_axis_permutation_with_permuted_spacing(case, data):
    pred, gt, spacing = case
    perm = data.draw(st.permutations(range(pred.ndim)))
    permuted_spacing = tuple(spacing[i] for i in perm)
    assert_same(values(pred, gt, spacing),
                values(np.transpose(pred, perm), np.transpose(gt, perm), permuted_spacing))


@fast(60)
@given(cases(), st.floats(0.25, 4.0))
def test_scaling_spacing_scales_distances(case, k):
    pred, gt, spacing = case
    tol = 1.37  # NSD tolerance, scaled with the spacing below
    assume(no_tie(pred, gt, spacing, tol))
    base = values(pred, gt, spacing, DISTANCES + ["dice", "iou", f"nsd:tolerance_mm={tol}"])
    scaled = values(pred, gt, tuple(k * s for s in spacing), DISTANCES + ["dice", "iou", f"nsd:tolerance_mm={k * tol}"])
    for key in DISTANCES:
        assert scaled[key] == pytest.approx(k * base[key], rel=1e-9, abs=1e-12), key
    assert scaled["dice"] == base["dice"] and scaled["iou"] == base["iou"]
    assert scaled[f"nsd:tolerance_mm={k * tol}"] == base[f"nsd:tolerance_mm={tol}"]


@fast(80)
@given(cases(nonempty=False))
def test_distance_methods_give_identical_values(case):
    pred, gt, spacing = case
    assume(no_tie(pred, gt, spacing))  # exact ties: the xfail test below
    edt = values(pred, gt, spacing, distance_method="edt")
    assert_same(edt, values(pred, gt, spacing, distance_method="kdtree"), rel=0, abs_=1e-9)
    assert_same(edt, values(pred, gt, spacing, distance_method="auto"), rel=0, abs_=1e-9)


def _tie_case():
    """Two voxels exactly 2 × 0.8 mm apart: within a 1.6 mm tolerance (MONAI agrees: see the peer tests)."""
    pred = np.zeros((12, 3), bool)
    gt = np.zeros((12, 3), bool)
    pred[5, 1] = True
    gt[7, 1] = True
    return pred, gt, (0.8, 0.8)


def test_nsd_at_an_exact_tie_counts_as_within_with_the_edt():
    pred, gt, spacing = _tie_case()
    assert nsd(pred, gt, spacing, tolerance_mm=1.6, distance_method="edt") == 1.0
    assert nsd(pred, gt, spacing, tolerance_mm=1.59, distance_method="edt") == 0.0


def test_nsd_at_an_exact_tie_does_not_depend_on_the_method():
    pred, gt, spacing = _tie_case()
    for method in ("kdtree", "auto"):
        assert nsd(pred, gt, spacing, tolerance_mm=1.6, distance_method=method) == 1.0, method


def test_nsd_at_an_anisotropic_diagonal_tie_is_exact_for_every_method():
    """One voxel at (1,1,1) vs (2,2,2), spacing (0.8, 0.8, 2.5): the distance is exactly the tolerance computed
    the way scipy's EDT computes it, so every method must count both surface voxels as within."""
    pred = np.zeros((5, 5, 5), bool)
    gt = np.zeros((5, 5, 5), bool)
    pred[1, 1, 1] = True
    gt[2, 2, 2] = True
    spacing = (0.8, 0.8, 2.5)
    tolerance = math.sqrt(0.8**2 + 0.8**2 + 2.5**2)
    for method in ("edt", "kdtree", "auto"):
        got = compute_metrics(pred, gt, [f"nsd:tolerance_mm={tolerance!r}", "hd"], spacing, distance_method=method)
        assert list(got.values.values()) == [1.0, tolerance], method


_ANISOTROPIC = {3: [(0.8, 0.8, 2.5), (1.0, 1.0, 3.0), (0.7, 0.9, 1.3), (0.5, 1.5, 1.5), (2.5, 0.8, 0.8)],
                2: [(0.8, 2.5), (0.7, 1.1), (1.0, 3.0), (2.5, 0.8)]}
_GEOMETRY_METRICS = ["hd", "hd95", "hd95:pooled=true", "assd", "masd", "ahd", "bahd"]


def _random_anisotropic_case(seed: int):
    """Random 2-D (odd seeds) or 3-D masks, sparse enough for distances of several voxels, with a listed
    anisotropic spacing (some with two equal axes, where lattice ties like 1²+7² = 5²+5² occur) or a random one."""
    rng = np.random.default_rng(seed)
    ndim = 2 if seed % 2 else 3
    shape = tuple(int(n) for n in rng.integers(6, 20 if ndim == 2 else 11, ndim))
    if rng.random() < 0.6:
        spacing = _ANISOTROPIC[ndim][rng.integers(len(_ANISOTROPIC[ndim]))]
    else:
        spacing = tuple(float(s) for s in np.round(rng.uniform(0.3, 3.0, ndim), 3))
    density = rng.uniform(0.01, 0.2)
    pred, gt = rng.random(shape) < density, rng.random(shape) < density
    pred.flat[rng.integers(pred.size)] = gt.flat[rng.integers(gt.size)] = True
    return pred, gt, spacing, rng


def _tied_queries(queries: np.ndarray, targets: np.ndarray, spacing) -> np.ndarray:
    """Queries with two or more nearest targets at exactly the same real distance (exact rational arithmetic on
    the binary spacing values): there the two paths may pick different nearest voxels, whose float distances can
    differ by rounding."""
    s2 = [Fraction(s) ** 2 for s in spacing]
    tied = np.zeros(len(queries), bool)
    for i, q in enumerate(queries):
        sq = [sum(int(d) ** 2 * w for d, w in zip(t - q, s2)) for t in targets]
        best = min(sq)
        tied[i] = sum(v == best for v in sq) > 1
    return tied


def _ulps_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / np.spacing(np.maximum(np.abs(a), np.abs(b)))


@pytest.mark.parametrize("seed", range(30))
def test_kdtree_and_edt_paths_are_bit_identical(seed):
    pred, gt, spacing, rng = _random_anisotropic_case(seed)
    edt, kd = CaseGeometry(pred, gt, spacing, "edt"), CaseGeometry(pred, gt, spacing, "kdtree")
    pts = edt.points
    # Per voxel: the EDT's own field against the k-d tree's recomputed distance, in all four directions.
    directions = [(pts.pred_surface, pts.gt_surface, "_to_gt"), (pts.gt_surface, pts.pred_surface, "_to_pred"),
                  (pts.pred_only, pts.gt_surface, "_to_gt"), (pts.gt_only, pts.pred_surface, "_to_pred")]
    tied_values = []
    for queries, targets, field in directions:
        a, b = getattr(edt, field).at(queries), getattr(kd, field).at(queries)
        tied = _tied_queries(queries, targets, spacing) if np.any(a != b) else np.zeros(len(queries), bool)
        # Only a genuine tie may differ, and then by rounding alone (one ulp); everything else bit for bit.
        np.testing.assert_array_equal(a[~tied], b[~tied])
        assert np.all(_ulps_apart(a[tied], b[tied]) <= 1)
        tied_values += [a[tied & (a != b)], b[tied & (a != b)]]
    tied_values = np.concatenate(tied_values)
    # Tolerances exactly at distances the case holds, plus a few other voxel offsets, computed by scipy itself.
    pooled = np.concatenate([edt.pred_to_gt_surface, edt.gt_to_pred_surface])
    tolerances = list(rng.choice(pooled, size=4))
    for offset in rng.integers(0, 4, (3, len(spacing))):
        one = np.ones(tuple(offset + 1), bool)
        one[(0,) * len(spacing)] = False
        tolerances.append(distance_transform_edt(one, sampling=spacing)[tuple(offset)])
    nsd_keys = [parse_metric(f"nsd:tolerance_mm={float(t)!r}").key for t in tolerances]
    a = values(pred, gt, spacing, _GEOMETRY_METRICS + nsd_keys, distance_method="edt")
    for method in ("kdtree", "auto"):
        b = values(pred, gt, spacing, _GEOMETRY_METRICS + nsd_keys, distance_method=method)
        if tied_values.size == 0:
            assert b == a, method
            continue
        for key in _GEOMETRY_METRICS:  # one-ulp differences at tied voxels, carried through a max/mean/percentile
            assert b[key] == pytest.approx(a[key], rel=1e-15, abs=0), (method, key)
        for key, t in zip(nsd_keys, tolerances):  # a tolerance at a tied value may fall on either side
            if not np.any(np.abs(tied_values - t) <= np.spacing(t)):
                assert b[key] == a[key], (method, key)


# --------------------------------------------------------------------------------------------------------------
# bAHD and false positives


@st.composite
def over_segmentations(draw):
    """(pred ⊇ gt non-empty, spacing, a voxel outside pred)."""
    shape = draw(shapes())
    gt = draw(mask(shape, nonempty=True))
    pred = gt | draw(mask(shape, nonempty=False))
    assume(not pred.all())
    outside = np.argwhere(~pred)
    voxel = tuple(outside[draw(st.integers(0, len(outside) - 1))])
    return pred, gt, draw(spacings(len(shape))), voxel


@fast(60)
@given(over_segmentations())
def test_bahd_grows_strictly_with_each_false_positive_when_pred_covers_gt(case):
    """With G ⊆ P every d(g, P) is 0, so a new false positive p ∉ G adds exactly d(p, G)/(2|G|) > 0."""
    pred, gt, spacing, voxel = case
    before = bahd(pred, gt, spacing)
    grown = pred.copy()
    grown[voxel] = True
    d_to_gt = distance_transform_edt(~gt, sampling=spacing)[voxel]
    after = bahd(grown, gt, spacing)
    assert d_to_gt > 0 and after > before
    assert after - before == pytest.approx(d_to_gt / (2 * gt.sum()), rel=1e-9, abs=1e-12)


def test_bahd_can_fall_when_a_false_positive_covers_a_missed_region():
    """Not monotone in general: a false positive next to an under-segmented part shortens d(g, P) for many g."""
    gt = np.zeros((3, 13), bool)
    gt[1, 0:10] = True
    pred = np.zeros((3, 13), bool)
    pred[1, 0] = True
    assert bahd(pred, gt) == pytest.approx(45 / 20, abs=1e-12)  # Σ_G d = 0+1+…+9, Σ_P d = 0
    pred[1, 10] = True  # false positive at distance 1 from G
    assert bahd(pred, gt) == pytest.approx((25 + 1) / 20, abs=1e-12)


# --------------------------------------------------------------------------------------------------------------
# Empty masks


@st.composite
def empty_cases(draw):
    shape = draw(shapes())
    return draw(mask(shape, nonempty=True)), shape, draw(spacings(len(shape)))


def _diagonal(shape, spacing) -> float:
    return math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing)))


@fast(40)
@given(empty_cases())
def test_empty_mask_policy(case):
    full, shape, spacing = case
    empty = np.zeros(shape, bool)

    both = compute_metrics(empty, empty, ALL, spacing)
    assert both.empty_gt and both.empty_pred and both.n_gt == both.n_pred == 0
    assert all(both[k] == 1.0 for k in OVERLAPS) and all(both[k] == 0.0 for k in DISTANCES)

    diag = _diagonal(shape, spacing)
    for pred, gt, flags in ((full, empty, (True, False)), (empty, full, (False, True))):
        one = compute_metrics(pred, gt, ALL, spacing)
        assert (one.empty_gt, one.empty_pred) == flags
        assert (one.to_dict()["empty_gt"], one.to_dict()["empty_pred"]) == flags
        assert (one.n_gt, one.n_pred) == (int(gt.sum()), int(pred.sum()))
        assert all(one[k] == 0.0 for k in OVERLAPS)
        assert all(one[k] == pytest.approx(diag, rel=1e-12) for k in DISTANCES)
        custom = compute_metrics(pred, gt, ALL, spacing, empty_policy=EmptyPolicy(one_empty_distance=373.13))
        assert all(custom[k] == 373.13 for k in DISTANCES) and all(custom[k] == 0.0 for k in OVERLAPS)

    neither = compute_metrics(full, full, ALL, spacing)
    assert not neither.empty_gt and not neither.empty_pred


def test_custom_empty_policy_overlap_values():
    policy = EmptyPolicy(both_empty_overlap=0.5, both_empty_distance=7.0, one_empty_overlap=0.25)
    empty = np.zeros((4, 5), bool)
    one = empty.copy()
    one[1, 1] = True
    both = compute_metrics(empty, empty, ALL, (1.0, 2.0), empty_policy=policy)
    assert [both[k] for k in OVERLAPS] == [0.5] * 3 and [both[k] for k in DISTANCES] == [7.0] * len(DISTANCES)
    single = compute_metrics(one, empty, ALL, (1.0, 2.0), empty_policy=policy)
    assert [single[k] for k in OVERLAPS] == [0.25] * 3
    assert all(single[k] == pytest.approx(math.hypot(4 * 1.0, 5 * 2.0), rel=1e-12) for k in DISTANCES)


# --------------------------------------------------------------------------------------------------------------
# Torch inputs


@fast(30)
@given(cases(nonempty=False))
def test_torch_inputs_equal_numpy_inputs(case):
    torch = pytest.importorskip("torch")
    pred, gt, spacing = case
    expected = compute_metrics(pred, gt, ALL, spacing)
    for dtype in (torch.bool, torch.float32, torch.uint8):
        got = compute_metrics(torch.from_numpy(pred).to(dtype), torch.from_numpy(gt).to(dtype), ALL,
                              torch.tensor(spacing, dtype=torch.float64))
        assert got.values == expected.values
        assert (got.empty_gt, got.empty_pred, got.n_gt, got.n_pred) == (
            expected.empty_gt, expected.empty_pred, expected.n_gt, expected.n_pred)


@st.composite
def batches(draw):
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    b = draw(st.integers(1, 6))
    pred = draw(arrays(np.bool_, (b, h, w), elements=st.booleans()))
    gt = draw(arrays(np.bool_, (b, h, w), elements=st.booleans()))
    # always include the empty cases: both empty, only pred empty, only gt empty
    extra_p = np.zeros((3, h, w), bool)
    extra_g = np.zeros((3, h, w), bool)
    extra_g[1, 0, 0] = True
    extra_p[2, h - 1, w - 1] = True
    return np.concatenate([pred, extra_p]), np.concatenate([gt, extra_g])


@pytest.mark.parametrize("policy", [None, EmptyPolicy(both_empty_overlap=0.5, one_empty_overlap=0.125)])
@fast(30)
@given(batches())
def test_batch_dice_iou_equals_per_item(policy, batch):
    torch = pytest.importorskip("torch")
    from medmix.metrics.torch_batch import batch_dice_iou

    pred, gt = batch
    d, j = batch_dice_iou(torch.from_numpy(pred), torch.from_numpy(gt), empty_policy=policy)
    assert d.dtype == torch.float64 and tuple(d.shape) == (len(pred),)
    for i in range(len(pred)):
        assert float(d[i]) == pytest.approx(dice(pred[i], gt[i], empty_policy=policy), rel=1e-12, abs=1e-15)
        assert float(j[i]) == pytest.approx(iou(pred[i], gt[i], empty_policy=policy), rel=1e-12, abs=1e-15)
    policy = policy or EmptyPolicy()
    assert float(d[-3]) == float(j[-3]) == policy.both_empty_overlap
    assert float(d[-1]) == float(d[-2]) == float(j[-1]) == float(j[-2]) == policy.one_empty_overlap


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_tensors_on_any_device(device):
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from medmix.metrics.torch_batch import batch_dice_iou

    rng = np.random.default_rng(0)
    pred, gt = rng.random((2, 5, 9, 11)) < 0.4
    pred[1], gt[2] = False, False
    pred[3], gt[3] = False, False
    expected = [compute_metrics(p, g, ALL, (0.7, 1.3)).values for p, g in zip(pred, gt)]
    tp, tg = torch.from_numpy(pred).to(device), torch.from_numpy(gt).to(device)
    for i in range(len(pred)):
        assert compute_metrics(tp[i], tg[i].float(), ALL, (0.7, 1.3)).values == expected[i]
    d, j = batch_dice_iou(tp, tg)
    assert d.device.type == device and j.device.type == device
    assert d.cpu().tolist() == pytest.approx([e["dice"] for e in expected], rel=1e-12)
    assert j.cpu().tolist() == pytest.approx([e["iou"] for e in expected], rel=1e-12)

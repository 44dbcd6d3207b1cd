"""Size-only T staging: Feret diameters, AJCC rules, custom rules and staging agreement (reference.md §2, TV-7/8)."""

from __future__ import annotations

import itertools
import math
import re
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from scipy.spatial.distance import pdist

from medmix.errors import ConfigError, InputError, UnknownNameError
from medmix.staging import (
    Lesion,
    StagingRule,
    Threshold,
    get_rule,
    lesions,
    linear_weighted_kappa,
    list_rules,
    longest_in_slice_diameter,
    max_feret_diameter,
    register_rule,
    rule_from_config,
    stage_mask,
    staging_accuracy,
)
from medmix.staging import feret as feret_module
from medmix.staging.rules import RULES

# --- helpers ---------------------------------------------------------------------------------------------------


def brute_force_feret(mask: np.ndarray, spacing, convention: str) -> float:
    """All pairs over every foreground voxel's centre or every corner: the definition, with no shortcuts."""
    idx = np.argwhere(mask).astype(float)
    if idx.shape[0] == 0:
        return 0.0
    if convention == "corners":
        offsets = np.array(list(itertools.product((-0.5, 0.5), repeat=mask.ndim)))
        idx = np.unique((idx[:, None, :] + offsets[None]).reshape(-1, mask.ndim), axis=0)
    points = idx * np.asarray(spacing, dtype=float)
    return float(pdist(points).max()) if len(points) > 1 else 0.0


def brute_force_in_slice(mask: np.ndarray, spacing, axis: int, convention: str) -> float:
    plane = tuple(s for a, s in enumerate(spacing) if a != axis)
    return max(brute_force_feret(s, plane, convention) for s in np.moveaxis(mask, axis, 0))


def tv8_ellipsoid() -> np.ndarray:
    z, y, x = np.ogrid[:31, :15, :15]
    return ((z - 15) / 12) ** 2 + ((y - 7) / 5) ** 2 + ((x - 7) / 5) ** 2 <= 1


def ball(radius: int) -> np.ndarray:
    z, y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1, -radius : radius + 1]
    return z * z + y * y + x * x <= radius * radius


@pytest.fixture
def hull_for_all():
    """Send every set of three or more candidate points through the rank/hull path (no all-pairs shortcut)."""
    with mock.patch.object(feret_module, "_ALL_PAIRS_MAX_POINTS", 2):
        yield


@st.composite
def masks_and_spacing(draw, max_side: int = 6):
    ndim = draw(st.sampled_from((2, 3)))
    shape = tuple(draw(st.integers(1, max_side)) for _ in range(ndim))
    mask = draw(arrays(bool, shape))
    spacing = tuple(draw(st.floats(0.25, 4.0, allow_nan=False)) for _ in range(ndim))
    return mask, spacing


# --- TV-7 and TV-8 -----------------------------------------------------------------------------------------------


def test_tv7_bar_centres_and_corners():
    bar = np.zeros((12, 3, 3), dtype=bool)
    bar[1:11, 1, 1] = True
    assert max_feret_diameter(bar, convention="centres") == 9.0
    assert max_feret_diameter(bar) == pytest.approx(math.sqrt(10**2 + 1 + 1), rel=1e-15)
    assert round(max_feret_diameter(bar), 4) == 10.0995
    assert max_feret_diameter(bar, (5, 1, 1), convention="centres") == 45.0
    assert max_feret_diameter(bar, (5, 1, 1)) == pytest.approx(math.sqrt(50**2 + 1 + 1), rel=1e-15)
    assert round(max_feret_diameter(bar, (5, 1, 1)), 4) == 50.0200


def test_tv8_ellipsoid_3d_feret_vs_in_slice():
    ellipsoid = tv8_ellipsoid()
    assert max_feret_diameter(ellipsoid, convention="centres") == 24.0
    assert round(max_feret_diameter(ellipsoid), 2) == 25.04
    # The reference's 10.0 mm in-slice diameter is the voxel-centre value; between corners it is √(7² + 9²).
    assert longest_in_slice_diameter(ellipsoid, axis=0, convention="centres") == 10.0
    assert longest_in_slice_diameter(ellipsoid, axis=0) == pytest.approx(math.sqrt(130), rel=1e-15)


def test_tv8_staging_lung_3d_vs_in_slice():
    ellipsoid = tv8_ellipsoid()
    assert stage_mask(ellipsoid, None, "lung").category == "T1c"
    assert stage_mask(ellipsoid, None, "lung", convention="centres").category == "T1c"
    in_slice = stage_mask(ellipsoid, None, "lung", feret="in_slice", slice_axis=0, convention="centres")
    assert (in_slice.category, in_slice.greatest_dimension_mm) == ("T1a", 10.0)
    assert stage_mask(ellipsoid, None, "lung", feret="in_slice").category == "T1b"  # 11.4 mm between corners


# --- Feret against the definition --------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(masks_and_spacing(), st.sampled_from(("corners", "centres")))
def test_feret_matches_all_pairs_on_random_masks(case, convention):
    mask, spacing = case
    expected = brute_force_feret(mask, spacing, convention)
    with mock.patch.object(feret_module, "_ALL_PAIRS_MAX_POINTS", 2):  # exercise hull and degenerate paths
        assert max_feret_diameter(mask, spacing, convention) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert max_feret_diameter(mask, spacing, convention) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("convention", ["corners", "centres"])
def test_feret_matches_all_pairs_on_smooth_blobs(seed, convention):
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(14, 12, 10)), sigma=2.0)
    mask = field > np.quantile(field, 0.7)
    spacing = tuple(rng.uniform(0.4, 3.0, size=3))
    assert mask.sum() > 200  # big enough that the hull path runs
    assert max_feret_diameter(mask, spacing, convention) == pytest.approx(
        brute_force_feret(mask, spacing, convention), rel=1e-12
    )
    axis = seed % 3
    assert longest_in_slice_diameter(mask, spacing, axis, convention) == pytest.approx(
        brute_force_in_slice(mask, spacing, axis, convention), rel=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(masks_and_spacing(max_side=5), st.sampled_from(("corners", "centres")), st.integers(0, 2))
def test_in_slice_matches_all_pairs(case, convention, axis):
    mask, spacing = case
    if mask.ndim == 2:
        mask, spacing = mask[None], (1.5, *spacing)
    assert longest_in_slice_diameter(mask, spacing, axis, convention) == pytest.approx(
        brute_force_in_slice(mask, spacing, axis, convention), rel=1e-12, abs=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(masks_and_spacing(), st.sampled_from(("corners", "centres")), st.data())
def test_feret_invariant_under_axis_permutation_and_flips(case, convention, data):
    mask, spacing = case
    order = data.draw(st.permutations(range(mask.ndim)))
    moved = np.flip(np.transpose(mask, order), axis=0)
    assert max_feret_diameter(moved, tuple(spacing[a] for a in order), convention) == pytest.approx(
        max_feret_diameter(mask, spacing, convention), rel=1e-12, abs=1e-12
    )


def test_feret_uses_the_convex_hull_vertices_only():
    mask = ball(12)
    calls = []
    real_max_distance = feret_module._max_distance
    with mock.patch.object(
        feret_module, "_max_distance", side_effect=lambda p: calls.append(len(p)) or real_max_distance(p)
    ):
        assert max_feret_diameter(mask, convention="centres") == 24.0
    assert len(calls) == 1 and 2 <= calls[0] < 0.2 * mask.sum()


def test_large_ball_is_exact_and_not_all_pairs():
    # 268,000 voxels: all pairs would need ~3.6e10 distances. Two lattice points in a ball of radius r are at most
    # 2r apart, and (±r, 0, 0) reach it.
    assert max_feret_diameter(ball(40), convention="centres") == 80.0
    assert longest_in_slice_diameter(ball(40), convention="centres") == 80.0


def test_single_voxel(hull_for_all):
    one = np.zeros((3, 3, 3), dtype=bool)
    one[1, 1, 1] = True
    assert max_feret_diameter(one, (2.0, 3.0, 6.0)) == 7.0  # √(4 + 9 + 36)
    assert max_feret_diameter(one, (2.0, 3.0, 6.0), convention="centres") == 0.0
    assert longest_in_slice_diameter(one, (2.0, 3.0, 4.0), axis=0) == 5.0


def test_collinear_and_coplanar_centres(hull_for_all):
    diagonal = np.zeros((30, 30, 30), dtype=bool)
    diagonal[np.arange(30), np.arange(30), np.arange(30)] = True
    assert max_feret_diameter(diagonal, (1.0, 2.0, 2.0), convention="centres") == pytest.approx(29 * 3.0, rel=1e-15)
    slab = np.zeros((5, 20, 20), dtype=bool)
    slab[2] = True
    assert max_feret_diameter(slab, (1.0, 3.0, 4.0), convention="centres") == pytest.approx(19 * 5.0, rel=1e-15)
    assert max_feret_diameter(slab, (1.0, 3.0, 4.0)) == pytest.approx(math.sqrt(1 + 60**2 + 80**2), rel=1e-15)
    line_2d = np.zeros((1, 50), dtype=bool)
    line_2d[0, 3:48] = True
    assert max_feret_diameter(line_2d, (1.0, 0.5), convention="centres") == 22.0


def test_square_2d_corners():
    square = np.ones((7, 7), dtype=bool)
    assert max_feret_diameter(square, (2.0, 2.0)) == pytest.approx(14 * math.sqrt(2), rel=1e-15)


def test_empty_masks_measure_zero():
    assert max_feret_diameter(np.zeros((4, 4, 4), dtype=bool)) == 0.0
    assert max_feret_diameter(np.zeros((4, 4))) == 0.0
    assert longest_in_slice_diameter(np.zeros((4, 4, 4))) == 0.0
    assert lesions(np.zeros((4, 4, 4))) == []


def test_accepts_lists_and_torch_tensors():
    torch = pytest.importorskip("torch")
    bar = np.zeros((12, 3, 3), dtype=np.uint8)
    bar[1:11, 1, 1] = 1
    assert max_feret_diameter(torch.from_numpy(bar), convention="centres") == 9.0
    assert max_feret_diameter(bar.tolist(), [5, 1, 1], convention="centres") == 45.0


# --- lesions -----------------------------------------------------------------------------------------------------


def test_lesions_records_sorted_by_size():
    mask = np.zeros((6, 20, 20), dtype=bool)
    mask[1:3, 1:3, 1:3] = True  # 8 voxels
    mask[1:4, 10:14, 10:15] = True  # 60 voxels
    mask[5, 19, 0] = True  # 1 voxel
    found = lesions(mask, (2.0, 0.5, 0.5))
    assert [(les.voxel_count, les.volume_mm3) for les in found] == [(60, 30.0), (8, 4.0), (1, 0.5)]
    assert sorted(les.label for les in found) == [1, 2, 3]
    assert found[0].greatest_dimension_mm == pytest.approx(math.sqrt(6**2 + 2**2 + 2.5**2), rel=1e-15)
    assert found[2] == Lesion(label=3, voxel_count=1, volume_mm3=0.5, greatest_dimension_mm=math.sqrt(4.5))


def test_lesion_connectivity_default_full():
    mask = np.zeros((4, 4, 4), dtype=bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # touching at a corner only
    assert len(lesions(mask)) == 1
    assert len(lesions(mask, connectivity=26)) == 1
    assert len(lesions(mask, connectivity=18)) == 2
    assert len(lesions(mask, connectivity=6)) == 2
    edge = np.zeros((4, 4), dtype=bool)
    edge[0, 0] = edge[1, 1] = True
    assert [len(lesions(edge, connectivity=c)) for c in (None, 8, 4)] == [1, 1, 2]


def test_lesions_in_slice_measure():
    found = lesions(tv8_ellipsoid(), feret="in_slice", slice_axis=0, convention="centres")
    assert len(found) == 1 and found[0].greatest_dimension_mm == 10.0
    across = lesions(tv8_ellipsoid(), feret="in_slice", slice_axis=1, convention="centres")
    assert across[0].greatest_dimension_mm == 24.0


# --- AJCC rules ----------------------------------------------------------------------------------------------------


def test_builtin_rules_registered_with_ordered_categories():
    assert list_rules() == [
        "lung", "kidney", "liver_hcc", "pancreas", "breast", "thyroid", "adrenal", "soft_tissue_sarcoma",
    ]
    assert get_rule("lung").categories == ("T0", "T1a", "T1b", "T1c", "T2a", "T2b", "T3", "T4")
    assert get_rule("kidney").categories == ("T0", "T1a", "T1b", "T2a", "T2b")
    assert get_rule("liver_hcc").categories == ("T0", "T1a", "T1b", "T2", "T3")
    assert get_rule("pancreas").categories == ("T0", "T1a", "T1b", "T1c", "T2", "T3")
    assert get_rule("breast").categories == ("T0", "T1mi", "T1a", "T1b", "T1c", "T2", "T3")
    assert get_rule("thyroid").categories == ("T0", "T1a", "T1b", "T2", "T3a")
    assert get_rule("adrenal").categories == ("T0", "T1", "T2")
    assert get_rule("soft_tissue_sarcoma").categories == ("T0", "T1", "T2", "T3", "T4")
    assert [get_rule(n).uses_lesion_count for n in list_rules()].count(True) == 1
    assert get_rule("liver_hcc").uses_lesion_count


def test_unknown_rule_suggests_a_name():
    with pytest.raises(UnknownNameError, match="Did you mean 'lung'"):
        get_rule("lungs")
    with pytest.raises(InputError, match="staging rule name"):
        stage_mask(np.ones((2, 2)), None, 3)


@pytest.mark.parametrize(
    ("rule", "value_mm", "expected"),
    [
        ("lung", 10.0, "T1a"), ("lung", 10.04, "T1a"), ("lung", 10.05, "T1b"),
        ("lung", 20.0, "T1b"), ("lung", 20.04, "T1b"), ("lung", 20.05, "T1c"),
        ("lung", 70.0, "T3"), ("lung", 70.05, "T4"), ("lung", 0.0, "T1a"),
        ("pancreas", 5.0, "T1a"), ("pancreas", 5.04, "T1a"), ("pancreas", 5.05, "T1b"),
        ("pancreas", 9.94, "T1b"), ("pancreas", 9.96, "T1c"), ("pancreas", 10.0, "T1c"),
        ("pancreas", 20.0, "T1c"), ("pancreas", 20.05, "T2"), ("pancreas", 40.0, "T2"), ("pancreas", 40.1, "T3"),
        ("breast", 0.4, "T1mi"), ("breast", 1.0, "T1mi"), ("breast", 1.49, "T1mi"), ("breast", 1.5, "T1a"),
        ("breast", 5.49, "T1a"), ("breast", 5.5, "T1b"), ("breast", 20.4, "T1c"), ("breast", 50.5, "T3"),
        ("kidney", 40.0, "T1a"), ("kidney", 40.05, "T1b"), ("kidney", 100.0, "T2a"), ("kidney", 100.1, "T2b"),
        ("thyroid", 40.0, "T2"), ("thyroid", 40.1, "T3a"),
        ("adrenal", 50.0, "T1"), ("adrenal", 50.05, "T2"),
        ("soft_tissue_sarcoma", 150.0, "T3"), ("soft_tissue_sarcoma", 150.05, "T4"),
    ],
)
def test_thresholds_at_exact_boundaries(rule, value_mm, expected):
    assert get_rule(rule).category_for(value_mm) == expected


def test_rounding_is_half_up_on_the_printed_value():
    lung = get_rule("lung")
    assert lung.rounded(20.05) == 20.1  # float 20.05 lies just below 20.05; round(20.05 / 0.1) * 0.1 gives 20.0
    assert lung.rounded(0.15) == 0.2
    assert get_rule("breast").rounded(2.5) == 3.0


def test_bad_measurement_values():
    with pytest.raises(InputError, match="size ≥ 0"):
        get_rule("lung").category_for(-1.0)
    with pytest.raises(InputError, match="size ≥ 0"):
        get_rule("lung").category_for(float("nan"))


def _bars(*lengths_vox: int) -> np.ndarray:
    """Separate 1×1-voxel bars along axis 1 of the given lengths, on rows 0, 2, 4, … of axis 0."""
    mask = np.zeros((2 * len(lengths_vox), 80, 1), dtype=bool)
    for row, length in enumerate(lengths_vox):
        mask[2 * row, :length, 0] = True
    return mask


@pytest.mark.parametrize(
    ("lengths", "expected"),
    [
        ((), "T0"),
        ((21,), "T1a"),  # solitary, 20.0 mm between centres
        ((22,), "T1b"),  # solitary, 21.0 mm
        ((71,), "T1b"),  # solitary, large
        ((51, 5), "T2"),  # multiple, none > 50 mm
        ((52, 5), "T3"),  # multiple, one 51 mm
        ((5, 5, 5), "T2"),
    ],
)
def test_hcc_depends_on_multiplicity(lengths, expected):
    result = stage_mask(_bars(*lengths), None, "liver_hcc", convention="centres")
    assert result.category == expected
    assert result.n_lesions == len(lengths)


def test_hcc_connectivity_changes_multiplicity():
    mask = np.zeros((3, 30, 30), dtype=bool)
    mask[1, np.arange(10), np.arange(10)] = True  # a diagonal chain, 14.2 mm: one lesion only with 18/26-connectivity
    assert stage_mask(mask, None, "liver_hcc").category == "T1a"
    assert stage_mask(mask, None, "liver_hcc", connectivity=6).category == "T2"


def test_missed_lesion_is_t0_and_false_positive_counts_against_t0():
    empty = np.zeros((8, 8, 8), dtype=bool)
    missed = stage_mask(empty, (1, 1, 1), "lung")
    assert (missed.category, missed.lesions) == ("T0", ())
    assert (missed.greatest_dimension_mm, missed.compared_value) == (0.0, 0.0)
    spot = empty.copy()
    spot[4, 4, 4] = True
    assert stage_mask(spot, (1, 1, 1), "lung").category == "T1a"
    report = staging_accuracy(["T1c", "T0"], [missed.category, "T1a"], "lung")
    assert report.accuracy == 0.0
    assert report.confusion[3][0] == 1 and report.confusion[0][1] == 1


def test_stage_mask_reports_the_compared_value_and_uses_the_largest_lesion():
    mask = _bars(30, 12)
    result = stage_mask(mask, (1.0, 1.0, 1.0), "thyroid", convention="centres")
    assert (result.category, result.greatest_dimension_mm, result.compared_value) == ("T2", 29.0, 29.0)
    assert [les.voxel_count for les in result.lesions] == [30, 12]
    spaced = stage_mask(mask, (1.0, 0.7031, 1.0), "thyroid")
    assert spaced.compared_value == round(spaced.greatest_dimension_mm, 1)


def test_stage_mask_from_a_label_map():
    labels = np.zeros((4, 60, 4), dtype=np.int16)
    labels[1, :50, 1] = 1  # kidney
    labels[2, :45, 2] = 2  # tumour, 44 mm between centres
    result = stage_mask(labels, None, "kidney", label=2, convention="centres")
    assert (result.category, result.greatest_dimension_mm) == ("T1b", 44.0)
    with pytest.raises(InputError, match="binary mask"):
        stage_mask(labels, None, "kidney")


# --- custom rules --------------------------------------------------------------------------------------------------


def test_custom_diameter_rule_in_cm():
    rule = rule_from_config({
        "name": "my_rule",
        "measure": "diameter",
        "unit": "cm",
        "categories": [
            {"name": "T1", "max": 1.1, "inclusive": False},
            {"name": "T2", "max": 3},
            {"name": "T3"},
        ],
    })
    assert rule.categories == ("T0", "T1", "T2", "T3")
    assert [t.upper for t in rule.thresholds] == [11.0, 30.0, None]
    assert [rule.category_for(v) for v in (10.94, 10.96, 11.0, 30.0, 30.05)] == ["T1", "T2", "T2", "T2", "T3"]
    register_rule(rule)
    try:
        assert stage_mask(_bars(12), None, "my_rule", convention="centres").category == "T2"
    finally:
        RULES.remove("my_rule")
    assert "my_rule" not in list_rules()


def test_custom_volume_rule_in_ml():
    rule = rule_from_config({
        "measure": "volume",
        "unit": "ml",
        "categories": [{"name": "small", "max": 10}, {"name": "large"}],
    })
    assert rule.rounding is None and rule.name == "custom"
    cube = np.zeros((12, 12, 12), dtype=bool)
    cube[1:11, 1:11, 1:11] = True
    spacing = (2.0, 2.0, 2.5)  # 10 mm³ per voxel: 1000 voxels = 10 ml
    assert stage_mask(cube, spacing, rule).category == "small"
    cube[0, 1, 1] = True
    assert stage_mask(cube, spacing, rule).category == "large"


def _card(**changes):
    card = {
        "measure": "diameter",
        "unit": "mm",
        "categories": [{"name": "T1", "max": 20}, {"name": "T2", "max": 40}, {"name": "T3"}],
        "rounding_mm": 0.1,
    }
    card.update(changes)
    return card


@pytest.mark.parametrize(
    ("card", "path", "reason"),
    [
        (_card(categores=[]), "staging.categores", "Did you mean 'categories'"),
        (_card(unit="inch"), "staging.unit", "'mm', 'cm'"),
        (_card(measure="area"), "staging.measure", "'diameter', 'volume'"),
        (_card(measure="volume", unit="cm"), "staging.unit", "'mm3', 'cm3', 'ml'"),
        (_card(measure="volume", unit="ml"), "staging.rounding_mm", "use rounding_mm3"),
        (_card(rounding_mm=-1), "staging.rounding_mm", "positive number"),
        (_card(name="My Rule"), "staging.name", "snake_case"),
        (_card(categories=[]), "staging.categories", "non-empty list"),
        (_card(categories="T1"), "staging.categories", "non-empty list"),
        (_card(categories=[{"name": "T1", "max": 20}, {"name": "T2", "max": 40}, {"name": "T3", "max": 30}]),
         "staging.categories[2].max", "open-ended"),
        (_card(categories=[{"name": "T1", "max": 20}, {"name": "T2", "max": 20}, {"name": "T3"}]),
         "staging.categories[1].max", "increasing"),
        (_card(categories=[{"name": "T1", "max": 20}, {"name": "T2"}, {"name": "T3"}]),
         "staging.categories[1].max", "only the last"),
        (_card(categories=[{"name": "T1", "max": "20"}, {"name": "T2"}]), "staging.categories[0].max", "number"),
        (_card(categories=[{"name": "T1", "max": True}, {"name": "T2"}]), "staging.categories[0].max", "number"),
        (_card(categories=[{"name": "T1", "maxx": 20}, {"name": "T2"}]),
         "staging.categories[0].maxx", "Did you mean 'max'"),
        (_card(categories=[{"name": "T1", "max": 20, "inclusive": "yes"}, {"name": "T2"}]),
         "staging.categories[0].inclusive", "true"),
        (_card(categories=[{"name": "T0", "max": 20}, {"name": "T2"}]), "staging.categories[0].name", "reserved"),
        (_card(categories=[{"name": "T1", "max": 20}, {"name": "T1"}]), "staging.categories[1].name", "twice"),
        (_card(categories=[{"max": 20}, {"name": "T2"}]), "staging.categories[0].name", "category name"),
        (_card(categories=[["T1", 20], {"name": "T2"}]), "staging.categories[0]", "mapping"),
        (_card(multiple_categories=[{"name": "T2", "max": 5}]), "staging.multiple_categories[0].max", "open-ended"),
    ],
)
def test_custom_rule_errors_name_the_field_path(card, path, reason):
    with pytest.raises(ConfigError) as excinfo:
        rule_from_config(card)
    message = str(excinfo.value)
    assert message.startswith(path + ":"), message
    assert reason in message


@pytest.mark.parametrize("missing", ["measure", "unit", "categories"])
def test_custom_rule_missing_fields(missing):
    card = _card()
    del card[missing]
    with pytest.raises(ConfigError, match=re.escape(f"tasks[3].staging.{missing}: required")):
        rule_from_config(card, where="tasks[3].staging")


def test_custom_rule_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"^staging: expected a mapping"):
        rule_from_config([("measure", "diameter")])


def test_custom_rule_with_multiplicity_like_hcc():
    rule = rule_from_config(_card(multiple_categories=[{"name": "M1", "max": 30}, {"name": "M2"}]))
    assert rule.uses_lesion_count and rule.categories == ("T0", "T1", "T2", "T3", "M1", "M2")
    assert stage_mask(_bars(35), None, rule, convention="centres").category == "T2"
    assert stage_mask(_bars(35, 3), None, rule, convention="centres").category == "M2"


def test_staging_rule_checks_direct_construction():
    with pytest.raises(ConfigError, match="open-ended"):
        StagingRule("bad", "diameter", (Threshold("T1", 10.0),))
    with pytest.raises(ConfigError, match="increase strictly"):
        StagingRule("bad", "diameter", (Threshold("T1", 10.0), Threshold("T2", 5.0), Threshold("T3", None)))
    with pytest.raises(ConfigError, match="measure"):
        StagingRule("bad", "area", (Threshold("T1", None),))


# --- agreement -----------------------------------------------------------------------------------------------------


def test_accuracy_within_one_and_confusion():
    report = staging_accuracy(["T1a", "T1b", "T1c", "T0"], ["T1b", "T1b", "T2b", "T1a"], get_rule("lung"))
    assert report.labels == get_rule("lung").categories
    assert report.n_cases == 4
    assert report.accuracy == 0.25
    assert report.within_one_accuracy == 0.75
    expected = np.zeros((8, 8), dtype=int)
    expected[1, 2] = expected[2, 2] = expected[3, 5] = expected[0, 1] = 1
    assert report.confusion == expected.tolist()
    frame = report.confusion_frame()
    assert frame.loc["T1c", "T2b"] == 1 and frame.values.sum() == 4
    assert report.as_dict()["accuracy"] == 0.25


def test_kappa_matches_a_hand_computation():
    # 2×2 table [[20, 5], [10, 15]]: po = 0.7, pe = 0.5, so κ = 0.4 (linear weights equal unweighted for K = 2).
    truth = ["T1"] * 25 + ["T2"] * 25
    pred = ["T1"] * 20 + ["T2"] * 5 + ["T1"] * 10 + ["T2"] * 15
    assert staging_accuracy(truth, pred, ["T1", "T2"]).kappa_linear == pytest.approx(0.4, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_kappa_matches_sklearn_on_random_labels(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    categories = get_rule("lung").categories
    n = int(rng.integers(5, 60))
    truth = rng.choice(categories[: int(rng.integers(2, 8))], size=n)
    # Predictions near the truth, sometimes off by a few categories.
    shift = rng.choice([-2, -1, 0, 0, 0, 1, 3], size=n)
    pred = [categories[int(np.clip(categories.index(t) + s, 0, 7))] for t, s in zip(truth, shift)]
    report = staging_accuracy(list(truth), pred, categories)
    expected = metrics.cohen_kappa_score(list(truth), pred, labels=list(categories), weights="linear")
    assert report.kappa_linear == pytest.approx(expected, abs=1e-12)
    assert report.accuracy == pytest.approx(np.mean(np.asarray(pred) == truth), abs=1e-15)


def test_kappa_degenerate_cases_are_defined():
    assert staging_accuracy(["T1a"] * 5, ["T1a"] * 5, "lung").kappa_linear == 1.0
    assert staging_accuracy(["T1"], ["T1"], ["T1"]).kappa_linear == 1.0
    one_sided = staging_accuracy(["T1a"] * 4, ["T1a", "T1b", "T1a", "T2a"], "lung")
    assert one_sided.kappa_linear == 0.0
    assert linear_weighted_kappa([[3, 0], [0, 0]]) == 1.0
    metrics = pytest.importorskip("sklearn.metrics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(metrics.cohen_kappa_score(["a"] * 5, ["a"] * 5, labels=["a", "b"], weights="linear"))


def test_kappa_perfect_and_reversed():
    cats = ["T0", "T1", "T2", "T3"]
    assert staging_accuracy(cats, cats, cats).kappa_linear == 1.0
    assert staging_accuracy(cats, cats[::-1], cats).kappa_linear < 0


def test_accuracy_input_errors():
    with pytest.raises(InputError, match=re.escape("pred_categories[1]: unknown category 'T1d'")) as excinfo:
        staging_accuracy(["T1a", "T1b"], ["T1a", "T1d"], "lung")
    assert "Did you mean" in str(excinfo.value)
    with pytest.raises(InputError, match=re.escape("true_categories[0]: unknown category None")):
        staging_accuracy([None], ["T1a"], "lung")
    with pytest.raises(InputError, match="2 entries but pred_categories has 1"):
        staging_accuracy(["T1a", "T1b"], ["T1a"], "lung")
    with pytest.raises(InputError, match="empty"):
        staging_accuracy([], [], "lung")
    with pytest.raises(InputError, match="single string"):
        staging_accuracy("T1a", ["T1a"], "lung")
    with pytest.raises(InputError, match="repeats"):
        staging_accuracy(["T1"], ["T1"], ["T1", "T2", "T1"])
    with pytest.raises(InputError, match="non-empty ordered list"):
        staging_accuracy(["T1"], ["T1"], [])
    with pytest.raises(UnknownNameError):
        staging_accuracy(["T1"], ["T1"], "lungs")


# --- degenerate and invalid inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: max_feret_diameter(np.ones(5)), "2D or 3D mask, got 1D"),
        (lambda: max_feret_diameter(np.ones((2, 2, 2, 2))), "got 4D"),
        (lambda: max_feret_diameter(np.array(1)), "scalar"),
        (lambda: max_feret_diameter(np.array([[0, 2]])), "binary mask"),
        (lambda: max_feret_diameter(np.ones((2, 2)), (1.0, 1.0, 1.0)), "one spacing per array axis"),
        (lambda: max_feret_diameter(np.ones((2, 2)), (1.0, -1.0)), "positive finite"),
        (lambda: max_feret_diameter(np.ones((2, 2)), convention="centers"), "Did you mean 'centres'"),
        (lambda: longest_in_slice_diameter(np.ones((2, 2))), "max_feret_diameter"),
        (lambda: longest_in_slice_diameter(np.ones((2, 2, 2)), axis=3), "axis in 0..2"),
        (lambda: lesions(np.ones((2, 2, 2)), connectivity=8), "one of 6, 18, 26"),
        (lambda: lesions(np.ones((2, 2)), connectivity=6), "one of 4, 8"),
        (lambda: lesions(np.ones((2, 2)), feret="in_slice"), "needs a 3D mask"),
        (lambda: stage_mask(np.ones((2, 2, 2)), None, "lung", feret="2d"), "feret: expected one of"),
        (lambda: stage_mask(np.ones((2, 2, 2)), None, "lung", feret="in_slice", slice_axis=-4), "slice_axis"),
    ],
)
def test_invalid_inputs_raise_input_errors(call, pattern):
    with pytest.raises(InputError, match=re.escape(pattern)):
        call()


def test_negative_axis_is_accepted():
    ellipsoid = tv8_ellipsoid()
    assert longest_in_slice_diameter(ellipsoid, axis=-3, convention="centres") == 10.0

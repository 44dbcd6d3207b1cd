"""The in-place engine writes exactly what the reference merge computes, into the live model's own tensors."""

import pytest
import torch

from medmix.errors import InputError
from medmix.merging.engine import InPlaceMerger, live_tensors
from medmix.merging.pool import MergePool, PoolMember, distance_report
from medmix.merging.recipe import MergeRecipe, UnitRecipe, merge_state_dict
from medmix.merging.units import assign_units, get_scheme
from medmix.models.sam import build_tiny_sam


@pytest.fixture(scope="module")
def tiny_pool():
    base = build_tiny_sam(seed=0).state_dict()
    gen = torch.Generator().manual_seed(1)
    members = [PoolMember("base", {k: v.clone() for k, v in base.items()})]
    for name in ("spec_a", "spec_b"):
        state = {k: (v + 0.05 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v.clone())
                 for k, v in base.items()}
        # The prompt encoder stays frozen, as MedSAM's does.
        state.update({k: base[k].clone() for k in base if k.startswith("prompt_encoder.")})
        members.append(PoolMember(name, state))
    return MergePool(members, arch="tiny")


SCHEME = {"scheme": "medsamix", "granularity": 1}
UNIT_RECIPES = [
    UnitRecipe("linear", {"weights": [0.2, 0.5, 0.3]}),
    UnitRecipe("task_arithmetic", {"lam": 0.7}),
    UnitRecipe("ties", {"drop": 0.4, "lam": 0.9}),
    UnitRecipe("dare_linear", {"drop": 0.3, "lam": 0.8}),
    UnitRecipe("dare_ties", {"drop": 0.3, "lam": 0.8}),
    UnitRecipe("slerp", {"weights": [0.1, 0.6, 0.3]}),
    UnitRecipe("slerp", {"weights": [0.0, 1.0, 0.0]}),
    UnitRecipe("breadcrumbs", {"density": 0.8, "gamma": 0.05, "lam": 0.6}),
]


def _recipe(pool, units):
    return MergeRecipe("tiny", [{"name": n, "path": "-"} for n in pool.names], SCHEME,
                       UnitRecipe("linear", {"weights": [1.0, 0.0, 0.0]}), units, seed=7)


def test_in_place_equals_reference(tiny_pool):
    scheme = get_scheme("medsamix", depth=2, granularity=1)
    names = [u.name for u in scheme.units]
    units = {name: UNIT_RECIPES[i % len(UNIT_RECIPES)] for i, name in enumerate(names)}
    recipe = _recipe(tiny_pool, units)
    expected = merge_state_dict(tiny_pool, recipe)
    model = build_tiny_sam(seed=5)  # different weights: every tensor must be overwritten
    merger = InPlaceMerger(tiny_pool, scheme, live_tensors(model))
    merger.apply({u.name: recipe.for_unit(u.name) for u in scheme.units}, seed=recipe.seed)
    got = model.state_dict()
    assert set(got) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize("unit_recipe", [
    UnitRecipe("ties", {"drop": 0.7, "lam": 1.0}),  # 1 − 0.7 = 0.30000000000000004: the keep count
    UnitRecipe("breadcrumbs", {"density": 0.9, "gamma": 0.05, "lam": 1.0}),  # γ·n at .5: both ends
    UnitRecipe("dare_linear", {"drop": 0.4, "lam": 0.8, "rescale": "l1"}),
    UnitRecipe("dare_ties", {"drop": 0.4, "lam": 0.8, "rescale": "l1"}),
])
def test_in_place_equals_reference_for_counting_and_rescale_options(tiny_pool, monkeypatch, unit_recipe):
    from medmix.merging import methods

    calls = []
    counting = methods.fraction_count
    monkeypatch.setattr(methods, "fraction_count", lambda f, n: calls.append((f, n)) or counting(f, n))
    scheme = get_scheme("medsamix", depth=2, granularity=1)
    recipe = _recipe(tiny_pool, {u.name: unit_recipe for u in scheme.units})
    expected = merge_state_dict(tiny_pool, recipe)
    n_reference = len(calls)
    model = build_tiny_sam(seed=5)
    InPlaceMerger(tiny_pool, scheme, live_tensors(model)).apply(
        {u.name: recipe.for_unit(u.name) for u in scheme.units}, seed=recipe.seed)
    # the engine counts kept entries with the same function, as often as the reference does
    assert len(calls) == 2 * n_reference and calls[:n_reference] == calls[n_reference:]
    got = model.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_recipe_options_are_checked_against_their_choices(tiny_pool):
    from medmix.errors import ConfigError
    from medmix.merging.recipe import recipe_from_dict

    data = {"arch": "tiny", "pool": [{"name": n, "path": "-"} for n in tiny_pool.names], "units": SCHEME,
            "default": {"method": "dare_ties", "drop": 0.3, "lam": 1.0, "rescale": "l1"}}
    assert recipe_from_dict(data).default.params["rescale"] == "l1"
    data["default"]["rescale"] = "l2"
    with pytest.raises(ConfigError, match=r"recipe.default.rescale: expected one of \['inverse', 'l1'\] for dare_ties"):
        recipe_from_dict(data)
    data["default"] = {"method": "ties", "drop": 0.3, "lam": 1.0, "rescale": "l1"}
    with pytest.raises(ConfigError, match="unknown parameter"):
        recipe_from_dict(data)


def test_every_trial_overwrites_in_place(tiny_pool):
    scheme = get_scheme("medsamix", depth=2, granularity=2)
    model = build_tiny_sam(seed=0)
    tensors = live_tensors(model)
    ids = {k: v.data_ptr() for k, v in tensors.items()}
    merger = InPlaceMerger(tiny_pool, scheme, tensors)
    for weights in ([0, 1, 0], [0, 0, 1], [1, 0, 0]):
        merger.apply({u.name: UnitRecipe("linear", {"weights": weights}) for u in scheme.units})
    assert {k: v.data_ptr() for k, v in live_tensors(model).items()} == ids
    for key, value in tiny_pool.base.items():  # the last trial was the pure base
        torch.testing.assert_close(model.state_dict()[key], value)


def test_distance_report_flags_frozen_units(tiny_pool):
    assignment = assign_units(tiny_pool.base.keys(), get_scheme("medsamix", depth=2, granularity=1))
    report = {r.unit: r for r in distance_report(tiny_pool, assignment)}
    assert report["prompt_point_embeddings"].identical
    assert not report["encoder_blocks_0_0"].identical
    assert 0 < report["encoder_blocks_0_0"].relative_norm["spec_a"]
    assert -0.5 < report["encoder_blocks_0_0"].cosine["spec_a|spec_b"] < 0.5  # independent noise


def test_pool_validation_errors(tiny_pool):
    base = tiny_pool.members[0]
    broken = {k: v.clone() for k, v in base.state.items()}
    key = next(k for k in broken if k.startswith("image_encoder.blocks.1."))
    del broken[key]
    with pytest.raises(InputError, match="does not match the base"):
        MergePool([base, PoolMember("broken", broken)])
    nan = {k: v.clone() for k, v in base.state.items()}
    nan["image_encoder.pos_embed"][0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN or Inf"):
        MergePool([base, PoolMember("nan", nan)])
    with pytest.raises(InputError, match="at least one model"):
        MergePool([base])

"""Merge methods satisfy the identities of reference.md §4 and their defining arithmetic."""

import math

import pytest
import torch

from medmix.errors import InputError
from medmix.merging.methods import (
    MERGE_METHODS,
    breadcrumbs,
    dare_linear,
    dare_ties,
    fraction_count,
    linear,
    merge_method,
    slerp,
    slerp_pair,
    task_arithmetic,
    ties,
    trim_top_k,
)


def pool(n=3, shape=(7, 5), seed=0):
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(shape, generator=gen)
    return [base] + [base + 0.1 * torch.randn(shape, generator=gen) for _ in range(n - 1)]


ALL_WITH_LAMBDA = {
    "task_arithmetic": lambda ts, lam: task_arithmetic(ts, lam=lam),
    "ties": lambda ts, lam: ties(ts, drop=0.3, lam=lam),
    "dare_linear": lambda ts, lam: dare_linear(ts, drop=0.3, lam=lam, seed=1),
    "dare_ties": lambda ts, lam: dare_ties(ts, drop=0.3, lam=lam, seed=1),
    "breadcrumbs": lambda ts, lam: breadcrumbs(ts, density=0.8, gamma=0.05, lam=lam),
}


@pytest.mark.parametrize("name", ALL_WITH_LAMBDA)
def test_lambda_zero_returns_base(name):
    ts = pool()
    assert torch.equal(ALL_WITH_LAMBDA[name](ts, 0.0), ts[0])


@pytest.mark.parametrize("name", ALL_WITH_LAMBDA)
def test_merging_a_model_with_itself_returns_it(name):
    t = pool(1)[0]
    assert torch.allclose(ALL_WITH_LAMBDA[name]([t, t, t], 0.7), t, atol=0)


def test_linear_and_slerp_with_itself_are_bit_exact():
    """Identical members merge to themselves bit for bit (models sharing a frozen encoder keep sharing its
    weights, and its cached features, after a merge)."""
    t = pool(1)[0]
    assert torch.equal(linear([t, t.clone(), t.clone()], [0.1, 0.6, 0.3]), t)  # Σ wi θ rounds without the guard
    assert torch.equal(slerp([t, t.clone()], t=0.4), t)
    assert torch.equal(slerp([t, t.clone(), t.clone()], weights=[0.2, 0.5, 0.3]), t)


@pytest.mark.parametrize("hot", [0, 1, 2])
def test_linear_one_hot_returns_that_model(hot):
    ts = pool()
    w = [0.0, 0.0, 0.0]
    w[hot] = 1.0
    assert torch.equal(linear(ts, w), ts[hot])


def test_linear_weights_are_normalised_and_zero_is_an_error():
    ts = pool()
    assert torch.allclose(linear(ts, [2, 2, 0]), (ts[0] + ts[1]) / 2, atol=1e-6)
    with pytest.raises(InputError, match="all linear weights are zero"):
        linear(ts, [0, 0, 0])
    with pytest.raises(InputError, match="3 models"):
        linear(ts, [1, 1])


def test_task_arithmetic_sums_task_vectors():
    ts = pool()
    expected = ts[0] + 0.5 * ((ts[1] - ts[0]) + (ts[2] - ts[0]))
    assert torch.allclose(task_arithmetic(ts, lam=0.5), expected, atol=1e-6)


def test_trim_keeps_top_k_magnitudes():
    tau = torch.tensor([0.1, -3.0, 2.0, -0.5, 1.0])
    assert trim_top_k(tau, 0.4).tolist() == [0.0, -3.0, 2.0, 0.0, 0.0]
    assert trim_top_k(tau, 1.0).tolist() == tau.tolist()
    assert trim_top_k(tau, 0.0).tolist() == [0.0] * 5


def test_ties_keep_count_is_not_fooled_by_binary_rounding():
    # 1 − 0.7 is 0.30000000000000004 in binary: a plain ceil of (1 − drop)·n keeps 4 of 10, not 3.
    tau = torch.tensor([0.1, -1.0, 0.2, 0.9, -0.3, 0.8, 0.4, -0.7, 0.5, 0.6])
    assert torch.count_nonzero(trim_top_k(tau, 1.0 - 0.7)).item() == 3
    merged = ties([torch.zeros(10), tau], drop=0.7, lam=1.0)
    assert merged.tolist() == pytest.approx([0, -1.0, 0, 0.9, 0, 0.8, 0, 0, 0, 0])


def test_fraction_count_is_a_ceiling_of_the_fraction_read_to_nine_decimals():
    assert [fraction_count(f, 10) for f in (0.0, 1e-10, 0.05, 0.1, 0.21, 1.0 - 0.7, 0.9, 1.0)] == [0, 0, 1, 1, 3, 3, 9, 10]
    assert fraction_count(1.0 - 0.7, 10**9) == 3 * 10**8  # exact at any size, where rounding the product is not
    assert fraction_count(0.2, 15) == 3 and fraction_count(1.0, 7) == 7


def test_breadcrumbs_ends_are_ceilings_too():
    # γ·n = 0.5: banker's round() gave 0 and dropped nothing; the ceiling drops the single largest magnitude.
    base = torch.zeros(10)
    tau = torch.tensor([3.0, -1.0, 10.0, 2.0, -5.0, 4.0, 6.0, -7.0, 8.0, 9.0])
    out = breadcrumbs([base, tau], density=0.9, gamma=0.05, lam=1.0)
    assert out.tolist() == [3.0, -1.0, 0.0, 2.0, -5.0, 4.0, 6.0, -7.0, 8.0, 9.0]
    # top ⌈0.15·10⌉ = 2 dropped, next ⌈0.45·10⌉ = 5 kept
    out = breadcrumbs([base, torch.arange(1.0, 11.0)], density=0.45, gamma=0.15, lam=1.0)
    assert out.tolist() == [0, 0, 0, 4, 5, 6, 7, 8, 0, 0]
    # the kept end is clipped to the tensor: ⌈0.05·10⌉ + ⌈0.95·10⌉ = 11 > 10
    out = breadcrumbs([base, torch.arange(1.0, 11.0)], density=0.95, gamma=0.05, lam=1.0)
    assert out.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]


def test_breadcrumbs_refuses_density_plus_gamma_above_one():
    with pytest.raises(InputError, match="gamma \\+ density ≤ 1"):
        breadcrumbs([torch.zeros(10), torch.ones(10)], density=0.95, gamma=0.1, lam=1.0)
    breadcrumbs([torch.zeros(10), torch.ones(10)], density=0.7, gamma=0.30000000000000004, lam=1.0)  # rounding only


def test_ties_elects_signs_and_takes_a_disjoint_mean():
    base = torch.zeros(4)
    t1 = torch.tensor([1.0, -2.0, 3.0, 0.5])
    t2 = torch.tensor([3.0, 1.0, -1.0, 0.5])
    merged = ties([base, t1, t2], drop=0.0, lam=1.0)
    # entry 0: both +, mean 2; entry 1: sum −1 → elected −, only −2 agrees; entry 2: sum + → 3; entry 3: 0.5
    assert merged.tolist() == [2.0, -2.0, 3.0, 0.5]


def test_dare_is_seeded_and_unbiased():
    base = torch.zeros(200_000)
    tau = torch.ones(200_000)
    a = dare_linear([base, tau], drop=0.5, lam=1.0, seed=3)
    assert torch.equal(a, dare_linear([base, tau], drop=0.5, lam=1.0, seed=3))
    assert not torch.equal(a, dare_linear([base, tau], drop=0.5, lam=1.0, seed=4))
    assert set(a.unique().tolist()) == {0.0, 2.0}
    assert a.mean().item() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("fn", [dare_linear, dare_ties])
def test_dare_l1_rescale_keeps_each_task_vectors_l1_norm(fn):
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(1000, generator=gen)
    tau = torch.randn(1000, generator=gen)
    out = fn([base, base + tau], drop=0.6, lam=1.0, seed=2, rescale="l1")
    merged_tau = out - base
    assert merged_tau.abs().sum().item() == pytest.approx(tau.abs().sum().item(), rel=1e-5)
    # the same drops as the default, scaled by one factor per tensor instead of 1/(1 − p)
    inverse = fn([base, base + tau], drop=0.6, lam=1.0, seed=2) - base
    kept = inverse != 0
    assert torch.equal(merged_tau != 0, kept)
    ratio = merged_tau[kept] / (inverse[kept] * 0.4)
    assert torch.allclose(ratio, torch.full_like(ratio, tau.abs().sum().item() / (tau[kept].abs().sum().item())),
                          rtol=1e-4)


def test_dare_l1_rescale_leaves_a_zero_task_vector_alone_and_refuses_unknown_rescales():
    base = torch.ones(50)
    assert torch.equal(dare_linear([base, base.clone()], drop=0.5, lam=1.0, seed=0, rescale="l1"), base)
    # ‖τ‖₁ = 5e-9 < 1e-7: the survivors are kept as they are, as in mergekit
    tiny = torch.full((50,), 1e-10)
    out = dare_linear([torch.zeros(50), tiny], drop=0.5, lam=1.0, seed=0, rescale="l1")
    assert set(out.tolist()) == {0.0, tiny[0].item()}
    with pytest.raises(InputError, match="rescale must be one of \\['inverse', 'l1'\\]"):
        dare_ties([base, base + 1], drop=0.5, lam=1.0, rescale="l2")


def test_slerp_matches_the_formula_and_falls_back_to_linear():
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([0.0, 1.0])
    mid = slerp_pair(a, b, 0.5)
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]), atol=1e-6)
    assert torch.allclose(slerp_pair(a, 2 * a, 0.5), 1.5 * a)
    ts = pool()
    # Top-two rule: weights 0.1 / 0.6 / 0.3 keep models 1 and 2 with t = 0.3 / 0.9 from model 1 to model 2.
    assert torch.allclose(slerp(ts, weights=[0.1, 0.6, 0.3]), slerp_pair(ts[1], ts[2], 0.3 / 0.9))


def test_breadcrumbs_drops_largest_and_smallest():
    base = torch.zeros(10)
    tau = torch.arange(1.0, 11.0)
    out = breadcrumbs([base, tau], density=0.5, gamma=0.2, lam=1.0)
    assert out.tolist() == [0, 0, 0, 4, 5, 6, 7, 8, 0, 0]


def test_bf16_inputs_keep_their_dtype():
    ts = [t.to(torch.bfloat16) for t in pool()]
    assert ties(ts, drop=0.2, lam=0.8).dtype == torch.bfloat16


def test_user_methods_register_by_decorator():
    @merge_method("test_pick_last")
    def pick_last(tensors):
        """Return the last model."""
        return tensors[-1].clone()

    try:
        ts = pool()
        assert torch.equal(MERGE_METHODS.get("test_pick_last").fn(ts), ts[-1])
    finally:
        MERGE_METHODS.remove("test_pick_last")


def test_shape_mismatch_is_an_error():
    with pytest.raises(InputError, match="shape"):
        task_arithmetic([torch.zeros(3), torch.zeros(4)], lam=1.0)

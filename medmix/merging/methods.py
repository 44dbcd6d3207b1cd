"""Merge methods: pure functions of one parameter tensor across a pool of models (reference.md §4).

Every method takes `tensors`, the same parameter from each model of the pool with the base first
(`tensors[0] = θ0`, task vectors `τi = θi − θ0` for i ≥ 1), plus its own parameters, and returns the merged
tensor in the dtype of the base. Arithmetic runs in float32 (or float64 for float64 inputs).

Identities (tested): merging a model with itself returns it; linear with one-hot weights returns that model;
λ = 0 returns the base.

Register your own with `@merge_method("name", params={...})`; `params` describes each parameter's search range
so the SMAC search can sample it. `options` are named choices that are not searched (e.g. DARE's `rescale`): a
recipe may set them, the search leaves them at their default, the first choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from medmix.errors import InputError
from medmix.registry import Registry


@dataclass(frozen=True)
class ParamSpec:
    """A method parameter: a float range, or `per_model` for one value per pool member (weights)."""

    low: float
    high: float
    default: float
    per_model: bool = False
    log: bool = False


@dataclass(frozen=True)
class MergeMethod:
    name: str
    fn: Callable[..., torch.Tensor]
    params: dict[str, ParamSpec] = field(default_factory=dict)
    uses_seed: bool = False
    description: str = ""
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)  # choices, the default first


MERGE_METHODS: Registry[MergeMethod] = Registry("merge method")


def merge_method(name: str, *, params: dict[str, ParamSpec] | None = None, uses_seed: bool = False,
                 options: dict[str, Sequence[str]] | None = None, replace: bool = False):
    """Register `fn(tensors, **params) -> tensor` as a merge method (`options`: non-searched string choices)."""

    def wrap(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        choices = {k: tuple(v) for k, v in (options or {}).items()}
        MERGE_METHODS.add(name, MergeMethod(name, fn, dict(params or {}), uses_seed, doc[0] if doc else "", choices),
                          replace=replace)
        return fn

    return wrap


def _work_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def _check(tensors: Sequence[torch.Tensor], minimum: int = 1) -> None:
    if len(tensors) < minimum:
        raise InputError(f"merge needs at least {minimum} tensors (base first), got {len(tensors)}.")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise InputError(f"model {i} has shape {tuple(t.shape)} but the base has {tuple(shape)}.")


def task_vectors(tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    dtype = _work_dtype(tensors[0])
    base = tensors[0].to(dtype)
    return base, [t.to(dtype) - base for t in tensors[1:]]


def normalised_weights(weights: Sequence[float], n: int) -> list[float]:
    if len(weights) != n:
        raise InputError(f"got {len(weights)} weights for a pool of {n} models (base first).")
    if any(w < 0 or not math.isfinite(w) for w in weights):
        raise InputError(f"weights must be finite and ≥ 0, got {list(weights)}.")
    total = float(sum(weights))
    if total == 0:
        raise InputError("all linear weights are zero: at least one model needs a positive weight.")
    return [w / total for w in weights]


@merge_method("linear", params={"weights": ParamSpec(0.0, 1.0, 1.0, per_model=True)})
def linear(tensors: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Weighted average Σ wi θi over the whole pool (base included), weights normalised to sum 1."""
    _check(tensors)
    w = normalised_weights(weights, len(tensors))
    if all(torch.equal(t, tensors[0]) for t in tensors[1:]):
        return tensors[0].clone()  # the identity bit for bit: Σ wi θ would round (0.5θ + 0.25θ + 0.25θ ≠ θ)
    dtype = _work_dtype(tensors[0])
    out = torch.zeros_like(tensors[0], dtype=dtype)
    for wi, t in zip(w, tensors):
        if wi:
            out.add_(t.to(dtype), alpha=wi)
    return out.to(tensors[0].dtype)


@merge_method("task_arithmetic", params={"lam": ParamSpec(0.0, 1.0, 1.0)})
def task_arithmetic(tensors: Sequence[torch.Tensor], lam: float) -> torch.Tensor:
    """θ0 + λ Σ τi (Ilharco et al. 2023)."""
    _check(tensors)
    base, taus = task_vectors(tensors)
    out = base.clone()
    for tau in taus:
        out.add_(tau, alpha=lam)
    return out.to(tensors[0].dtype)


def fraction_count(fraction: float, n: int) -> int:
    """⌈fraction·n⌉ entries of `n`, with `fraction` in [0, 1] read to 9 decimals first, clipped to [0, n].

    The rounding is why: 1 − 0.7 is 0.30000000000000004, and TIES with drop 0.7 on 10 entries must keep 3, not 4.
    The ceiling is then exact integer arithmetic, so it holds for tensors of any size.
    """
    nano = round(fraction * 10**9)
    return min(n, max(0, -(-nano * n // 10**9)))


def trim_top_k(tau: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the k = ⌈density·n⌉ largest-magnitude entries of `tau` (density read to 9 decimals, see
    `fraction_count`; ties at the threshold are kept), zero the rest. mergekit keeps int(density·n)."""
    if not 0 <= density <= 1:
        raise InputError(f"density must lie in [0, 1], got {density}.")
    n = tau.numel()
    k = fraction_count(density, n)
    if k >= n:
        return tau
    if k == 0:
        return torch.zeros_like(tau)
    magnitude = tau.abs().flatten()
    threshold = torch.kthvalue(magnitude, n - k + 1).values
    return torch.where(tau.abs() >= threshold, tau, torch.zeros_like(tau))


def ties_combine(taus: Sequence[torch.Tensor]) -> torch.Tensor:
    """Elect the sign of Σ τi per entry, then average the entries that agree with it (disjoint mean)."""
    stacked = torch.stack(list(taus))
    elected = torch.sign(stacked.sum(0))
    agree = (torch.sign(stacked) == elected) & (stacked != 0)
    count = agree.sum(0).clamp(min=1)
    return (stacked * agree).sum(0) / count


@merge_method("ties", params={"drop": ParamSpec(0.0, 0.99, 0.2), "lam": ParamSpec(0.0, 1.0, 1.0)})
def ties(tensors: Sequence[torch.Tensor], drop: float, lam: float) -> torch.Tensor:
    """TIES (Yadav et al. 2023): trim each τi to its top (1−drop) magnitudes, elect signs, disjoint mean; θ0 + λ·m."""
    _check(tensors)
    base, taus = task_vectors(tensors)
    return ties_core(base, taus, drop, lam).to(tensors[0].dtype)


def ties_core(base: torch.Tensor, taus: Sequence[torch.Tensor], drop: float, lam: float) -> torch.Tensor:
    """TIES from the base and the task vectors (the in-place engine calls this with device-resident τi)."""
    if not taus:
        return base.clone()
    return base + lam * ties_combine([trim_top_k(t, 1.0 - drop) for t in taus])


DARE_RESCALES = ("inverse", "l1")
_L1_EPS = 1e-7  # mergekit's: below it a norm counts as zero and the survivors are left as they are


def dare_drop(tau: torch.Tensor, drop: float, generator: torch.Generator, rescale: str = "inverse") -> torch.Tensor:
    """Drop each entry with probability `drop` and rescale the survivors.

    rescale "inverse" (default, Yu et al. 2024): by 1/(1−drop), unbiased per entry. "l1" (mergekit's
    `rescale: true`): by ‖τ‖₁ / ‖dropped τ‖₁, so the task vector keeps its L1 norm; no rescale if either norm is
    below 1e-7.
    """
    if not 0 <= drop < 1:
        raise InputError(f"DARE drop rate must lie in [0, 1), got {drop}.")
    if rescale not in DARE_RESCALES:
        raise InputError(f"DARE rescale must be one of {list(DARE_RESCALES)}, got {rescale!r}.")
    if drop == 0:
        return tau
    keep = torch.rand(tau.shape, generator=generator, device=tau.device) >= drop
    if rescale == "inverse":
        return tau * keep / (1.0 - drop)
    masked = tau * keep
    before, after = float(tau.abs().sum()), float(masked.abs().sum())
    if before < _L1_EPS or after < _L1_EPS:
        return masked
    return masked * (before / after)


def _generator(device: torch.device, seed: int) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


@merge_method("dare_linear", params={"drop": ParamSpec(0.0, 0.9, 0.3), "lam": ParamSpec(0.0, 1.0, 1.0)},
              uses_seed=True, options={"rescale": DARE_RESCALES})
def dare_linear(tensors: Sequence[torch.Tensor], drop: float, lam: float, seed: int = 0, rescale: str = "inverse"
                ) -> torch.Tensor:
    """DARE then task arithmetic: θ0 + λ Σ dare(τi); rescale "inverse" (1/(1−drop)) or "l1" (see `dare_drop`)."""
    _check(tensors)
    base, taus = task_vectors(tensors)
    return dare_linear_core(base, taus, drop, lam, seed, rescale).to(tensors[0].dtype)


def dare_linear_core(base: torch.Tensor, taus: Sequence[torch.Tensor], drop: float, lam: float, seed: int,
                     rescale: str = "inverse") -> torch.Tensor:
    gen = _generator(base.device, seed)
    out = base.clone()
    for tau in taus:
        out.add_(dare_drop(tau, drop, gen, rescale), alpha=lam)
    return out


@merge_method("dare_ties", params={"drop": ParamSpec(0.0, 0.9, 0.3), "lam": ParamSpec(0.0, 1.0, 1.0)},
              uses_seed=True, options={"rescale": DARE_RESCALES})
def dare_ties(tensors: Sequence[torch.Tensor], drop: float, lam: float, seed: int = 0, rescale: str = "inverse"
              ) -> torch.Tensor:
    """DARE then TIES sign election and disjoint mean: θ0 + λ·ties(dare(τi)); rescale as in `dare_drop`."""
    _check(tensors)
    base, taus = task_vectors(tensors)
    return dare_ties_core(base, taus, drop, lam, seed, rescale).to(tensors[0].dtype)


def dare_ties_core(base: torch.Tensor, taus: Sequence[torch.Tensor], drop: float, lam: float, seed: int,
                   rescale: str = "inverse") -> torch.Tensor:
    if not taus:
        return base.clone()
    gen = _generator(base.device, seed)
    return base + lam * ties_combine([dare_drop(t, drop, gen, rescale) for t in taus])


def slerp_coefficients(aa: float, bb: float, ab: float, t: float, eps: float = 1e-6) -> tuple[float, float]:
    """Weights (wa, wb) with slerp(a, b, t) = wa·a + wb·b, from the dot products ⟨a,a⟩, ⟨b,b⟩, ⟨a,b⟩.

    Linear weights (1−t, t) when either vector is ~0 or the two are (anti)parallel, where the arc is undefined.
    """
    na, nb = math.sqrt(max(aa, 0.0)), math.sqrt(max(bb, 0.0))
    if na < eps or nb < eps:
        return 1.0 - t, t
    omega = math.acos(min(1.0, max(-1.0, ab / (na * nb))))
    sin = math.sin(omega)
    if abs(sin) < eps:
        return 1.0 - t, t
    return math.sin((1 - t) * omega) / sin, math.sin(t * omega) / sin


def slerp_pair(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation from `a` (t = 0) to `b` (t = 1) of the flattened tensors; linear when collinear."""
    if torch.equal(a, b):
        return a.clone()  # the identity bit for bit, without the rounding of wa·a + wb·b
    a64, b64 = a.double(), b.double()
    wa, wb = slerp_coefficients(float((a64 * a64).sum()), float((b64 * b64).sum()), float((a64 * b64).sum()), t, eps)
    dtype = _work_dtype(a)
    return (wa * a.to(dtype) + wb * b.to(dtype)).to(a.dtype)


def slerp_pick(weights: Sequence[float], n: int) -> tuple[int, int, float] | tuple[int, None, None]:
    """MedSAMix's top-two rule: the two pool members with the largest weights and t from the first to the second."""
    w = normalised_weights(weights, n)
    order = sorted(range(n), key=lambda i: (-w[i], i))
    first, second = order[0], order[1]
    if w[second] == 0:
        return first, None, None
    return first, second, w[second] / (w[first] + w[second])


@merge_method("slerp", params={"weights": ParamSpec(0.0, 1.0, 0.5, per_model=True)})
def slerp(tensors: Sequence[torch.Tensor], weights: Sequence[float] | None = None, t: float | None = None
          ) -> torch.Tensor:
    """SLERP. Two models: interpolate with `t`. More: keep the two with the largest weights (MedSAMix's top-two
    rule) and interpolate between them with t = w_second / (w_first + w_second)."""
    _check(tensors)
    if len(tensors) == 1:
        return tensors[0].clone()
    if t is not None:
        if len(tensors) != 2:
            raise InputError(f"slerp with a single t needs exactly 2 models, got {len(tensors)}; pass weights=.")
        return slerp_pair(tensors[0], tensors[1], float(t))
    first, second, t_pair = slerp_pick(weights if weights is not None else [1.0] * len(tensors), len(tensors))
    if second is None:
        return tensors[first].clone()
    return slerp_pair(tensors[first], tensors[second], t_pair)


def breadcrumbs_mask(tau: torch.Tensor, density: float, gamma: float) -> torch.Tensor:
    """Drop the ⌈gamma·n⌉ largest magnitudes (outliers), keep the next ⌈density·n⌉ (clipped to the n entries),
    zero the rest; both fractions read to 9 decimals (`fraction_count`). mergekit uses int() for both ends.

    gamma + density ≤ 1 is required (to 1e-9, for sums like 0.7 + 0.3 and reparametrised searches).
    """
    if not (0 <= gamma <= 1 and 0 <= density <= 1 and gamma + density <= 1 + 1e-9):
        raise InputError(f"breadcrumbs needs 0 ≤ gamma, density and gamma + density ≤ 1; got {gamma}, {density}.")
    n = tau.numel()
    order = torch.argsort(tau.abs().flatten(), descending=True)
    keep = torch.zeros(n, dtype=torch.bool, device=tau.device)
    lo = fraction_count(gamma, n)
    hi = min(n, lo + fraction_count(density, n))
    keep[order[lo:hi]] = True
    return tau * keep.view_as(tau)


@merge_method("breadcrumbs", params={"density": ParamSpec(0.0, 0.99, 0.9), "gamma": ParamSpec(0.0, 0.1, 0.01),
                                     "lam": ParamSpec(0.0, 1.0, 1.0)})
def breadcrumbs(tensors: Sequence[torch.Tensor], density: float, gamma: float, lam: float) -> torch.Tensor:
    """Model Breadcrumbs (Davari & Belilovsky 2024): drop the largest and smallest magnitudes of τi, then θ0 + λ Σ."""
    _check(tensors)
    base, taus = task_vectors(tensors)
    return breadcrumbs_core(base, taus, density, gamma, lam).to(tensors[0].dtype)


def breadcrumbs_core(base: torch.Tensor, taus: Sequence[torch.Tensor], density: float, gamma: float, lam: float
                     ) -> torch.Tensor:
    out = base.clone()
    for tau in taus:
        out.add_(breadcrumbs_mask(tau, density, gamma), alpha=lam)
    return out


def get_method(name: str) -> MergeMethod:
    return MERGE_METHODS.get(name)

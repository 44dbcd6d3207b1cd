"""The search's hot loop: write a recipe's merged weights in place into one live model.

The pool is moved to the device once (base θ0 and task vectors τi = θi − θ0, in float32); each trial writes
into the live model's own parameter tensors: no disk reads, no deep copies, no model rebuilt. Linear, task
arithmetic and SLERP are all θ0·s + Σ ci·τi with per-tensor scalars, done with fused multi-tensor
(`torch._foreach_*`) kernels per unit; SLERP's coefficients come from dot products precomputed once per tensor.
TIES, DARE and breadcrumbs run their pure cores (`medmix.merging.methods`) per tensor on the device tensors.
The result equals the reference `merge_state_dict` up to float32 rounding (tested); DARE draws from the
device's generator, so its drops match the reference only on the same device.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from medmix.errors import InputError
from medmix.merging import methods as M
from medmix.merging.pool import MergePool
from medmix.merging.recipe import UnitRecipe, tensor_seed
from medmix.merging.units import UnitScheme, assign_units

FUSED = {"linear", "task_arithmetic", "slerp"}


class InPlaceMerger:
    """Holds the pool on `device` and writes merges into `targets` (the live model's tensors, by key)."""

    def __init__(self, pool: MergePool, scheme: UnitScheme, targets: Mapping[str, torch.Tensor],
                 device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else next(iter(targets.values())).device
        assignment = assign_units(pool.base.keys(), scheme)
        missing = [k for k in pool.mergeable if k not in targets]
        if missing:
            raise InputError(f"the live model has no tensor for {len(missing)} pool keys, e.g. {missing[0]}.")
        self.units = {u: [k for k in keys if k in pool.mergeable] for u, keys in assignment.keys.items()}
        self.n_models = len(pool.members)
        self.targets = {k: targets[k] for keys in self.units.values() for k in keys}
        with torch.no_grad():
            self.base = {k: pool.base[k].to(self.device, torch.float32) for k in self.targets}
            self.taus = [{k: m.state[k].to(self.device, torch.float32) - self.base[k] for k in self.targets}
                         for m in pool.members[1:]]
            # Copy the non-merged tensors (excluded buffers, integers) from the base once.
            for key in assignment.excluded:
                if key in targets:
                    targets[key].copy_(pool.base[key].to(targets[key].device, targets[key].dtype))
        self._gram: dict[str, list[list[float]]] = {}

    def _thetas(self, key: str) -> list[torch.Tensor]:
        return [self.base[key]] + [self.base[key] + tau[key] for tau in self.taus]

    def gram(self, key: str) -> list[list[float]]:
        """⟨θi, θj⟩ for the whole pool (float64), computed once per tensor for SLERP."""
        if key not in self._gram:
            flat = torch.stack([t.flatten().double() for t in self._thetas(key)])
            self._gram[key] = (flat @ flat.T).tolist()
        return self._gram[key]

    @torch.no_grad()
    def apply(self, unit_recipes: Mapping[str, UnitRecipe], seed: int = 0) -> None:
        """Write the merge for every unit; units missing from `unit_recipes` are an error."""
        for unit, keys in self.units.items():
            if not keys:
                continue
            if unit not in unit_recipes:
                raise InputError(f"no recipe for unit {unit!r}.")
            self._apply_unit(keys, unit_recipes[unit], seed)

    def _apply_unit(self, keys: list[str], spec: UnitRecipe, seed: int) -> None:
        params = dict(spec.params)
        if spec.method in FUSED:
            scale, coefs = self._coefficients(keys, spec.method, params)
            self._fused(keys, scale, coefs)
            return
        method = M.MERGE_METHODS.get(spec.method)
        base_seed = int(params.pop("seed", seed))
        for key in keys:
            taus = [tau[key] for tau in self.taus]
            if spec.method == "ties":
                out = M.ties_core(self.base[key], taus, **params)
            elif spec.method == "dare_linear":
                out = M.dare_linear_core(self.base[key], taus, seed=tensor_seed(base_seed, key), **params)
            elif spec.method == "dare_ties":
                out = M.dare_ties_core(self.base[key], taus, seed=tensor_seed(base_seed, key), **params)
            elif spec.method == "breadcrumbs":
                out = M.breadcrumbs_core(self.base[key], taus, **params)
            else:  # a user-registered method: its pure function on the full tensors
                extra = {"seed": tensor_seed(base_seed, key)} if method.uses_seed else {}
                out = method.fn(self._thetas(key), **params, **extra)
            self.targets[key].copy_(out)

    def _coefficients(self, keys: list[str], method: str, params: dict) -> tuple[list[float], list[list[float]]]:
        """Per-tensor scale of θ0 and coefficient of each τi: merged = scale·θ0 + Σ coef_i·τi."""
        n = self.n_models
        if method == "linear":
            w = M.normalised_weights(params["weights"], n)
            return [1.0] * len(keys), [[w[i]] * len(keys) for i in range(1, n)]
        if method == "task_arithmetic":
            return [1.0] * len(keys), [[params["lam"]] * len(keys) for _ in range(1, n)]
        # SLERP between pool members a and b: wa·θa + wb·θb = (wa + wb)·θ0 + wa·τa + wb·τb (τ0 = 0).
        if "t" in params and params["t"] is not None:
            if n != 2:
                raise InputError(f"slerp with a single t needs a pool of 2 models, got {n}; pass weights=.")
            a, b, t = 0, 1, float(params["t"])
        else:
            a, b, t = M.slerp_pick(params.get("weights") or [1.0] * n, n)
        scale, coefs = [], [[0.0] * len(keys) for _ in range(1, n)]
        for j, key in enumerate(keys):
            if b is None:
                wa, wb = 1.0, 0.0
                b_index = a
            else:
                g = self.gram(key)
                wa, wb = M.slerp_coefficients(g[a][a], g[b][b], g[a][b], t)
                b_index = b
            scale.append(wa + wb)
            if a > 0:
                coefs[a - 1][j] += wa
            if b_index > 0 and b is not None:
                coefs[b_index - 1][j] += wb
        return scale, coefs

    def _fused(self, keys: list[str], scale: list[float], coefs: list[list[float]]) -> None:
        targets = [self.targets[k] for k in keys]
        torch._foreach_copy_(targets, [self.base[k] for k in keys])
        if any(s != 1.0 for s in scale):
            torch._foreach_mul_(targets, scale)
        for i, c in enumerate(coefs):
            if all(v == 0.0 for v in c):
                continue
            taus = [self.taus[i][k] for k in keys]
            if all(v == c[0] for v in c):
                torch._foreach_add_(targets, taus, alpha=c[0])
            else:
                torch._foreach_add_(targets, torch._foreach_mul(taus, c))


def live_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's parameters and persistent buffers by state-dict key, as the tensors the model computes with."""
    out = {name: p.data for name, p in model.named_parameters()}
    for name, buf in model.named_buffers():
        if name in model.state_dict():
            out[name] = buf
    return out

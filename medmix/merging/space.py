"""The search space over merge recipes, as a ConfigSpace, and the warm-start configurations.

Two modes:
- "per_unit_method" (MedSAMix): per unit a categorical method and that method's parameters, active only when
  the method is chosen (for 3 models at granularity 2 with linear / task_arithmetic / ties / slerp: 190
  hyper-parameters, as in the paper);
- "fixed_method": one method everywhere, its parameters per unit.
Hyper-parameter names: "<unit>.method", "<unit>.<method>.<param>" and "<unit>.<method>.<param>_<i>" for
per-model parameters (weights). Units whose models all equal the base (e.g. MedSAM's frozen prompt encoder) are
not searched: they are pinned to the base.

Breadcrumbs is reparametrised so every sampled configuration is valid: it needs gamma + density ≤ 1, which
independent ranges (density ∈ [0, 0.99], gamma ∈ [0, 0.1]) break in ≈4 % of units, so in most trials of a
fine-grained search. The space samples gamma and "<unit>.breadcrumbs.density_share" in density's range, and
density = density_share · (1 − gamma) ≤ 0.99·(1 − gamma). A reparametrisation rather than ConfigSpace forbidden
clauses, which sit awkwardly on conditional (per_unit_method) hyper-parameters. Recipes keep density and gamma.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medmix.errors import ConfigError
from medmix.merging.methods import MERGE_METHODS
from medmix.merging.recipe import UnitRecipe

DEFAULT_METHODS = ("linear", "task_arithmetic", "ties", "slerp")
SWEEP_LAMBDAS = (0.3, 0.5, 0.6, 0.7, 0.8, 1.0)  # MedSAMix's initial design
SLERP_TS = (0.3, 0.5, 0.7)


@dataclass(frozen=True)
class Share:
    """Parameter `param` searched as `share` of what `other` leaves: param = share · (1 − other)."""

    param: str
    other: str
    share: str


# Methods whose parameters must fit together (see the module docstring).
SHARES = {"breadcrumbs": Share("density", "gamma", "density_share")}


@dataclass
class SearchSpace:
    units: list[str]  # searched units
    pinned: list[str]  # units fixed to the base
    n_models: int
    methods: tuple[str, ...]
    mode: str = "per_unit_method"

    def __post_init__(self):
        if self.mode not in ("per_unit_method", "fixed_method"):
            raise ConfigError(f"search.mode: expected 'per_unit_method' or 'fixed_method', got {self.mode!r}.")
        for m in self.methods:
            MERGE_METHODS.get(m)
        if self.mode == "fixed_method" and len(self.methods) != 1:
            raise ConfigError(f"search.mode fixed_method needs exactly one method, got {list(self.methods)}.")
        if not self.units:
            raise ConfigError("nothing to search: every unit is identical across the pool.")

    def configspace(self, seed: int = 0):
        from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition

        cs = ConfigurationSpace(seed=seed)
        for unit in self.units:
            method_hp = None
            if self.mode == "per_unit_method":
                method_hp = Categorical(f"{unit}.method", list(self.methods), default=self.methods[0])
                cs.add(method_hp)
            for method in self.methods:
                for hp in self._method_hps(unit, method):
                    cs.add(hp)
                    if method_hp is not None:
                        cs.add(EqualsCondition(hp, method_hp, method))
        return cs

    def _method_hps(self, unit: str, method: str):
        from ConfigSpace import Float

        spec = MERGE_METHODS.get(method)
        share = SHARES.get(method)
        for name, p in spec.params.items():
            names = [f"{unit}.{method}.{name}_{i}" for i in range(self.n_models)] if p.per_model else \
                [f"{unit}.{method}.{name}"]
            default = min(max(p.default, p.low), p.high)
            if share is not None and name == share.param:
                names = [f"{unit}.{method}.{share.share}"]
                default = min(max(p.default / (1.0 - spec.params[share.other].default), p.low), p.high)
            for hp_name in names:
                yield Float(hp_name, (p.low, p.high), default=default, log=p.log)

    def unit_recipes(self, config) -> dict[str, UnitRecipe]:
        """The per-unit recipes a configuration stands for (pinned units: the base)."""
        values = dict(config)
        out = {u: base_recipe(self.n_models) for u in self.pinned}
        for unit in self.units:
            method = values[f"{unit}.method"] if self.mode == "per_unit_method" else self.methods[0]
            share = SHARES.get(method)
            params = {}
            for name, p in MERGE_METHODS.get(method).params.items():
                if p.per_model:
                    params[name] = [float(values[f"{unit}.{method}.{name}_{i}"]) for i in range(self.n_models)]
                elif share is not None and name == share.param:
                    params[name] = float(values[f"{unit}.{method}.{share.share}"]) * (
                        1.0 - float(values[f"{unit}.{method}.{share.other}"]))
                else:
                    params[name] = float(values[f"{unit}.{method}.{name}"])
            if method in ("linear", "slerp") and sum(params["weights"]) == 0:
                params["weights"] = [1.0] + [0.0] * (self.n_models - 1)  # all-zero weights: fall back to the base
            out[unit] = UnitRecipe(method, params)
        return out

    def config_values(self, per_unit: dict[str, UnitRecipe]) -> dict:
        """Hyper-parameter values encoding `per_unit` (the inverse of `unit_recipes` on searched units)."""
        values = {}
        for unit in self.units:
            recipe = per_unit[unit]
            if self.mode == "per_unit_method":
                values[f"{unit}.method"] = recipe.method
            share = SHARES.get(recipe.method)
            for name, p in MERGE_METHODS.get(recipe.method).params.items():
                if p.per_model:
                    for i, v in enumerate(recipe.params[name]):
                        values[f"{unit}.{recipe.method}.{name}_{i}"] = float(v)
                elif share is not None and name == share.param:
                    values[f"{unit}.{recipe.method}.{share.share}"] = _share_value(
                        recipe, share, (p.low, p.high), unit)
                else:
                    values[f"{unit}.{recipe.method}.{name}"] = float(recipe.params[name])
        return values

    def warm_start(self) -> list[dict]:
        """Each pure model, TA/TIES λ sweeps, SLERP midpoints (those the space can express), deduplicated."""
        n = self.n_models
        candidates: list[UnitRecipe] = []
        if "linear" in self.methods:
            for i in range(n):
                candidates.append(UnitRecipe("linear", {"weights": [1.0 if j == i else 0.0 for j in range(n)]}))
        elif "slerp" in self.methods:
            for i in range(n):
                candidates.append(UnitRecipe("slerp", {"weights": [1.0 if j == i else 0.0 for j in range(n)]}))
        if "task_arithmetic" in self.methods:
            # λ = 0 is the base, already in the design when linear (or slerp) can express pure models.
            lams = SWEEP_LAMBDAS if {"linear", "slerp"} & set(self.methods) else (0.0, *SWEEP_LAMBDAS)
            candidates += [UnitRecipe("task_arithmetic", {"lam": lam}) for lam in lams]
        if "ties" in self.methods:
            candidates += [UnitRecipe("ties", {"drop": 0.2, "lam": lam}) for lam in SWEEP_LAMBDAS]
        if "slerp" in self.methods:
            for i in range(1, n):
                for t in SLERP_TS:
                    w = [0.0] * n
                    w[0], w[i] = 1.0 - t, t
                    candidates.append(UnitRecipe("slerp", {"weights": w}))
        out, seen = [], set()
        for recipe in candidates:
            values = self.config_values({u: recipe for u in self.units})
            key = tuple(sorted(values.items()))
            if key not in seen:
                seen.add(key)
                out.append(values)
        return out


def _share_value(recipe: UnitRecipe, share: Share, bounds: tuple[float, float], unit: str) -> float:
    """The searched share that gives `recipe`'s parameter (inverse of `param = share · (1 − other)`)."""
    value, other = float(recipe.params[share.param]), float(recipe.params[share.other])
    x = value / (1.0 - other) if other < 1 else 0.0
    low, high = bounds
    if not low - 1e-9 <= x <= high + 1e-9:
        raise ConfigError(f"unit {unit!r}: {recipe.method} with {share.param}={value}, {share.other}={other} is "
                          f"outside the search space ({share.param} ≤ {high}·(1 − {share.other})).")
    return min(max(x, low), high)  # the division may land one ulp outside the range


def base_recipe(n_models: int) -> UnitRecipe:
    return UnitRecipe("linear", {"weights": [1.0] + [0.0] * (n_models - 1)})


def searched_units(distance_report: Sequence, search_identical: bool = False) -> tuple[list[str], list[str]]:
    units = [r.unit for r in distance_report if search_identical or not r.identical]
    pinned = [r.unit for r in distance_report if not search_identical and r.identical]
    return units, pinned

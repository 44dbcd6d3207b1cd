"""Merge recipes: per unit a method and its parameters, plus the pool and the merged model's preprocessing.

YAML format (documented in the README):

    arch: vit_b                      # vit_b | vit_l | vit_h | tiny | litemedsam
    pool:                            # base first
      - {name: sam, path: checkpoints/sam_vit_b_01ec64.pth}
      - {name: medsam, path: checkpoints/medsam_vit_b.pth}
    units: {scheme: medsamix, granularity: 2}     # or {units: {name: [patterns]}, exclude: [patterns]}
    default: {method: linear, weights: [1.0, 0.0]}  # units not listed below
    recipe:
      encoder_blocks_0_1: {method: ties, drop: 0.2, lam: 0.8}
      decoder_iou_head: {method: slerp, weights: [0.3, 0.7]}
    preprocessing: {kind: medsam}    # of the merged model (optional: the arch's default)
    seed: 0                          # DARE's random drops

Parameters are numbers, except a method's named options (not searched): DARE's `rescale: inverse | l1`
(1/(1−drop), the default, or mergekit's L1-norm-preserving rescale).

`merge_state_dict` is the reference implementation (one pure method call per tensor); the search's in-place
engine (`medmix.merging.engine`) must give the same weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medmix.errors import ConfigError, UnknownNameError
from medmix.merging.methods import MERGE_METHODS
from medmix.merging.units import UnitScheme, assign_units, get_scheme, scheme_from_config

ARCH_DEPTHS = {"vit_b": 12, "vit_l": 24, "vit_h": 32, "tiny": 2}


@dataclass(frozen=True)
class UnitRecipe:
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **self.params}


@dataclass
class MergeRecipe:
    arch: str
    pool: list[dict[str, str]]
    units: dict[str, Any]
    default: UnitRecipe
    recipe: dict[str, UnitRecipe] = field(default_factory=dict)
    preprocessing: dict | None = None
    seed: int = 0
    base_dir: Path | None = None  # relative pool paths resolve against the recipe file's folder

    def scheme(self) -> UnitScheme:
        return scheme_for(self.units, self.arch)

    def pool_entries(self) -> list[tuple[str, Path]]:
        out = []
        for member in self.pool:
            path = Path(member["path"]).expanduser()
            if not path.is_absolute() and self.base_dir is not None:
                path = self.base_dir / path
            out.append((member["name"], path))
        return out

    def for_unit(self, unit: str) -> UnitRecipe:
        return self.recipe.get(unit, self.default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"arch": self.arch, "pool": [dict(m) for m in self.pool], "units": dict(self.units),
                               "default": self.default.to_dict(),
                               "recipe": {u: r.to_dict() for u, r in self.recipe.items()}, "seed": self.seed}
        if self.preprocessing is not None:
            out["preprocessing"] = dict(self.preprocessing)
        return out

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml())


def scheme_for(units: Mapping[str, Any], arch: str) -> UnitScheme:
    if "scheme" in units:
        extra = set(units) - {"scheme", "granularity"}
        if extra:
            raise ConfigError(f"units: unknown keys {sorted(extra)} next to 'scheme' (allowed: granularity).")
        depth = ARCH_DEPTHS.get(arch, 12)
        return get_scheme(units["scheme"], depth=depth, granularity=int(units.get("granularity", 2)))
    return scheme_from_config(units, where="units")


def _unit_recipe(value: Any, where: str, n_models: int) -> UnitRecipe:
    if not isinstance(value, Mapping) or "method" not in value:
        raise ConfigError(f"{where}: expected a mapping with 'method' and its parameters, got {value!r}.")
    name = value["method"]
    try:
        method = MERGE_METHODS.get(name)
    except UnknownNameError as exc:
        raise ConfigError(f"{where}.method: {exc}") from None
    params = {k: v for k, v in value.items() if k != "method"}
    allowed = (set(method.params) | set(method.options) | ({"seed"} if method.uses_seed else set())
               | ({"t"} if name == "slerp" else set()))
    unknown = set(params) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {sorted(unknown)} for {name}; allowed: {sorted(allowed)}.")
    for oname, choices in method.options.items():  # named choices, not numbers (e.g. DARE's rescale)
        if oname in params and params[oname] not in choices:
            raise ConfigError(f"{where}.{oname}: expected one of {list(choices)} for {name}, got {params[oname]!r}.")
    for pname, spec in method.params.items():
        if pname not in params:
            if name == "slerp" and "t" in params:
                continue
            raise ConfigError(f"{where}: missing parameter {pname!r} for {name}.")
        value_p = params[pname]
        if spec.per_model:
            if not isinstance(value_p, (list, tuple)) or len(value_p) != n_models:
                raise ConfigError(f"{where}.{pname}: expected one value per pool member ({n_models}), got {value_p!r}.")
            if not all(isinstance(v, (int, float)) for v in value_p):
                raise ConfigError(f"{where}.{pname}: expected numbers, got {value_p!r}.")
            params[pname] = [float(v) for v in value_p]
        else:
            if not isinstance(value_p, (int, float)) or isinstance(value_p, bool):
                raise ConfigError(f"{where}.{pname}: expected a number, got {value_p!r}.")
            params[pname] = float(value_p)
    return UnitRecipe(name, params)


def validate_pool_entries(pool: Any, where: str) -> list[dict[str, str]]:
    """A pool section: a list of at least two {name, path} mappings, base first."""
    if not isinstance(pool, list) or len(pool) < 2:
        raise ConfigError(f"{where}: expected a list of at least 2 members (base first), each {{name, path}}.")
    for i, member in enumerate(pool):
        if not isinstance(member, Mapping) or set(member) != {"name", "path"}:
            raise ConfigError(f"{where}[{i}]: expected {{name: …, path: …}}, got {member!r}.")
    return [{"name": str(m["name"]), "path": str(m["path"])} for m in pool]


def recipe_from_dict(data: Mapping[str, Any], *, where: str = "recipe", base_dir: Path | None = None) -> MergeRecipe:
    """Validate a recipe mapping (unknown keys refused with the field path)."""
    allowed = {"arch", "pool", "units", "default", "recipe", "preprocessing", "seed"}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}.")
    unknown = set(data) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}.")
    for key in ("arch", "pool", "default"):
        if key not in data:
            raise ConfigError(f"{where}.{key}: required.")
    pool = validate_pool_entries(data["pool"], f"{where}.pool")
    n = len(pool)
    units = data.get("units", {"scheme": "medsamix", "granularity": 2})
    recipe = {str(u): _unit_recipe(r, f"{where}.recipe.{u}", n) for u, r in (data.get("recipe") or {}).items()}
    out = MergeRecipe(str(data["arch"]), [dict(m) for m in pool], dict(units),
                      _unit_recipe(data["default"], f"{where}.default", n), recipe,
                      dict(data["preprocessing"]) if data.get("preprocessing") else None, int(data.get("seed", 0)),
                      base_dir)
    scheme = out.scheme()
    names = {u.name for u in scheme.units}
    stray = [u for u in recipe if u not in names]
    if stray:
        raise UnknownNameError(f"unit of scheme {scheme.name}", stray[0], names)
    return out


def load_recipe(path: str | Path) -> MergeRecipe:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"recipe {str(path)!r}: no such file.")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc}).") from exc
    return recipe_from_dict(data, where=str(p), base_dir=p.parent.resolve())


def tensor_seed(seed: int, key: str) -> int:
    """A stable per-tensor seed, so DARE's drops depend neither on unit order nor on which engine merges."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:4], "little")


def merge_state_dict(pool, recipe: MergeRecipe) -> dict[str, torch.Tensor]:
    """Reference merge: each tensor through its unit's pure method; excluded and integer tensors from the base."""
    assignment = assign_units(pool.base.keys(), recipe.scheme())
    merged = {k: v.clone() for k, v in pool.base.items()}
    for unit, keys in assignment.keys.items():
        spec = recipe.for_unit(unit)
        method = MERGE_METHODS.get(spec.method)
        params = dict(spec.params)
        base_seed = int(params.pop("seed", recipe.seed))
        for key in keys:
            if key in pool.mergeable:
                if method.uses_seed:
                    params["seed"] = tensor_seed(base_seed, key)
                merged[key] = method.fn(pool.tensors(key), **params)
    return merged

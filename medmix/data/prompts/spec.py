"""Which prompts a task's slices get: `PromptSpec`, read from a card's `prompt:` block, a mapping or the CLI's
`--prompt KIND[:key=value,...]`.

Kinds and the options each takes (anything else is refused with the field's path):

- `tight_box`: one tight box per slice (or per connected component with `per_component`).
- `jittered_box`: the tight box perturbed by `jitter` (required; `medmix.data.prompts.boxes`).
- `medsamix_jitter`: MedSAMix's fundus jitter, bit for bit (2-D only).
- `center_point`: one positive point per slice (or component): the foreground pixel farthest from the background.
- `random_points`: `positive` (default 1) points drawn uniformly from the foreground and `negative` (default 0)
  from a band of `band_px` (default 5) pixels around it, seeded per (seed, case, slice).
- `box_and_point`: the tight (or, with `jitter`, jittered) box plus the centre point, one object.
- `iterative`: start from a box (`start: box`, the default; `jitter` optional) or the centre point (`start:
  point`), then `rounds` (default 5) corrective clicks by RITM's rule (`medmix.data.prompts.clicks`), each
  prediction fed the previous low-resolution logits as SAM's `mask_input` (`mask_input: true`); clicks continue
  past `rounds`, up to `noc_cap` (default 20), only for NoC@85/90. One object per slice (`per_component` is
  refused: a corrective click has no object to belong to).

`to_dict` writes only the options of the spec's kind, so box specs keep the form (and run fingerprints) they had.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from medmix.errors import ConfigError, InputError, close_match_hint

PROMPT_KINDS = ("tight_box", "jittered_box", "medsamix_jitter", "center_point", "random_points", "box_and_point",
                "iterative")
BOX_KINDS = ("tight_box", "jittered_box", "medsamix_jitter")
POINT_KINDS = ("center_point", "random_points", "box_and_point", "iterative")
ITERATIVE_STARTS = ("box", "point")
MEDSAMIX_JITTER_SEED = 42  # MedSAMix config/MultiTask_run.yaml random_seed
DEFAULT_ROUNDS = 5
DEFAULT_NOC_CAP = 20

# The options each kind accepts beyond kind / seed.
_KIND_KEYS = {
    "tight_box": ("per_component",),
    "jittered_box": ("per_component", "jitter"),
    "medsamix_jitter": (),
    "center_point": ("per_component",),
    "random_points": ("per_component", "positive", "negative", "band_px"),
    "box_and_point": ("per_component", "jitter"),
    "iterative": ("start", "rounds", "noc_cap", "mask_input", "jitter"),
}
_ALL_KEYS = ("kind", "seed", "per_component", "jitter", "positive", "negative", "band_px", "start", "rounds",
             "noc_cap", "mask_input")
_JITTER_KEYS = ("shift_px", "shift_frac", "scale_frac")


@dataclass(frozen=True)
class JitterSpec:
    """Random box perturbation: centre shift (`shift_px` in pixels or `shift_frac` of the box size, each [lo, hi]
    with 0 ≤ lo ≤ hi; at most one of the two) and size scaling (`scale_frac` [lo, hi], lo > −1)."""

    shift_px: tuple[float, float] | None = None
    shift_frac: tuple[float, float] | None = None
    scale_frac: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        if self.shift_px is not None and self.shift_frac is not None:
            raise ConfigError("prompt.jitter: give shift_px or shift_frac, not both.")
        for name in _JITTER_KEYS:
            value = getattr(self, name)
            if value is None:
                continue
            pair = _pair(value, f"prompt.jitter.{name}")
            object.__setattr__(self, name, pair)
            lo, hi = pair
            if name != "scale_frac" and lo < 0:
                raise ConfigError(f"prompt.jitter.{name}: magnitudes must be ≥ 0 (the sign is random), got {pair}.")
            if name == "scale_frac" and lo <= -1:
                raise ConfigError(f"prompt.jitter.scale_frac: lo must be > -1 (a box cannot shrink to nothing), "
                                  f"got {pair}.")

    def to_dict(self) -> dict:
        out: dict = {}
        if self.shift_px is not None:
            out["shift_px"] = list(self.shift_px)
        if self.shift_frac is not None:
            out["shift_frac"] = list(self.shift_frac)
        out["scale_frac"] = list(self.scale_frac)
        return out


@dataclass(frozen=True)
class PromptSpec:
    """The prompts of a task (see the module docstring for each kind's options)."""

    kind: str = "tight_box"
    per_component: bool = False
    jitter: JitterSpec | None = None
    seed: int = 0
    positive: int = 1
    negative: int = 0
    band_px: int = 5
    start: str = "box"
    rounds: int = DEFAULT_ROUNDS
    noc_cap: int = DEFAULT_NOC_CAP
    mask_input: bool = True

    def __post_init__(self):
        if self.kind not in PROMPT_KINDS:
            raise ConfigError(_unknown("prompt.kind", self.kind, PROMPT_KINDS))
        if not isinstance(self.per_component, bool):
            raise ConfigError(f"prompt.per_component: expected true or false, got {self.per_component!r}.")
        if not isinstance(self.mask_input, bool):
            raise ConfigError(f"prompt.mask_input: expected true or false, got {self.mask_input!r}.")
        _count(self.seed, "prompt.seed", 0)
        _count(self.positive, "prompt.positive", 0)
        _count(self.negative, "prompt.negative", 0)
        _count(self.band_px, "prompt.band_px", 1)
        _count(self.rounds, "prompt.rounds", 0)
        _count(self.noc_cap, "prompt.noc_cap", 1)
        if self.kind == "random_points" and self.positive + self.negative == 0:
            raise ConfigError("prompt.positive / prompt.negative: random_points needs at least one point.")
        if self.kind == "random_points" and self.positive == 0:
            raise ConfigError("prompt.positive: random_points needs at least one positive point (negative points "
                              "alone do not say which object is meant).")
        if self.start not in ITERATIVE_STARTS:
            raise ConfigError(_unknown("prompt.start", self.start, ITERATIVE_STARTS))
        if self.kind == "jittered_box" and self.jitter is None:
            raise ConfigError("prompt.jitter: kind 'jittered_box' needs a jitter block (shift_px or shift_frac, "
                              "scale_frac; on the command line e.g. jittered_box:shift_px=0..10).")
        if self.jitter is not None and "jitter" not in _KIND_KEYS[self.kind]:
            raise ConfigError(f"prompt.jitter: given, but kind {self.kind!r} takes no box jitter; use jittered_box, "
                              "box_and_point or iterative (start: box), or remove it.")
        if self.kind == "iterative" and self.jitter is not None and self.start != "box":
            raise ConfigError("prompt.jitter: an iterative run that starts from a point has no box to jitter.")
        if self.per_component and "per_component" not in _KIND_KEYS[self.kind]:
            if self.kind == "medsamix_jitter":
                raise ConfigError("prompt.per_component: MedSAMix's jitter boxes the whole foreground of an image; "
                                  "set per_component: false.")
            raise ConfigError("prompt.per_component: iterative clicks correct the slice's whole prediction; an "
                              "iterative run prompts one object per slice (set per_component: false).")

    @property
    def uses_points(self) -> bool:
        """Whether some prompt of this spec holds points (models trained with boxes only get flagged)."""
        return self.kind in ("center_point", "random_points", "box_and_point") or (
            self.kind == "iterative" and (self.start == "point" or self.rounds > 0))

    @property
    def interactive(self) -> bool:
        return self.kind == "iterative"

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        keys = _KIND_KEYS[self.kind]
        if "per_component" in keys:
            out["per_component"] = self.per_component
        elif self.kind == "medsamix_jitter":
            out["per_component"] = False
        out["seed"] = int(self.seed)
        for key in ("positive", "negative", "band_px", "start", "rounds", "noc_cap", "mask_input"):
            if key in keys:
                out[key] = getattr(self, key)
        if self.jitter is not None:
            out["jitter"] = self.jitter.to_dict()
        return out

    def label(self) -> str:
        """A short name for tables and plots, e.g. "iterative:start=box,rounds=5"."""
        from dataclasses import fields

        defaults = {f.name: f.default for f in fields(PromptSpec)}
        parts = [f"{k}={_text(v)}" for k, v in self.to_dict().items()
                 if k not in ("kind", "seed", "jitter") and defaults.get(k) != v]
        if self.jitter is not None:
            parts += [f"{k}={_text(v)}" for k, v in self.jitter.to_dict().items() if v != [0.0, 0.0]]
        return self.kind + (":" + ",".join(parts) if parts else "")


def as_prompt_spec(spec: PromptSpec | Mapping | str | None, *, where: str = "prompt") -> PromptSpec:
    """A `PromptSpec` from itself, its mapping form, a CLI string ("iterative:rounds=3") or None (tight boxes)."""
    if spec is None:
        return PromptSpec()
    if isinstance(spec, PromptSpec):
        return spec
    if isinstance(spec, str):
        return parse_prompt_text(spec, where=where)
    if isinstance(spec, Mapping):
        return parse_prompt_mapping(spec, where=where)
    raise InputError(f"{where}: expected a PromptSpec, a mapping or text, got {type(spec).__name__}.")


def parse_prompt_mapping(value: Mapping, *, where: str = "prompt", file: str | None = None) -> PromptSpec:
    """A card's `prompt:` block → `PromptSpec`; errors name `file` (when given) and the field path."""
    prefix = f"{file}: " if file else ""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{prefix}{where}: expected a mapping (key: value fields), got {type(value).__name__} "
                          f"{value!r}.")
    data = dict(value)
    kind = data.get("kind", "tight_box")
    if kind not in PROMPT_KINDS:
        raise ConfigError(prefix + _unknown(f"{where}.kind", kind, PROMPT_KINDS))
    allowed = ("kind", "seed") + _KIND_KEYS[kind]
    for key in data:
        if key not in allowed:
            hint = close_match_hint(key, allowed)
            also = f" ({key!r} belongs to kind {_owner(key)})" if key in _ALL_KEYS else ""
            raise ConfigError(f"{prefix}{where}: unknown key {key!r}{hint}{also}. Allowed keys for kind {kind!r}: "
                              f"{', '.join(allowed)}.")
    if "seed" not in data and kind == "medsamix_jitter":
        data["seed"] = MEDSAMIX_JITTER_SEED
    jitter = data.pop("jitter", None)
    try:
        if jitter is not None:
            if not isinstance(jitter, Mapping):
                raise ConfigError(f"{where}.jitter: expected a mapping, e.g. {{shift_px: [0, 10]}}, got {jitter!r}.")
            for key in jitter:
                if key not in _JITTER_KEYS:
                    raise ConfigError(f"{where}.jitter: unknown key {key!r}{close_match_hint(key, _JITTER_KEYS)}. Allowed "
                                      f"keys: {', '.join(_JITTER_KEYS)}.")
            jitter = JitterSpec(**dict(jitter))
        return PromptSpec(jitter=jitter, **data)
    except ConfigError as exc:
        text = str(exc)
        if where != "prompt" and text.startswith("prompt"):
            text = where + text[len("prompt"):]
        raise ConfigError(prefix + text) from None


def parse_prompt_text(text: str, *, where: str = "--prompt") -> PromptSpec:
    """`KIND[:key=value,...]` → `PromptSpec`. Numbers and true/false are typed; a jitter range is `lo..hi` or
    one number (lo = hi), e.g. "jittered_box:shift_px=5", "iterative:start=point,rounds=3",
    "random_points:positive=3,negative=1,seed=7", "box_and_point:shift_px=0..10,scale_frac=-0.1..0.1"."""
    try:
        return parse_prompt_mapping(prompt_text_mapping(text, where=where))
    except ConfigError as exc:  # "prompt.rounds: …" reads "--prompt rounds: …" on the command line
        message = str(exc)
        for head, new in (("prompt.", f"{where} "), ("prompt:", f"{where}:")):
            if message.startswith(head):
                message = new + message[len(head):]
        raise ConfigError(message) from None


def prompt_text_mapping(text: str, *, where: str = "--prompt") -> dict:
    """`KIND[:key=value,...]` as the mapping form, not yet validated (a sweep sets a jitter level on it)."""
    kind, _, rest = str(text).strip().partition(":")
    data: dict = {"kind": kind.strip()}
    jitter: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"{where}: expected key=value after the kind, got {item!r} (e.g. "
                              "'iterative:rounds=3').")
        if key in data or key in jitter:
            raise ConfigError(f"{where}: {key!r} is given twice.")
        if key in _JITTER_KEYS:
            jitter[key] = _range(raw.strip(), f"{where} {key}")
        else:
            data[key] = _scalar(raw.strip())
    if jitter:
        data["jitter"] = jitter
    return data


def _owner(key: str) -> str:
    kinds = [k for k, keys in _KIND_KEYS.items() if key in keys]
    return " or ".join(kinds) if kinds else "any"


def _unknown(where: str, value, choices: Sequence[str]) -> str:
    return f"{where}: expected one of {', '.join(choices)}, got {value!r}{close_match_hint(value, choices)}."


def _count(value, where: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{where}: expected an integer ≥ {minimum}, got {value!r}.")


def _scalar(raw: str):
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def _range(raw: str, where: str) -> list[float]:
    lo, sep, hi = raw.partition("..")
    try:
        values = [float(lo), float(hi)] if sep else [float(raw)] * 2
    except ValueError:
        raise ConfigError(f"{where}: expected a number or a range lo..hi, got {raw!r}.") from None
    return values


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        lo, hi = value
        return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"
    return str(value)


def _pair(value, where: str) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ConfigError(f"{where}: expected [lo, hi], got {value!r}.")
    lo, hi = value
    for v in (lo, hi):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{where}: expected two finite numbers [lo, hi], got {value!r}.")
    if lo > hi:
        raise ConfigError(f"{where}: lo must be ≤ hi, got {value!r}.")
    return float(lo), float(hi)


__all__ = ["BOX_KINDS", "DEFAULT_NOC_CAP", "DEFAULT_ROUNDS", "ITERATIVE_STARTS", "JitterSpec", "MEDSAMIX_JITTER_SEED",
           "POINT_KINDS", "PROMPT_KINDS", "PromptSpec", "as_prompt_spec", "parse_prompt_mapping",
           "parse_prompt_text", "prompt_text_mapping"]

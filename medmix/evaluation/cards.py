"""Task cards: one YAML file per evaluation task, validated at load into frozen dataclasses.

A card says where the cases come from (`source`: a prepared "harness" dataset, the synthetic "phantom" generator,
or the "mni" template), which labels form the binary target, how slices are cut and normalised, how the cases are
split into calibration and test, which box prompts the model gets, which metrics are computed, and (for tumours)
how the size-only T category is staged. Unknown keys and bad values are refused with the file and the field path:

    eval/tasks/medsamix25/flare22_liver.yaml: prompt.jitter: unknown key 'shfit_px' (did you mean 'shift_px'?) ...

Format (defaults in brackets):

    name: flare22_liver              # snake_case task name, unique across suites
    description: ...                 # [""] free text
    source: harness                  # harness | phantom | mni
    dataset: flare22                 # harness: dataset id under the data root; phantom: a phantom25 scene;
                                     # mni: mni152
    modality: CT                     # CT, MRI, MRA, fundus, ... (see MODALITIES)
    target: {name: liver, labels: [1]}   # binary target = union of these label ids (ids ≥ 1)
    slice_axis: 2                    # [2] array axis the 2D slices are cut across; null for 2D images
    channels: grey                   # [grey] grey | rgb (rgb images are 2D: slice_axis null)
    intensity: {kind: ct_window, level: 40, width: 400}   # [none] see medmix.data.intensity
    split: {rule: first_fraction, fraction: 0.2}          # [this] or {rule: file, path: split.json}
    prompt: {kind: tight_box, per_component: false, seed: 0}   # [this]; jittered_box needs
                                     # jitter: {shift_px: [lo, hi] | shift_frac: [lo, hi], scale_frac: [lo, hi]}
    metrics: [dice, iou, hd95, assd, nsd, bahd]           # [these] any name parse_metric accepts
    staging: {rule: kidney, feret: 3d, convention: corners}   # optional; rule: a built-in name or a custom
                                     # rule mapping (medmix.staging.rule_from_config)
    download: {url: ..., instructions: ...}   # optional, shown when a harness dataset is missing
    prepare: medmix data prepare flare22 --src ... --dst ...   # optional, ditto

A split file (`rule: file`) is JSON {"calibration": [...], "test": [...]}; a relative `path` is resolved against
the card's folder.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmix.data.intensity import INTENSITY_KINDS, PERCENTILE_SCOPES, IntensitySpec
from medmix.data.prompts import PROMPT_KINDS, JitterSpec, PromptSpec
from medmix.errors import ConfigError, MedmixError

SOURCES = ("harness", "phantom", "mni")
CHANNELS = ("grey", "rgb")
SPLIT_RULES = ("first_fraction", "file")
DEFAULT_METRICS = ("dice", "iou", "hd95", "assd", "nsd", "bahd")
DEFAULT_FRACTION = 0.2
MODALITIES = ("CT", "MRI", "MRA", "CTA", "PET", "SPECT", "fundus", "OCT", "ultrasound", "X-ray", "mammography",
              "endoscopy", "dermoscopy", "microscopy", "histopathology")
MNI_DATASET = "mni152"
FERET_MODES = ("3d", "in_slice")
FERET_CONVENTIONS = ("corners", "centres")

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_DATASET_ID = re.compile(r"^[a-z0-9][a-z0-9_\-.]*$")

_CARD_KEYS = ("name", "description", "source", "dataset", "modality", "target", "slice_axis", "channels",
              "intensity", "split", "prompt", "metrics", "staging", "download", "prepare")
_REQUIRED = ("name", "source", "dataset", "modality", "target")


@dataclass(frozen=True)
class TargetSpec:
    """The binary target: the union of `labels` (label ids ≥ 1) of the dataset's label maps, called `name`."""

    name: str
    labels: tuple[int, ...]


@dataclass(frozen=True)
class SplitSpec:
    """Calibration/test split: "first_fraction" (the first ceil(fraction × n) case ids in sorted order are
    calibration, see `medmix.data.sources.split_cases`) or "file" (JSON with "calibration" and "test" lists)."""

    rule: str = "first_fraction"
    fraction: float = DEFAULT_FRACTION
    path: str | None = None

    def to_dict(self) -> dict:
        if self.rule == "file":
            return {"rule": "file", "path": self.path}
        return {"rule": self.rule, "fraction": self.fraction}


@dataclass(frozen=True)
class StagingSpec:
    """Size-only T staging of the target: the `rule` (a `StagingRule`), `feret` ("3d" | "in_slice", the latter
    along the card's slice axis) and the Feret `convention` ("corners" | "centres"). `rule_config` keeps a custom
    rule's mapping as written (None for a built-in rule)."""

    rule: Any  # medmix.staging.StagingRule (imported lazily: staging pulls in scipy)
    feret: str = "3d"
    convention: str = "corners"
    rule_config: Mapping | None = field(default=None, compare=False, hash=False)

    @property
    def rule_name(self) -> str:
        return self.rule.name

    def to_dict(self) -> dict:
        rule = self.rule.name if self.rule_config is None else copy.deepcopy(dict(self.rule_config))
        return {"rule": rule, "feret": self.feret, "convention": self.convention}


@dataclass(frozen=True)
class DownloadSpec:
    """Where a harness dataset comes from: `url` and free-text `instructions` (registration, which files)."""

    url: str
    instructions: str = ""

    def to_dict(self) -> dict:
        return {"url": self.url, "instructions": self.instructions}


@dataclass(frozen=True)
class TaskCard:
    """One evaluation task; see the module docstring for the fields. `path` is the file it was read from (not part
    of equality or `to_dict`)."""

    name: str
    source: str
    dataset: str
    modality: str
    target: TargetSpec
    description: str = ""
    slice_axis: int | None = 2
    channels: str = "grey"
    intensity: IntensitySpec = IntensitySpec()
    split: SplitSpec = SplitSpec()
    prompt: PromptSpec = PromptSpec()
    metrics: tuple[str, ...] = DEFAULT_METRICS
    staging: StagingSpec | None = None
    download: DownloadSpec | None = None
    prepare: str | None = None
    path: Path | None = field(default=None, compare=False, hash=False, repr=False)

    def to_dict(self) -> dict:
        """The resolved card (every default filled in) as plain YAML/JSON-ready data; `card_from_dict` of it gives
        back an equal card."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "dataset": self.dataset,
            "modality": self.modality,
            "target": {"name": self.target.name, "labels": list(self.target.labels)},
            "slice_axis": self.slice_axis,
            "channels": self.channels,
            "intensity": self.intensity.to_dict(),
            "split": self.split.to_dict(),
            "prompt": self.prompt.to_dict(),
            "metrics": list(self.metrics),
        }
        if self.staging is not None:
            out["staging"] = self.staging.to_dict()
        if self.download is not None:
            out["download"] = self.download.to_dict()
        if self.prepare is not None:
            out["prepare"] = self.prepare
        return out

    @property
    def labels(self) -> tuple[int, ...]:
        return self.target.labels

    def metric_requests(self) -> list:
        """The metrics as `medmix.metrics.MetricRequest`s."""
        from medmix.metrics import parse_metric

        return [parse_metric(m) for m in self.metrics]

    def split_path(self) -> Path | None:
        """The split file of a `rule: file` split, resolved against the card's folder when relative."""
        if self.split.rule != "file":
            return None
        p = Path(self.split.path).expanduser()
        if not p.is_absolute() and self.path is not None:
            p = Path(self.path).parent / p
        return p

    def where(self) -> str:
        return str(self.path) if self.path is not None else f"task card {self.name!r}"


# --- loading ---------------------------------------------------------------------------------------------------


def load_card(path: str | Path) -> TaskCard:
    """Read and validate one task card YAML file (`ConfigError` naming the file and field path otherwise)."""
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"task card {str(p)!r} not found.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc}).") from exc
    return card_from_dict(data, where=str(p), path=p)


def card_from_dict(data: Mapping, *, where: str = "task card", path: str | Path | None = None) -> TaskCard:
    """Validate a card given as a mapping (the YAML's content, or `TaskCard.to_dict()`); `where` prefixes errors."""
    v = _Validator(where)
    v.mapping(data, "")
    v.refuse_unknown(data, _CARD_KEYS, "")
    for key in _REQUIRED:
        if key not in data or data[key] is None:
            raise v.error(key, "required field is missing.")

    name = v.snake(data["name"], "name")
    description = v.text(data.get("description", ""), "description")
    source = v.choice(data["source"], SOURCES, "source")
    dataset = v.text(data["dataset"], "dataset")
    if not _DATASET_ID.match(dataset):
        raise v.error("dataset", f"expected a dataset id such as 'flare22' (lowercase letters, digits, '_', '-', "
                                 f"'.'), got {dataset!r}.")
    modality = v.choice(data["modality"], MODALITIES, "modality")
    target = _target(v, data["target"])
    slice_axis = data.get("slice_axis", 2)
    if slice_axis is not None and (isinstance(slice_axis, bool) or not isinstance(slice_axis, int)
                                   or slice_axis not in (0, 1, 2)):
        raise v.error("slice_axis", f"expected 0, 1 or 2 (array axis of a 3D volume) or null for 2D images, got "
                                    f"{slice_axis!r}.")
    channels = v.choice(data.get("channels", "grey"), CHANNELS, "channels")
    if channels == "rgb" and slice_axis is not None:
        raise v.error("slice_axis", "RGB images are 2D; set slice_axis: null.")
    intensity = _intensity(v, data.get("intensity"))
    split = _split(v, data.get("split"))
    prompt = _prompt(v, data.get("prompt"))
    metrics = _metrics(v, data.get("metrics", list(DEFAULT_METRICS)))
    staging = _staging(v, data.get("staging"), slice_axis)
    download = _download(v, data.get("download"))
    prepare = data.get("prepare")
    if prepare is not None:
        prepare = v.text(prepare, "prepare")
    _check_source(v, source, dataset, target)
    return TaskCard(
        name=name, source=source, dataset=dataset, modality=modality, target=target, description=description,
        slice_axis=slice_axis, channels=channels, intensity=intensity, split=split, prompt=prompt, metrics=metrics,
        staging=staging, download=download, prepare=prepare, path=None if path is None else Path(path),
    )


class _Validator:
    def __init__(self, where: str):
        self.where = where

    def error(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {path}: {message}" if path else f"{self.where}: {message}")

    def mapping(self, value, path: str) -> None:
        if not isinstance(value, Mapping):
            raise self.error(path, f"expected a mapping (key: value fields), got {type(value).__name__} {value!r}.")

    def refuse_unknown(self, mapping: Mapping, allowed: Sequence[str], path: str) -> None:
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(path, f"unknown key {key!r}{hint}. Allowed keys: {', '.join(allowed)}.")

    def text(self, value, path: str) -> str:
        if not isinstance(value, str):
            raise self.error(path, f"expected text, got {type(value).__name__} {value!r}.")
        return value

    def snake(self, value, path: str) -> str:
        value = self.text(value, path)
        if not _SNAKE.match(value):
            raise self.error(path, f"expected a snake_case name (lowercase letters, digits, '_', starting with a "
                                   f"letter), got {value!r}.")
        return value

    def choice(self, value, choices: Sequence[str], path: str) -> str:
        if not isinstance(value, str) or value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.5)
            if not close:
                close = [c for c in choices if c.lower() == str(value).lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(path, f"expected one of {', '.join(choices)}, got {value!r}{hint}.")
        return value

    def number(self, value, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(path, f"expected a number, got {value!r}.")
        return float(value)

    def boolean(self, value, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, f"expected true or false, got {value!r}.")
        return value

    def pair(self, value, path: str) -> tuple[float, float]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
            raise self.error(path, f"expected [lo, hi], got {value!r}.")
        lo, hi = (self.number(x, path) for x in value)
        if lo > hi:
            raise self.error(path, f"lo must be ≤ hi, got {list(value)}.")
        return lo, hi


def _target(v: _Validator, value) -> TargetSpec:
    v.mapping(value, "target")
    v.refuse_unknown(value, ("name", "labels"), "target")
    if "name" not in value:
        raise v.error("target.name", "required field is missing.")
    if "labels" not in value:
        raise v.error("target.labels", "required field is missing (the label ids forming the target).")
    name = v.snake(value["name"], "target.name")
    labels = value["labels"]
    if isinstance(labels, int) and not isinstance(labels, bool):
        labels = [labels]
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence) or not labels:
        raise v.error("target.labels", f"expected a non-empty list of label ids, got {labels!r}.")
    for i, label in enumerate(labels):
        if isinstance(label, bool) or not isinstance(label, int) or label < 1:
            raise v.error(f"target.labels[{i}]", f"expected an integer label id ≥ 1 (0 is background), got "
                                                 f"{label!r}.")
    if len(set(labels)) != len(labels):
        raise v.error("target.labels", f"label ids repeat: {list(labels)}.")
    return TargetSpec(name, tuple(sorted(labels)))


_INTENSITY_KEYS = {
    "ct_window": ("kind", "level", "width"),
    "percentile": ("kind", "low", "high", "scope"),
    "minmax": ("kind",),
    "none": ("kind",),
}


def _intensity(v: _Validator, value) -> IntensitySpec:
    if value is None:
        return IntensitySpec()
    v.mapping(value, "intensity")
    kind = v.choice(value.get("kind"), INTENSITY_KINDS, "intensity.kind")
    v.refuse_unknown(value, _INTENSITY_KEYS[kind], "intensity")
    if kind == "ct_window":
        for key in ("level", "width"):
            if key not in value:
                raise v.error(f"intensity.{key}", "required for a ct_window (HU), e.g. level: 40, width: 400.")
        level = v.number(value["level"], "intensity.level")
        width = v.number(value["width"], "intensity.width")
        if width <= 0:
            raise v.error("intensity.width", f"must be > 0 HU, got {width:g}.")
        return IntensitySpec(kind, level=level, width=width)
    if kind == "percentile":
        low = v.number(value.get("low", 0.5), "intensity.low")
        high = v.number(value.get("high", 99.5), "intensity.high")
        if not 0 <= low < high <= 100:
            raise v.error("intensity", f"expected percentiles 0 ≤ low < high ≤ 100, got low {low:g}, high "
                                       f"{high:g}.")
        scope = v.choice(value.get("scope", "nonzero"), PERCENTILE_SCOPES, "intensity.scope")
        return IntensitySpec(kind, low=low, high=high, scope=scope)
    return IntensitySpec(kind)


def _split(v: _Validator, value) -> SplitSpec:
    if value is None:
        return SplitSpec()
    v.mapping(value, "split")
    rule = v.choice(value.get("rule", "first_fraction"), SPLIT_RULES, "split.rule")
    if rule == "first_fraction":
        v.refuse_unknown(value, ("rule", "fraction"), "split")
        fraction = v.number(value.get("fraction", DEFAULT_FRACTION), "split.fraction")
        if not 0 < fraction <= 1:
            raise v.error("split.fraction", f"expected 0 < fraction ≤ 1 (share of cases used for calibration), "
                                            f"got {fraction:g}.")
        return SplitSpec(rule, fraction=fraction)
    v.refuse_unknown(value, ("rule", "path"), "split")
    if "path" not in value:
        raise v.error("split.path", "required for rule 'file' (a JSON file with calibration and test lists).")
    return SplitSpec(rule, path=v.text(value["path"], "split.path"))


def _prompt(v: _Validator, value) -> PromptSpec:
    if value is None:
        return PromptSpec()
    v.mapping(value, "prompt")
    v.refuse_unknown(value, ("kind", "per_component", "jitter", "seed"), "prompt")
    kind = v.choice(value.get("kind", "tight_box"), PROMPT_KINDS, "prompt.kind")
    per_component = v.boolean(value.get("per_component", False), "prompt.per_component")
    seed = value.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise v.error("prompt.seed", f"expected an integer ≥ 0, got {seed!r}.")
    jitter = value.get("jitter")
    if kind == "jittered_box" and jitter is None:
        raise v.error("prompt.jitter", "kind 'jittered_box' needs a jitter block, e.g. {shift_px: [0, 10], "
                                       "scale_frac: [0, 0.1]}.")
    if kind == "tight_box" and jitter is not None:
        raise v.error("prompt.jitter", "given, but prompt.kind is 'tight_box'; set kind: jittered_box or remove it.")
    spec_jitter = None
    if jitter is not None:
        v.mapping(jitter, "prompt.jitter")
        v.refuse_unknown(jitter, ("shift_px", "shift_frac", "scale_frac"), "prompt.jitter")
        if "shift_px" in jitter and "shift_frac" in jitter:
            raise v.error("prompt.jitter", "give shift_px or shift_frac, not both.")
        pairs = {k: v.pair(jitter[k], f"prompt.jitter.{k}") for k in jitter}
        for key in ("shift_px", "shift_frac"):
            if key in pairs and pairs[key][0] < 0:
                raise v.error(f"prompt.jitter.{key}", f"magnitudes must be ≥ 0 (the sign is random), got "
                                                      f"{list(pairs[key])}.")
        if "scale_frac" in pairs and pairs["scale_frac"][0] <= -1:
            raise v.error("prompt.jitter.scale_frac", f"lo must be > -1, got {list(pairs['scale_frac'])}.")
        spec_jitter = JitterSpec(**pairs)
    return PromptSpec(kind, per_component=per_component, jitter=spec_jitter, seed=seed)


def _metrics(v: _Validator, value) -> tuple[str, ...]:
    from medmix.metrics import parse_metric

    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise v.error("metrics", f"expected a non-empty list of metric names, got {value!r}.")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise v.error(f"metrics[{i}]", f"expected a metric name such as 'dice' or 'nsd:tolerance_mm=2', got "
                                           f"{item!r}.")
        try:
            parse_metric(item)
        except MedmixError as exc:
            raise v.error(f"metrics[{i}]", str(exc)) from None
        text = item.strip()
        if text in out:
            raise v.error(f"metrics[{i}]", f"{text!r} is listed twice.")
        out.append(text)
    return tuple(out)


def _staging(v: _Validator, value, slice_axis) -> StagingSpec | None:
    if value is None:
        return None
    from medmix.staging import get_rule, rule_from_config

    v.mapping(value, "staging")
    v.refuse_unknown(value, ("rule", "feret", "convention"), "staging")
    if "rule" not in value:
        raise v.error("staging.rule", "required: a built-in rule name (lung, kidney, liver_hcc, pancreas, ...) or "
                                      "a custom rule mapping.")
    rule = value["rule"]
    config = None
    if isinstance(rule, str):
        try:
            rule = get_rule(rule)
        except MedmixError as exc:
            raise v.error("staging.rule", str(exc)) from None
    elif isinstance(rule, Mapping):
        config = copy.deepcopy(dict(rule))
        rule = rule_from_config(rule, where=f"{v.where}: staging.rule")
    else:
        raise v.error("staging.rule", f"expected a rule name or a mapping, got {type(rule).__name__} {rule!r}.")
    feret = v.choice(value.get("feret", "3d"), FERET_MODES, "staging.feret")
    if feret == "in_slice" and slice_axis is None:
        raise v.error("staging.feret", "'in_slice' measures within slices along slice_axis, which is null; use "
                                       "'3d' for 2D images.")
    convention = v.choice(value.get("convention", "corners"), FERET_CONVENTIONS, "staging.convention")
    return StagingSpec(rule, feret=feret, convention=convention, rule_config=config)


def _download(v: _Validator, value) -> DownloadSpec | None:
    if value is None:
        return None
    if isinstance(value, str):
        return DownloadSpec(url=value)
    v.mapping(value, "download")
    v.refuse_unknown(value, ("url", "instructions"), "download")
    if "url" not in value:
        raise v.error("download.url", "required field is missing.")
    return DownloadSpec(url=v.text(value["url"], "download.url"),
                        instructions=v.text(value.get("instructions", ""), "download.instructions"))


def _check_source(v: _Validator, source: str, dataset: str, target: TargetSpec) -> None:
    if source == "phantom":
        from medmix.data.phantom25 import SCENES

        if dataset not in SCENES:
            close = difflib.get_close_matches(dataset, list(SCENES), n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise v.error("dataset", f"unknown phantom scene {dataset!r}{hint}; scenes: {', '.join(SCENES)}.")
        known = SCENES[dataset].labels
        for label in target.labels:
            if label not in known:
                ids = ", ".join(f"{k} ({n})" for k, n in known.items())
                raise v.error("target.labels", f"unknown label id {label} for phantom scene {dataset!r}; ids "
                                               f"present: {ids}.")
    elif source == "mni":
        from medmix.data.mni import MNI_LABELS

        if dataset != MNI_DATASET:
            raise v.error("dataset", f"source 'mni' reads the MNI152 template; set dataset: {MNI_DATASET}.")
        for label in target.labels:
            if label not in MNI_LABELS:
                ids = ", ".join(f"{k} ({n})" for k, n in MNI_LABELS.items())
                raise v.error("target.labels", f"unknown label id {label} for dataset {MNI_DATASET}; ids present: "
                                               f"{ids}.")


__all__ = [
    "CHANNELS", "DEFAULT_METRICS", "DownloadSpec", "MODALITIES", "SOURCES", "SplitSpec", "StagingSpec", "TargetSpec",
    "TaskCard", "card_from_dict", "load_card",
]

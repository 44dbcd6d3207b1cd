"""Validation of task-card fields: each YAML field parsed into its typed value, errors naming the field path.

`parse_card(data, where)` returns the keyword arguments of `TaskCard` (see medmix/evaluation/cards.py for the
format). Every error is a `ConfigError` "<file>: <field.path>: <what was expected, what was got, how to fix>".
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from medmix.data.intensity import INTENSITY_KINDS, PERCENTILE_SCOPES, IntensitySpec
from medmix.data.prompts import PromptSpec, parse_prompt_mapping
from medmix.errors import ConfigError, MedmixError, close_match_hint
from medmix.evaluation.cards import (CHANNELS, DEFAULT_FRACTION, DEFAULT_METRICS, FERET_CONVENTIONS, FERET_MODES,
                                     MEDSAMIX_TEST_FRACTION, MNI_DATASET, MODALITIES, PROVENANCE_KINDS,
                                     SLICE_AXIS_WORDS, SOURCES, SPLIT_RULES, DownloadSpec, EntrySpec, ProvenanceSpec,
                                     SplitSpec, StagingSpec, TargetSpec)

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_DATASET_ID = re.compile(r"^[a-z0-9][a-z0-9_\-.]*$")

CARD_KEYS = ("name", "description", "source", "dataset", "channel", "entries", "modality", "target", "slice_axis",
             "channels", "intensity", "split", "prompt", "metrics", "staging", "download", "prepare", "provenance")
_REQUIRED = ("name", "source", "modality", "target")


def parse_card(data: Mapping, where: str) -> dict[str, Any]:
    """`TaskCard` keyword arguments from a card mapping; see the module docstring."""
    v = Validator(where)
    v.mapping(data, "")
    v.refuse_unknown(data, CARD_KEYS, "")
    for key in _REQUIRED:
        if key not in data or data[key] is None:
            raise v.error(key, "required field is missing.")
    name = v.snake(data["name"], "name")
    source = v.choice(data["source"], SOURCES, "source")
    entries = _entries(v, data, source)
    slice_axis = _slice_axis(v, data.get("slice_axis", 2))
    channels = v.choice(data.get("channels", "grey"), CHANNELS, "channels")
    if channels == "rgb" and slice_axis is not None:
        raise v.error("slice_axis", "RGB images are 2D; set slice_axis: null.")
    target = _target(v, data["target"])
    kwargs: dict[str, Any] = dict(
        name=name, source=source, dataset=entries[0].dataset,
        modality=v.choice(data["modality"], MODALITIES, "modality"), target=target,
        description=v.text(data.get("description", ""), "description"), slice_axis=slice_axis, channels=channels,
        intensity=_intensity(v, data.get("intensity")), split=_split(v, data.get("split")),
        prompt=_prompt(v, data.get("prompt")), metrics=_metrics(v, data.get("metrics", list(DEFAULT_METRICS))),
        staging=_staging(v, data.get("staging"), slice_axis), download=_download(v, data.get("download")),
        prepare=None if data.get("prepare") is None else v.text(data["prepare"], "prepare"),
        provenance=_provenance(v, data.get("provenance")), entries=entries,
    )
    if kwargs["prompt"].kind == "medsamix_jitter" and slice_axis is not None:
        raise v.error("prompt.kind", "'medsamix_jitter' is MedSAMix's 2-D (fundus) jitter; 3-D tasks use tight "
                                     "boxes under that protocol.")
    if kwargs["split"].rule == "dataset" and source != "harness":
        raise v.error("split.rule", f"'dataset' reads a split from a prepared dataset's dataset.json; source "
                                    f"{source!r} has none. Use first_fraction or medsamix.")
    for entry in entries:
        _check_source(v, source, entry.dataset, TargetSpec(target.name, entry.labels or target.labels))
    return kwargs


class Validator:
    """Field checks that raise `ConfigError`s prefixed by the file and the field path."""

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
                raise self.error(path, f"unknown key {key!r}{close_match_hint(key, allowed)}. Allowed keys: "
                                       f"{', '.join(allowed)}.")

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

    def label_ids(self, value, path: str) -> tuple[int, ...]:
        labels = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence) or not labels:
            raise self.error(path, f"expected a non-empty list of label ids, got {labels!r}.")
        for i, label in enumerate(labels):
            if isinstance(label, bool) or not isinstance(label, int) or label < 1:
                raise self.error(f"{path}[{i}]", f"expected an integer label id ≥ 1 (0 is background), got "
                                                 f"{label!r}.")
        if len(set(labels)) != len(labels):
            raise self.error(path, f"label ids repeat: {list(labels)}.")
        return tuple(sorted(labels))


def _dataset_id(v: Validator, value, path: str) -> str:
    dataset = v.text(value, path)
    if not _DATASET_ID.match(dataset):
        raise v.error(path, f"expected a dataset id such as 'flare22' (lowercase letters, digits, '_', '-', '.'), "
                            f"got {dataset!r}.")
    return dataset


def _channel(v: Validator, value, path: str) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or (isinstance(value, int) and value < 0):
        raise v.error(path, f"expected a channel name (e.g. t1) or an index ≥ 0, got {value!r}.")
    return value


def _entries(v: Validator, data: Mapping, source: str) -> tuple[EntrySpec, ...]:
    has_entries = data.get("entries") is not None
    if has_entries and (data.get("dataset") is not None or data.get("channel") is not None):
        raise v.error("entries", "give either dataset (and channel) or entries, not both.")
    if not has_entries:
        if data.get("dataset") is None:
            raise v.error("dataset", "required field is missing (or give entries: a list of dataset entries).")
        channel = _channel(v, data.get("channel"), "channel")
        if channel is not None and source != "harness":
            raise v.error("channel", f"only prepared (harness) datasets have channels; source is {source!r}.")
        return (EntrySpec(_dataset_id(v, data["dataset"], "dataset"), channel),)
    if source != "harness":
        raise v.error("entries", f"only harness tasks can have several dataset entries; source is {source!r}.")
    value = data["entries"]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise v.error("entries", f"expected a non-empty list of {{dataset, channel, labels, key}} mappings, got "
                                 f"{value!r}.")
    out = []
    for i, item in enumerate(value):
        path = f"entries[{i}]"
        v.mapping(item, path)
        v.refuse_unknown(item, ("dataset", "channel", "labels", "key"), path)
        if "dataset" not in item:
            raise v.error(f"{path}.dataset", "required field is missing.")
        labels = None if item.get("labels") is None else v.label_ids(item["labels"], f"{path}.labels")
        key = None if item.get("key") is None else v.text(item["key"], f"{path}.key")
        out.append(EntrySpec(_dataset_id(v, item["dataset"], f"{path}.dataset"),
                             _channel(v, item.get("channel"), f"{path}.channel"), labels, key))
    names = [e.name for e in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise v.error("entries", f"entry {twice[0]!r} is listed twice; each dataset (and channel) once.")
    return tuple(out)


def _slice_axis(v: Validator, value) -> int | str | None:
    if value is None or value in SLICE_AXIS_WORDS:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1, 2):
        raise v.error("slice_axis", f"expected 0, 1 or 2 (array axis of a 3D volume), 'axial' (from each case's "
                                    f"affine), 'last' (the last array axis) or null for 2D images, got {value!r}.")
    return value


def _target(v: Validator, value) -> TargetSpec:
    v.mapping(value, "target")
    v.refuse_unknown(value, ("name", "labels", "convention", "region"), "target")
    if "name" not in value:
        raise v.error("target.name", "required field is missing.")
    if "convention" in value or "region" in value:
        # a tumour region from the label-convention registry (shared with lesion-wise scoring and the CLI)
        from medmix.errors import MedmixError
        from medmix.metrics.label_conventions import region_labels

        if "labels" in value or "convention" not in value or "region" not in value:
            raise v.error("target", "give either labels, or convention and region together "
                                    "(e.g. convention: brats_glioma, region: wt).")
        try:
            labels = region_labels(str(value["convention"]), str(value["region"]))
        except MedmixError as exc:
            raise v.error("target.convention", str(exc)) from None
        return TargetSpec(v.snake(value["name"], "target.name"), labels)
    if "labels" not in value:
        raise v.error("target.labels", "required field is missing (the label ids forming the target).")
    return TargetSpec(v.snake(value["name"], "target.name"), v.label_ids(value["labels"], "target.labels"))


_INTENSITY_KEYS = {
    "ct_window": ("kind", "level", "width"),
    "percentile": ("kind", "low", "high", "scope"),
    "minmax": ("kind",),
    "none": ("kind",),
    "medsamix": ("kind",),
}


def _intensity(v: Validator, value) -> IntensitySpec:
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


def _split(v: Validator, value) -> SplitSpec:
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
    if rule == "medsamix":
        v.refuse_unknown(value, ("rule", "test_fraction", "drop_last"), "split")
        test_fraction = v.number(value.get("test_fraction", MEDSAMIX_TEST_FRACTION), "split.test_fraction")
        if not 0 <= test_fraction < 1:
            raise v.error("split.test_fraction", f"expected 0 ≤ test_fraction < 1 (MedSAMix: 0.8), got "
                                                 f"{test_fraction:g}.")
        drop_last = v.boolean(value.get("drop_last", False), "split.drop_last")
        return SplitSpec(rule, test_fraction=test_fraction, drop_last=drop_last)
    if rule == "dataset":
        v.refuse_unknown(value, ("rule", "name"), "split")
        if "name" not in value:
            raise v.error("split.name", "required for rule 'dataset': the split's name in dataset.json's "
                                        "'splits' (e.g. domain1).")
        return SplitSpec(rule, name=v.text(value["name"], "split.name"))
    v.refuse_unknown(value, ("rule", "path"), "split")
    if "path" not in value:
        raise v.error("split.path", "required for rule 'file' (a JSON file with calibration and test lists).")
    return SplitSpec(rule, path=v.text(value["path"], "split.path"))


def _prompt(v: Validator, value) -> PromptSpec:
    if value is None:
        return PromptSpec()
    return parse_prompt_mapping(value, where="prompt", file=v.where)


def _metrics(v: Validator, value) -> tuple[str, ...]:
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


def _staging(v: Validator, value, slice_axis) -> StagingSpec | None:
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


def _download(v: Validator, value) -> DownloadSpec | None:
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


def _provenance(v: Validator, value) -> ProvenanceSpec | None:
    if value is None:
        return None
    v.mapping(value, "provenance")
    v.refuse_unknown(value, ("kind", "medsamix_key", "evidence", "reason", "guess"), "provenance")
    kind = v.choice(value.get("kind"), PROVENANCE_KINDS, "provenance.kind")
    key = None if value.get("medsamix_key") is None else v.text(value["medsamix_key"], "provenance.medsamix_key")
    evidence = v.text(value.get("evidence", ""), "provenance.evidence").strip()
    reason = v.text(value.get("reason", ""), "provenance.reason").strip()
    guess = v.boolean(value.get("guess", False), "provenance.guess")
    if kind == "medsamix-code" and key is None:
        raise v.error("provenance.medsamix_key", "required for kind 'medsamix-code': the task's key in MedSAMix's "
                                                 "code (e.g. NasalSeg_3_4).")
    if kind == "inferred" and not evidence:
        raise v.error("provenance.evidence", "required for kind 'inferred': what the inference rests on.")
    if kind == "medmix" and not reason:
        raise v.error("provenance.reason", "required for kind 'medmix': why medmix chose this task.")
    return ProvenanceSpec(kind, key, evidence, reason, guess)


def _check_source(v: Validator, source: str, dataset: str, target: TargetSpec) -> None:
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

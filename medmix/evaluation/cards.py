"""Task cards: one YAML file per evaluation task, validated at load into frozen dataclasses.

A card says where the cases come from (`source`: a prepared "harness" dataset, the synthetic "phantom" generator,
or the "mni" template), which labels form the binary target, how slices are cut and normalised, how the cases are
split into calibration and test, which box prompts the model gets, which metrics are computed, (for tumours) how
the size-only T category is staged, and where the task comes from (`provenance`). Unknown keys and bad values are
refused with the file and the field path:

    eval/tasks/medsamix25/flare22_liver.yaml: prompt.jitter: unknown key 'shfit_px' (did you mean 'shift_px'?) ...

Format (defaults in brackets):

    name: flare22_liver              # snake_case task name, unique across suites
    description: ...                 # [""] free text
    source: harness                  # harness | phantom | mni
    dataset: flare22                 # harness: dataset id under the data root; phantom: a phantom25 scene;
                                     # mni: mni152
    channel: t1                      # [none] harness only: the image channel of a multi-channel dataset (a name
                                     # from its dataset.json channel_names, or an index)
    entries:                         # [one entry: dataset + channel] harness only, instead of dataset/channel:
      - {dataset: brats2021, channel: t1, key: "Dataset668_BraTS2021_MR_1251 input 1"}
      - {dataset: brats2021, channel: t1ce}    # several dataset entries scored as one task (MedSAMix's
                                     # multi-entry tasks); each is split on its own, their cases are concatenated
                                     # in entry order with ids "<entry>/<case>"; optional labels: [...] per entry
    modality: CT                     # CT, MRI, MRA, fundus, ... (see MODALITIES)
    target: {name: liver, labels: [1]}   # binary target = union of these label ids (ids ≥ 1)
    slice_axis: 2                    # [2] array axis the 2D slices are cut across; "axial" (per case, from the
                                     # affine); "last" (the last array axis whatever the orientation, MedSAMix's
                                     # rule); null for 2D images
    channels: grey                   # [grey] grey | rgb (rgb images are 2D: slice_axis null)
    intensity: {kind: ct_window, level: 40, width: 400}   # [none] see medmix.data.intensity
    split: {rule: first_fraction, fraction: 0.2}          # [this]; or {rule: medsamix, test_fraction: 0.8,
                                     # drop_last: false}, {rule: file, path: split.json}, {rule: dataset,
                                     # name: domain1} (a split the dataset's dataset.json defines)
    prompt: {kind: tight_box, per_component: false, seed: 0}   # [this]; jittered_box needs
                                     # jitter: {shift_px: [lo, hi] | shift_frac: [lo, hi], scale_frac: [lo, hi]};
                                     # medsamix_jitter (2-D only) is MedSAMix's fundus jitter, seed 42;
                                     # center_point, random_points {positive, negative, band_px},
                                     # box_and_point, iterative {start, rounds, noc_cap, mask_input}: see
                                     # medmix.data.prompts.spec
    metrics: [dice, iou, hd95, assd, nsd, bahd]           # [these] any name parse_metric accepts
    staging: {rule: kidney, feret: 3d, convention: corners}   # optional; rule: a built-in name or a custom
                                     # rule mapping (medmix.staging.rule_from_config)
    download: {url: ..., instructions: ...}   # optional, shown when a harness dataset is missing
    prepare: medmix data prepare flare22 --src ... --dst ...   # optional, ditto
    provenance:                      # optional; every built-in card has one
      kind: medsamix-code            # medsamix-code | inferred | medmix
      medsamix_key: FLARE22_resample_seg_1   # the task's key in MedSAMix's code (medsamix-code; inferred: if any)
      evidence: ...                  # inferred: what the inference rests on (required)
      reason: ...                    # medmix: why medmix chose this task (required)
      guess: false                   # a stand-in for a MedSAMix task its code does not identify

A split file (`rule: file`) is JSON {"calibration": [...], "test": [...]}; a relative `path` is resolved against
the card's folder. Splits are taken per dataset entry (see `medmix.data.sources`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmix.data.intensity import IntensitySpec
from medmix.data.prompts import PromptSpec
from medmix.errors import ConfigError

SOURCES = ("harness", "phantom", "mni")
CHANNELS = ("grey", "rgb")
SPLIT_RULES = ("first_fraction", "medsamix", "file", "dataset")
SLICE_AXIS_WORDS = ("axial", "last")
PROVENANCE_KINDS = ("medsamix-code", "inferred", "medmix")
DEFAULT_METRICS = ("dice", "iou", "hd95", "assd", "nsd", "bahd")
DEFAULT_FRACTION = 0.2
MEDSAMIX_TEST_FRACTION = 0.8
MODALITIES = ("CT", "MRI", "MRA", "CTA", "PET", "SPECT", "fundus", "OCT", "ultrasound", "X-ray", "mammography",
              "endoscopy", "dermoscopy", "microscopy", "histopathology")
MNI_DATASET = "mni152"
FERET_MODES = ("3d", "in_slice")
FERET_CONVENTIONS = ("corners", "centres")


@dataclass(frozen=True)
class TargetSpec:
    """The binary target: the union of `labels` (label ids ≥ 1) of the dataset's label maps, called `name`."""

    name: str
    labels: tuple[int, ...]


@dataclass(frozen=True)
class SplitSpec:
    """Calibration/test split of each dataset entry's sorted case ids (see `medmix.data.sources`):

    - "first_fraction" (medmix): the first ceil(fraction × n) are calibration, at least one case on each side;
    - "medsamix" (MedSAMix's arithmetic): the first int(n − test_fraction·n) are calibration; `drop_last` also
      leaves out the last case of each split of the task, as MedSAMix's loader does (its length is count − 1);
    - "file": JSON with "calibration" and "test" lists; "dataset": the split called `name` in dataset.json.
    """

    rule: str = "first_fraction"
    fraction: float = DEFAULT_FRACTION
    path: str | None = None
    name: str | None = None
    test_fraction: float = MEDSAMIX_TEST_FRACTION
    drop_last: bool = False

    def to_dict(self) -> dict:
        if self.rule == "file":
            return {"rule": "file", "path": self.path}
        if self.rule == "dataset":
            return {"rule": "dataset", "name": self.name}
        if self.rule == "medsamix":
            return {"rule": "medsamix", "test_fraction": self.test_fraction, "drop_last": self.drop_last}
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
class EntrySpec:
    """One dataset entry of a task: the prepared `dataset`, the image `channel` of a multi-channel dataset (name
    or index), the entry's own target `labels` (None: the card's), and the dataset's name in MedSAMix's code
    (`key`, documentation only)."""

    dataset: str
    channel: str | int | None = None
    labels: tuple[int, ...] | None = None
    key: str | None = None

    @property
    def name(self) -> str:
        """The entry's prefix in case ids of multi-entry tasks: "<dataset>" or "<dataset>.<channel>"."""
        return self.dataset if self.channel is None else f"{self.dataset}.{self.channel}"

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"dataset": self.dataset}
        if self.channel is not None:
            out["channel"] = self.channel
        if self.labels is not None:
            out["labels"] = list(self.labels)
        if self.key is not None:
            out["key"] = self.key
        return out


@dataclass(frozen=True)
class ProvenanceSpec:
    """Where a task comes from: "medsamix-code" (read in MedSAMix's released code, `medsamix_key`), "inferred"
    (with the `evidence`) or "medmix" (medmix's own choice, with the `reason`); `guess` marks a stand-in for a
    MedSAMix task its code does not identify."""

    kind: str
    medsamix_key: str | None = None
    evidence: str = ""
    reason: str = ""
    guess: bool = False

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind}
        if self.medsamix_key is not None:
            out["medsamix_key"] = self.medsamix_key
        if self.evidence:
            out["evidence"] = self.evidence
        if self.reason:
            out["reason"] = self.reason
        out["guess"] = self.guess
        return out

    def label(self) -> str:
        """A short label for tables: "MedSAMix code (KEY)", "inferred", "medmix"; "guess" appended to stand-ins."""
        text = {"medsamix-code": "MedSAMix code", "inferred": "inferred", "medmix": "medmix"}[self.kind]
        if self.medsamix_key:
            text += f" ({self.medsamix_key})"
        return text + (", guess" if self.guess else "")


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
    slice_axis: int | str | None = 2
    channels: str = "grey"
    intensity: IntensitySpec = IntensitySpec()
    split: SplitSpec = SplitSpec()
    prompt: PromptSpec = PromptSpec()
    metrics: tuple[str, ...] = DEFAULT_METRICS
    staging: StagingSpec | None = None
    download: DownloadSpec | None = None
    prepare: str | None = None
    provenance: ProvenanceSpec | None = None
    entries: tuple[EntrySpec, ...] = ()
    path: Path | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self):
        if not self.entries:
            object.__setattr__(self, "entries", (EntrySpec(self.dataset),))

    def to_dict(self) -> dict:
        """The resolved card (every default filled in) as plain YAML/JSON-ready data; `card_from_dict` of it gives
        back an equal card."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
        }
        if len(self.entries) == 1 and self.entries[0].labels is None and self.entries[0].key is None:
            out["dataset"] = self.dataset
            if self.entries[0].channel is not None:
                out["channel"] = self.entries[0].channel
        else:
            out["entries"] = [e.to_dict() for e in self.entries]
        out.update({
            "modality": self.modality,
            "target": {"name": self.target.name, "labels": list(self.target.labels)},
            "slice_axis": self.slice_axis,
            "channels": self.channels,
            "intensity": self.intensity.to_dict(),
            "split": self.split.to_dict(),
            "prompt": self.prompt.to_dict(),
            "metrics": list(self.metrics),
        })
        if self.staging is not None:
            out["staging"] = self.staging.to_dict()
        if self.download is not None:
            out["download"] = self.download.to_dict()
        if self.prepare is not None:
            out["prepare"] = self.prepare
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out

    @property
    def labels(self) -> tuple[int, ...]:
        return self.target.labels

    @property
    def multi_entry(self) -> bool:
        return len(self.entries) > 1

    @property
    def datasets(self) -> tuple[str, ...]:
        """The distinct datasets the task reads, in entry order."""
        return tuple(dict.fromkeys(e.dataset for e in self.entries))

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
    from medmix.evaluation.card_fields import parse_card

    return TaskCard(**parse_card(data, where), path=None if path is None else Path(path))


__all__ = [
    "CHANNELS", "DEFAULT_METRICS", "DownloadSpec", "EntrySpec", "MODALITIES", "PROVENANCE_KINDS", "ProvenanceSpec",
    "SOURCES", "SplitSpec", "StagingSpec", "TargetSpec", "TaskCard", "card_from_dict", "load_card",
]

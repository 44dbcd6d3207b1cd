"""Evaluation protocols: how the cards of a suite are scored, as a named choice that every run records.

- "medmix" (the default): each card as written: its slice axis in display orientation (a NIfTI (x, y) slice is
  shown to models as the (row = y, column = x) image that SimpleITK-trained models such as MedSAM saw), its
  intensity handling (CT windows where they help, MRI percentiles over non-zero voxels), its split (the first
  ceil(20 %) of each dataset's sorted cases, at least one per side), its prompts (tight boxes; fundus boxes
  jittered with a per-case, per-slice seed) and each model's own preprocessing (MedSAM's min–max at 1024²,
  LiteMedSAM's at 256, SAM's ImageNet normalisation).
- "medsamix": MedSAMix's released evaluation, exactly (reference.md §3a; podismine/MedSAMix @ 9328d4c): 3-D
  volumes sliced along the last array axis, untransposed; MedSAMix's intensity pipeline for every 3-D modality,
  CT included (`medmix.data.intensity`, kind "medsamix"); the split `int(n − 0.8·n)` per dataset entry, and with
  `drop_last_volume` its loader's quirk of never scoring the last volume of a split; tight boxes on 3-D slices,
  MedSAMix's fundus jitter (one stream seeded 42 in sorted-file order) on 2-D images; SAM's preprocessing for
  every model, MedSAM included, through `SamPredictor`'s own numpy path (uint8, PIL resize); Dice with
  ε = 1e-8 per slice, averaged over all slices of a task. Multi-entry tasks are scored as MedSAMix does under
  both protocols (the cards define them).

`Protocol.apply(card)` returns the card as the protocol scores it; the runner and the merge search both call it,
so an evaluation and a search under one protocol see the same slices, intensities, prompts and splits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from medmix.errors import ConfigError, UnknownNameError

PROTOCOLS = ("medmix", "medsamix")
MEDSAMIX_DICE_EPSILON = 1e-8  # MedSAMix's compute_dice_coefficient: 2|P∧G| / (|P| + |G| + 1e-8)


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol (see the module docstring). `drop_last_volume` ("medsamix" only) reproduces
    its loader's length of count − 1: the last volume of each 3-D split is never scored."""

    name: str = "medmix"
    drop_last_volume: bool = False

    def __post_init__(self):
        if self.name not in PROTOCOLS:
            raise UnknownNameError("protocol", self.name, PROTOCOLS)
        if not isinstance(self.drop_last_volume, bool):
            raise ConfigError(f"protocol.drop_last_volume: expected true or false, got {self.drop_last_volume!r}.")
        if self.drop_last_volume and self.name != "medsamix":
            raise ConfigError("protocol.drop_last_volume reproduces a quirk of MedSAMix's loader; it needs "
                              "protocol medsamix.")

    @property
    def orientation(self) -> str:
        """"display" (3-D slices transposed to (row = y, column = x)) or "array" (untransposed)."""
        return "array" if self.name == "medsamix" else "display"

    @property
    def slice_dice_epsilon(self) -> float:
        return MEDSAMIX_DICE_EPSILON if self.name == "medsamix" else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "drop_last_volume": self.drop_last_volume}

    def label(self) -> str:
        return self.name + (" (drop_last_volume)" if self.drop_last_volume else "")

    def apply(self, card):
        """The card as this protocol scores it (the card itself under "medmix")."""
        if self.name == "medmix":
            return card
        from medmix.data.intensity import IntensitySpec
        from medmix.data.prompts import MEDSAMIX_JITTER_SEED, PromptSpec
        from medmix.evaluation.cards import SplitSpec

        volume = card.slice_axis is not None
        split = card.split
        if split.rule not in ("file", "dataset"):  # a split the data defines (DoFE's folders) is MedSAMix's own
            split = SplitSpec("medsamix", drop_last=self.drop_last_volume and volume)
        if volume:
            prompt = PromptSpec("tight_box")
        elif card.modality == "fundus":
            prompt = PromptSpec("medsamix_jitter", seed=MEDSAMIX_JITTER_SEED)
        else:
            prompt = PromptSpec("tight_box")
        return replace(card, slice_axis="last" if volume else None,
                       intensity=IntensitySpec("medsamix" if volume else "none"), split=split, prompt=prompt)

    def model_preprocessing(self, preprocessing):
        """The preprocessing a SAM-family model gets: its own under "medmix"; under "medsamix" SAM's (ImageNet
        mean/std, longest side to the model's input size, `SamPredictor`'s PIL resize), for every model."""
        if self.name == "medmix":
            return preprocessing
        from medmix.models.preprocess import Preprocessing

        return Preprocessing("sam", image_size=preprocessing.image_size, resize_backend="pil")


def parse_protocol(spec: Protocol | str | Mapping | None, *, where: str = "protocol") -> Protocol:
    """A `Protocol` from itself, a name ("medsamix"), "name:key=value" ("medsamix:drop_last_volume=true"), a
    mapping {name, drop_last_volume} or None (medmix)."""
    if spec is None:
        return Protocol()
    if isinstance(spec, Protocol):
        return spec
    if isinstance(spec, str):
        name, _, rest = spec.strip().partition(":")
        options: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq or value.strip().lower() not in ("true", "false"):
                raise ConfigError(f"{where}: option {item!r} must look like drop_last_volume=true (or false).")
            options[key.strip()] = value.strip().lower() == "true"
        spec = {"name": name, **options}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a protocol name (medmix, medsamix) or a mapping, got "
                          f"{type(spec).__name__}.")
    unknown = sorted(set(spec) - {"name", "drop_last_volume"})
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], ["name", "drop_last_volume"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}{hint}; allowed: name, drop_last_volume.")
    try:
        return Protocol(str(spec.get("name", "medmix")), spec.get("drop_last_volume", False))
    except (ConfigError, UnknownNameError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


__all__ = ["MEDSAMIX_DICE_EPSILON", "PROTOCOLS", "Protocol", "parse_protocol"]

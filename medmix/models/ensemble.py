"""Output-space ensembles: several SAM-family models, one prediction per slice from their outputs combined.

The baseline weight-space merging has to beat: every member runs (the cost of all of them), and their
per-pixel foreground probabilities (`SamFamilyModel.predict_probabilities`, each member's own post-processing)
are combined. Method "mean": the mean probability, thresholded at `threshold` (0.5). Members sharing an image
encoder (specialists fine-tuned in their decoder only) share its work through the feature cache
(`medmix.models.feature_cache`) when it is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medmix.errors import ConfigError
from medmix.models.base import SegmentationModel

ENSEMBLE_METHODS = ("mean",)


class EnsembleModel(SegmentationModel):
    """Members (models with `predict_probabilities`) combined per pixel by `method` (see the module docstring)."""

    def __init__(self, members: Sequence[Any], *, names: Sequence[str] | None = None, method: str = "mean",
                 threshold: float = 0.5, name: str = "ensemble"):
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least 2 members, got {len(members)}.")
        if method not in ENSEMBLE_METHODS:
            raise ConfigError(f"ensemble method: expected one of {', '.join(ENSEMBLE_METHODS)}, got {method!r}.")
        for i, member in enumerate(members):
            if not hasattr(member, "predict_probabilities"):
                raise ConfigError(f"ensemble member {i} ({type(member).__name__}) gives no probabilities; members "
                                  "must be SAM-family models.")
        if not 0 < threshold < 1:
            raise ConfigError(f"ensemble threshold: expected 0 < threshold < 1, got {threshold!r}.")
        self.members = list(members)
        self.names = list(names) if names is not None else [f"member_{i}" for i in range(len(members))]
        self.method = method
        self.threshold = float(threshold)
        self.name = name

    def predict_probabilities(self, images, boxes) -> list[np.ndarray]:
        per_member = [m.predict_probabilities(images, boxes) for m in self.members]
        return [np.mean(np.stack(maps), axis=0).astype(np.float32) for maps in zip(*per_member)]

    def predict_slices(self, images, boxes) -> list[np.ndarray]:
        return [p > self.threshold for p in self.predict_probabilities(images, boxes)]

    @property
    def box_only(self) -> bool:  # type: ignore[override]
        return any(getattr(m, "box_only", False) for m in self.members)

    def predict_prompted(self, images, prompts) -> list[np.ndarray]:
        """Prompts of any kind: each member's probabilities for them, combined as for boxes."""
        per_member = [m.predict_prompted(images, prompts, probabilities=True) for m in self.members]
        return [np.mean(np.stack(maps), axis=0) > self.threshold for maps in zip(*per_member)]

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "method": self.method, "threshold": self.threshold,
                "members": {n: m.describe() for n, m in zip(self.names, self.members)}}


__all__ = ["ENSEMBLE_METHODS", "EnsembleModel"]

"""What the evaluation runner needs from a model: boxes in, binary masks out, and a description for provenance."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np


class SegmentationModel(ABC):
    """A promptable 2D segmentation model (SAM family, a merged model, a Python callable, ...).

    `predict_slices(images, boxes)`:
      images: 2D slices, each (H, W) grey or (H, W, 3) RGB, float32 intensities in [0, 255] after the task's
              intensity handling (CT window / percentile clip); the model applies its own preprocessing.
      boxes:  per image a (k, 4) float array of boxes x_min, y_min, x_max, y_max in pixel coordinates of that
              image (x = column index, y = row index; max = index of the last foreground pixel), k ≥ 1.
      returns per image a boolean (H, W) mask: the union of the k box predictions.
    The image encoder must run once per image however many boxes it has.
    """

    name: str = "model"
    #: Trained with box prompts only (MedSAM, LiteMedSAM): runs scored with points are flagged.
    box_only: bool = False

    @abstractmethod
    def predict_slices(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]) -> list[np.ndarray]:
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance: adapter name, checkpoint path and sha256, preprocessing, device, dtype."""
        return {"adapter": self.name}

    def predict_prompted(self, images: Sequence[np.ndarray], prompts: Sequence) -> list[np.ndarray]:
        """Mask per image for its `medmix.data.prompts.SlicePrompt`. This default takes box-only prompts (through
        `predict_slices`); models that take points override it."""
        if all(p.box_only for p in prompts):
            return self.predict_slices(images, [p.boxes for p in prompts])
        from medmix.errors import InputError

        raise InputError(f"model {self.name!r} ({type(self).__name__}) takes box prompts only, but this run prompts "
                         "with points; use a box prompt kind (tight_box, jittered_box) or a SAM-family model.")

"""A case as every part of the harness sees it: image, reference labels, geometry and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Case:
    """One image with its reference segmentation.

    image: float32 array, 3D volume (array axis order, e.g. (X, Y, Z) as nibabel gives it) or 2D image; a trailing
        axis of size 3 holds RGB channels when `channels == "rgb"` (fundus).
    label: integer label map on the same grid (without the channel axis).
    spacing: mm per spatial array axis. affine: 4×4 voxel→world matrix when the source had one.
    slice_axis: the array axis 2D slices are cut across (None for 2D images); set by `medmix.data.sources.load_case`
        from the card.
    """

    task: str
    case_id: str
    image: np.ndarray
    label: np.ndarray
    spacing: tuple[float, ...]
    affine: np.ndarray | None = None
    channels: str = "grey"  # "grey" or "rgb"
    meta: dict[str, Any] = field(default_factory=dict)
    slice_axis: int | None = None

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self.image.shape[:-1] if self.channels == "rgb" else self.image.shape

    @property
    def ndim(self) -> int:
        return len(self.spatial_shape)

"""Prompts of every kind as data: an `ObjectPrompt` (an optional box and points for one object) and a
`SlicePrompt` (the objects of one slice, whose predictions are united), built per slice by `slice_prompts`.

Coordinates follow `medmix.data.prompts.boxes`: x = column, y = row of `take_slice(volume, index, axis)`; boxes
(x_min, y_min, x_max, y_max) inclusive; points (x, y) with labels 1 / 0. Objects come in the order the box
conventions give (one per slice, or per 8-connected component in `scipy.ndimage.label` order).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from medmix.data.prompts.boxes import _component_masks, slice_boxes, take_slice
from medmix.data.prompts.points import center_point, random_points
from medmix.data.prompts.spec import PromptSpec, as_prompt_spec
from medmix.errors import InputError

POINTS_STREAM = 1  # the random-points generator is seeded (seed, case, slice, POINTS_STREAM): boxes use (seed, case, slice)


class ObjectPrompt:
    """One object's prompt: `box` (4,) float64 or None, `points` (n, 2) float64 (x, y), `labels` (n,) int64."""

    __slots__ = ("box", "points", "labels")

    def __init__(self, box=None, points=None, labels=None):
        self.box = None if box is None else np.asarray(box, dtype=np.float64).reshape(4)
        self.points = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=np.float64).reshape(-1, 2)
        self.labels = np.zeros(0, np.int64) if labels is None else np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(self.labels) != len(self.points):
            raise InputError(f"prompt: {len(self.points)} points but {len(self.labels)} labels; give one label (1 "
                             "foreground, 0 background) per point.")
        if self.box is None and not len(self.points):
            raise InputError("prompt: an object needs a box or at least one point.")

    @property
    def box_only(self) -> bool:
        return self.box is not None and not len(self.points)

    def transposed(self) -> ObjectPrompt:
        """The prompt on the transposed image (x and y swapped)."""
        box = None if self.box is None else self.box[[1, 0, 3, 2]]
        return ObjectPrompt(box, self.points[:, ::-1], self.labels)

    def with_point(self, x: float, y: float, positive: bool) -> ObjectPrompt:
        return ObjectPrompt(self.box, np.vstack([self.points, [[x, y]]]), np.append(self.labels, int(positive)))

    def to_json(self) -> dict:
        out: dict = {}
        if self.box is not None:
            out["box"] = [float(v) for v in self.box]
        if len(self.points):
            out["points"] = [[float(x), float(y)] for x, y in self.points]
            out["labels"] = [int(v) for v in self.labels]
        return out

    @classmethod
    def from_json(cls, data: Mapping, where: str = "prompt") -> ObjectPrompt:
        unknown = sorted(set(data) - {"box", "points", "labels"})
        if unknown:
            raise InputError(f"{where}: unknown key {unknown[0]!r}; an object holds box, points and labels.")
        try:
            return cls(data.get("box"), data.get("points"), data.get("labels", [1] * len(data.get("points", []))))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}: could not read the object {dict(data)!r}: {exc}.") from None

    def __eq__(self, other) -> bool:
        if not isinstance(other, ObjectPrompt):
            return NotImplemented
        same_box = (self.box is None and other.box is None) or (
            self.box is not None and other.box is not None and np.array_equal(self.box, other.box))
        return same_box and np.array_equal(self.points, other.points) and np.array_equal(self.labels, other.labels)

    def __repr__(self) -> str:
        return f"ObjectPrompt({self.to_json()})"


class SlicePrompt:
    """The objects prompted on one slice; the slice's prediction is the union of theirs."""

    __slots__ = ("objects",)

    def __init__(self, objects: Sequence[ObjectPrompt]):
        self.objects = tuple(objects)

    @classmethod
    def from_boxes(cls, boxes) -> SlicePrompt:
        return cls([ObjectPrompt(box=b) for b in np.asarray(boxes, dtype=np.float64).reshape(-1, 4)])

    @property
    def box_only(self) -> bool:
        return all(o.box_only for o in self.objects)

    @property
    def has_points(self) -> bool:
        return any(len(o.points) for o in self.objects)

    @property
    def boxes(self) -> np.ndarray:
        """(k, 4) boxes of the objects that have one."""
        return np.array([o.box for o in self.objects if o.box is not None], dtype=np.float64).reshape(-1, 4)

    def transposed(self) -> SlicePrompt:
        return SlicePrompt([o.transposed() for o in self.objects])

    def to_json(self) -> list[dict]:
        return [o.to_json() for o in self.objects]

    @classmethod
    def from_json(cls, data, where: str = "prompt") -> SlicePrompt:
        if not isinstance(data, Sequence) or isinstance(data, (str, bytes)) or not data:
            raise InputError(f"{where}: expected a non-empty list of objects ({{box, points, labels}}), got "
                             f"{data!r}.")
        return cls([ObjectPrompt.from_json(o, f"{where}[{i}]") for i, o in enumerate(data)])

    def __eq__(self, other) -> bool:
        return isinstance(other, SlicePrompt) and self.objects == other.objects

    def __len__(self) -> int:
        return len(self.objects)

    def __repr__(self) -> str:
        return f"SlicePrompt({self.to_json()})"


def slice_prompts(label, axis: int | None, prompt_spec: PromptSpec | Mapping | None = None, seed: int | None = None,
                  case_key: str = "", stream_index: int | None = None) -> dict[int, SlicePrompt]:
    """The start prompt of every slice of `label` along `axis` that holds foreground (every kind; for `iterative`
    the box or centre point its rounds start from). Same arguments as `slice_boxes`."""
    spec = as_prompt_spec(prompt_spec)
    boxes = slice_boxes(label, axis, spec, seed, case_key, stream_index)
    if spec.kind in ("tight_box", "jittered_box", "medsamix_jitter") or (spec.kind == "iterative"
                                                                         and spec.start == "box"):
        return {index: SlicePrompt.from_boxes(b) for index, b in boxes.items()}
    mask = np.asarray(label) != 0
    seed = spec.seed if seed is None else int(seed)
    key = zlib.crc32(str(case_key).encode("utf-8"))
    out: dict[int, SlicePrompt] = {}
    for index, slice_box in boxes.items():
        plane = mask if axis is None else take_slice(mask, index, axis)
        parts = _component_masks(plane) if spec.per_component else [plane]
        rng = np.random.default_rng([seed, key, index, POINTS_STREAM])
        objects = []
        for part, box in zip(parts, slice_box):
            if spec.kind == "random_points":
                points, labels = random_points(part, plane, spec.positive, spec.negative, spec.band_px, rng)
                objects.append(ObjectPrompt(None, points, labels))
            else:
                point = center_point(part)
                objects.append(ObjectPrompt(box if spec.kind == "box_and_point" else None, point[None, :], [1]))
        out[index] = SlicePrompt(objects)
    return out


__all__ = ["ObjectPrompt", "SlicePrompt", "slice_prompts"]

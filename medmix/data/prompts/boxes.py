"""Box prompts from a reference mask, one set per 2D slice (the MedSAMix protocol: one tight ground-truth box per
foreground slice; fundus boxes jittered).

Conventions:
- A 2D slice is `take_slice(volume, index, axis)`: `np.take(volume, index, axis)`, the remaining axes in array
  order. Its rows are the first remaining axis, its columns the second.
- A box is (x_min, y_min, x_max, y_max) in pixel indices of that slice: x = column index, y = row index, max =
  index of the last foreground pixel (inclusive), as `SegmentationModel.predict_slices` expects. Boxes are float64
  arrays of shape (k, 4) holding whole numbers.
- `per_component=False`: one box around all foreground of the slice. `per_component=True`: one box per connected
  component of the slice (8-connectivity, i.e. full connectivity in 2D), in scipy.ndimage.label order (raster
  order of each component's first pixel).
- Slices without foreground get no entry. A 2D case (axis None) gives at most one entry, at index 0.
- Jitter (`kind="jittered_box"`): for every box, the centre moves along each image axis by a random magnitude drawn
  uniformly from `shift_px` = [lo, hi] pixels (or `shift_frac` × the box's size along that axis) with a random
  sign, then width and height are multiplied by 1 + u with u uniform in `scale_frac` = [lo, hi] (independently per
  axis); the result is rounded to whole pixels and clipped to the slice. The generator is seeded by (seed,
  crc32(case_key), slice index), so the same seed, case and slice give the same box in any process, and the box
  of one slice does not depend on which other slices were asked for.
- MedSAMix's fundus jitter (`kind="medsamix_jitter"`, 2-D images only; reference.md §3a), bit for bit: from the
  tight box, w = x_max − x_min and h = y_max − y_min (no +1); each edge moves by `int(U(−0.02, 0.05) × size)`
  (w for x edges, h for y edges; draws in the order x_min, x_max, y_min, y_max); then one common shift
  `int(U(−0.05, 0.05) × size)` per axis (x, then y); then with probability 0.3 (one `rand()` drawn every time)
  the box is rebuilt about its current centre with the pre-jitter size scaled by U(0.95, 1.2) per axis (x, then y)
  and `int()` truncation; finally clamped to the image. MedSAMix draws from one global `np.random` stream seeded
  42 (`prompt.seed`), one box per image in sorted-file order; here the stream is positioned at the case's index in
  its task's sorted split (`stream_index`), so any subset of cases, in any order, gets exactly the boxes a full
  MedSAMix pass gives. The number of draws per image does not depend on the mask (7, or 9 when rescaled), which
  is what makes that positioning possible.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from medmix.data.prompts.spec import JitterSpec, PromptSpec, as_prompt_spec
from medmix.errors import InputError

def take_slice(volume: np.ndarray, index: int, axis: int | None) -> np.ndarray:
    """The 2D slice `index` of `volume` perpendicular to `axis` (`np.take`, remaining axes in order). With
    `axis=None` the volume is a 2D image (grey, or RGB with a trailing axis of 3) and comes back unchanged (index
    must be 0). Extra trailing axes (RGB) are kept."""
    if axis is None:
        if index != 0:
            raise InputError(f"take_slice: a 2D image has only slice 0, got index {index}.")
        return volume
    return np.take(volume, index, axis=axis)


def slice_boxes(
    label,
    axis: int | None,
    prompt_spec: PromptSpec | Mapping | None = None,
    seed: int | None = None,
    case_key: str = "",
    stream_index: int | None = None,
) -> dict[int, np.ndarray]:
    """Box prompts for every slice of `label` along `axis` that holds foreground.

    label: binary mask (non-zero = foreground), 3D with `axis` the slice axis, or 2D with `axis=None`.
    prompt_spec: `PromptSpec` or its mapping form (None: one tight box per slice). seed: overrides
    `prompt_spec.seed` when given. case_key: identifies the case in the jitter seed (e.g. "task/case_id").
    stream_index: for kind "medsamix_jitter", the case's position in its task's sorted split (required there).
    Returns {slice index: float64 array (k, 4) of (x_min, y_min, x_max, y_max)}; see the module docstring.
    """
    spec = as_prompt_spec(prompt_spec)
    mask = np.asarray(label)
    if mask.dtype != bool:
        mask = mask != 0
    if axis is None:
        if mask.ndim != 2:
            raise InputError(f"slice_boxes: axis=None expects a 2D mask, got shape {mask.shape}; give the slice "
                             "axis for a volume.")
        indices = [0] if mask.any() else []
    else:
        if mask.ndim != 3:
            raise InputError(f"slice_boxes: expected a 3D mask with slice axis {axis}, got shape {mask.shape}; use "
                             "axis=None for a 2D image.")
        if not -3 <= axis < 3:
            raise InputError(f"slice_boxes: axis {axis} is out of range for a 3D mask.")
        axis %= 3
        other = tuple(a for a in range(3) if a != axis)
        indices = np.flatnonzero(mask.any(axis=other)).tolist()
    seed = spec.seed if seed is None else int(seed)
    if spec.kind == "medsamix_jitter":
        if axis is not None:
            raise InputError("prompt kind 'medsamix_jitter' is MedSAMix's 2-D (fundus) jitter; a volume gets tight "
                             "boxes under that protocol.")
        if stream_index is None:
            raise InputError("prompt kind 'medsamix_jitter' needs the case's position in its split (stream_index).")
        if not indices:
            return {}
        box = medsamix_jitter_box(_tight_box(mask), mask.shape, medsamix_stream(seed, int(stream_index)))
        return {0: np.asarray(box, dtype=np.float64)[None, :]}
    key = zlib.crc32(str(case_key).encode("utf-8"))
    out: dict[int, np.ndarray] = {}
    for index in indices:
        plane = take_slice(mask, index, axis)
        boxes = _component_boxes(plane) if spec.per_component else _tight_box(plane)[None, :]
        if spec.jitter is not None:
            rng = np.random.default_rng([seed, key, index])
            boxes = _jitter(boxes, spec.jitter, plane.shape, rng)
        out[int(index)] = boxes.astype(np.float64)
    return out


def tight_box(mask2d) -> np.ndarray | None:
    """(x_min, y_min, x_max, y_max) of the foreground of a 2D mask as a float64 array of 4, or None if empty."""
    plane = np.asarray(mask2d) != 0
    if plane.ndim != 2:
        raise InputError(f"tight_box: expected a 2D mask, got shape {plane.shape}.")
    if not plane.any():
        return None
    return _tight_box(plane).astype(np.float64)


def _tight_box(plane: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(plane.any(axis=1))
    cols = np.flatnonzero(plane.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.int64)


def _component_boxes(plane: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    labelled, n = ndimage.label(plane, structure=np.ones((3, 3), dtype=bool))
    boxes = []
    for sl in ndimage.find_objects(labelled):
        rows, cols = sl
        boxes.append([cols.start, rows.start, cols.stop - 1, rows.stop - 1])
    return np.asarray(boxes, dtype=np.int64).reshape(n, 4)


def _component_masks(plane: np.ndarray) -> list[np.ndarray]:
    """One mask per 8-connected component, in the order `_component_boxes` gives their boxes."""
    from scipy import ndimage

    labelled, n = ndimage.label(plane, structure=np.ones((3, 3), dtype=bool))
    return [labelled == i for i in range(1, n + 1)]


def _jitter(boxes: np.ndarray, jitter: JitterSpec, shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    height, width = shape[0], shape[1]
    out = np.empty((len(boxes), 4), dtype=np.int64)
    for i, (x0, y0, x1, y1) in enumerate(boxes.astype(np.float64)):
        size = np.array([x1 - x0 + 1.0, y1 - y0 + 1.0])
        centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
        # Draw every random number whatever the spec, so changing one range does not reshuffle the others.
        magnitude = rng.uniform(0.0, 1.0, size=2)
        sign = np.where(rng.random(2) < 0.5, -1.0, 1.0)
        scale_u = rng.uniform(0.0, 1.0, size=2)
        if jitter.shift_px is not None:
            lo, hi = jitter.shift_px
            centre = centre + sign * (lo + (hi - lo) * magnitude)
        elif jitter.shift_frac is not None:
            lo, hi = jitter.shift_frac
            centre = centre + sign * (lo + (hi - lo) * magnitude) * size
        lo, hi = jitter.scale_frac
        size = size * (1.0 + lo + (hi - lo) * scale_u)
        half = (size - 1.0) / 2.0
        new = np.array([centre[0] - half[0], centre[1] - half[1], centre[0] + half[0], centre[1] + half[1]])
        new = np.floor(new + 0.5)  # round half up, the same on every platform
        new[[0, 2]] = np.clip(new[[0, 2]], 0, width - 1)
        new[[1, 3]] = np.clip(new[[1, 3]], 0, height - 1)
        out[i] = new.astype(np.int64)
    return out


# --- MedSAMix's fundus jitter ------------------------------------------------------------------------------------

_STREAMS: dict[int, list] = {}  # seed → RandomState states before image 0, 1, 2, … (grown on demand)


def medsamix_stream(seed: int, index: int) -> np.random.RandomState:
    """A legacy `np.random.RandomState` positioned where MedSAMix's global stream (seeded `seed`) stands when it
    jitters image `index` (0-based, sorted-file order) of a task: every earlier image drew 7 numbers, or 9 when
    its `rand()` (the 7th) fell below 0.3."""
    if index < 0:
        raise InputError(f"medsamix jitter: stream index must be ≥ 0, got {index}.")
    states = _STREAMS.setdefault(int(seed), [np.random.RandomState(int(seed)).get_state()])
    if len(states) <= index:
        rs = np.random.RandomState()
        rs.set_state(states[-1])
        while len(states) <= index:
            rs.random_sample(6)
            if rs.random_sample() < 0.3:
                rs.random_sample(2)
            states.append(rs.get_state())
    rs = np.random.RandomState()
    rs.set_state(states[index])
    return rs


def medsamix_jitter_box(tight, shape: Sequence[int], rs: np.random.RandomState) -> tuple[int, int, int, int]:
    """MedSAMix's `augment_bounding_box` applied to `tight` = (x_min, y_min, x_max, y_max) inclusive pixel indices
    of an (H, W) image, drawing from `rs` exactly as it does (see the module docstring)."""
    height, width = int(shape[0]), int(shape[1])
    min_x, min_y, max_x, max_y = (int(v) for v in tight)
    box_w, box_h = max_x - min_x, max_y - min_y
    jitter_x, jitter_y = box_w * 0.05, box_h * 0.05
    min_x += int(rs.uniform(-jitter_x * 0.4, jitter_x))
    max_x += int(rs.uniform(-jitter_x * 0.4, jitter_x))
    min_y += int(rs.uniform(-jitter_y * 0.4, jitter_y))
    max_y += int(rs.uniform(-jitter_y * 0.4, jitter_y))
    shift_x = int(rs.uniform(-box_w * 0.05, box_w * 0.05))
    shift_y = int(rs.uniform(-box_h * 0.05, box_h * 0.05))
    min_x, max_x, min_y, max_y = min_x + shift_x, max_x + shift_x, min_y + shift_y, max_y + shift_y
    if rs.rand() < 0.3:
        scale_x, scale_y = rs.uniform(0.95, 1.2), rs.uniform(0.95, 1.2)
        cx, cy = (min_x + max_x) / 2, (min_y + max_y) / 2
        new_w, new_h = box_w * scale_x, box_h * scale_y
        min_x, max_x = int(cx - new_w / 2), int(cx + new_w / 2)
        min_y, max_y = int(cy - new_h / 2), int(cy + new_h / 2)
    return max(0, min_x), max(0, min_y), min(width - 1, max_x), min(height - 1, max_y)


__all__ = ["medsamix_jitter_box", "medsamix_stream", "slice_boxes", "take_slice", "tight_box"]

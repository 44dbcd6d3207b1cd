"""The 2D slices a model is shown for a case: intensity handling, prompts and orientation in one place.

The evaluation runner and the merge search's calibration set both call `prompted_slices`, so a trial scores
exactly what an evaluation under the same card (and protocol) would predict.

Orientation: "display" transposes every slice of a 3-D volume before the model sees it (nibabel's (x, y) slice
becomes the (row = y, column = x) image that SimpleITK-based pipelines such as MedSAM's trained on), boxes
likewise; "array" shows `np.take(volume, index, slice_axis)` as it is (MedSAMix's `image[..., k]`). 2-D images
are never transposed. `to_case_orientation` maps a predicted mask back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

ORIENTATIONS = ("display", "array")


@dataclass
class PromptedSlice:
    """One prompted slice in the model's view: its index along the case's slice axis (0 for a 2-D image), the
    image (float32 in [0, 255], (H, W) or (H, W, 3)), the prompt (a `SlicePrompt`, model view) and the reference
    mask (bool (H, W)). `case_prompt` is the same prompt on the case's own slice grid (what frozen prompt files
    record)."""

    index: int
    image: np.ndarray
    prompt: object
    reference: np.ndarray
    case_prompt: object = None

    @property
    def boxes(self) -> np.ndarray:
        """(k, 4) boxes of the prompt (box-only prompt kinds)."""
        return self.prompt.boxes


def prompted_slices(case, card, *, orientation: str = "display", seed: int | None = None,
                    stream_index: int | None = None, prompts: dict | None = None) -> Iterator[PromptedSlice]:
    """Every slice of `case` whose reference has foreground, with the card's prompts, in slice order.

    seed overrides the card's prompt seed; stream_index is the case's position in its task's sorted split
    (needed by MedSAMix's fundus jitter, `prompt.kind: medsamix_jitter`). prompts: {slice index: SlicePrompt on
    the case's grid} to use instead of generating them (a frozen prompt file's); it must cover exactly the
    reference-foreground slices.
    """
    from medmix.data.intensity import apply_intensity
    from medmix.data.prompts import slice_prompts, take_slice

    if orientation not in ORIENTATIONS:
        from medmix.errors import InputError

        raise InputError(f"orientation must be one of {', '.join(ORIENTATIONS)}, got {orientation!r}.")
    image = apply_intensity(case.image, card.intensity)
    axis = case.slice_axis if case.ndim == 3 else None
    generated = slice_prompts(case.label, axis, card.prompt, seed, f"{card.name}/{case.case_id}", stream_index)
    if prompts is not None:
        _check_replay(prompts, generated, f"{card.name}/{case.case_id}")
        generated = prompts
    transpose = orientation == "display" and case.ndim == 3
    for index in sorted(generated):
        prompt = generated[index]
        if case.ndim == 2:
            img, ref = image, case.label.astype(bool)
        else:
            img = take_slice(image, index, axis)
            ref = take_slice(case.label, index, axis).astype(bool)
        view = prompt
        if transpose:
            img, ref, view = np.ascontiguousarray(img.T), np.ascontiguousarray(ref.T), prompt.transposed()
        yield PromptedSlice(int(index), np.asarray(img, dtype=np.float32), view, ref, prompt)


def _check_replay(given: dict, generated: dict, where: str) -> None:
    from medmix.errors import InputError

    missing = sorted(set(generated) - set(given))
    extra = sorted(set(given) - set(generated))
    if missing or extra:
        what = (f"no prompt for slice(s) {missing[:5]} that hold reference foreground" if missing else
                f"prompts for slice(s) {extra[:5]} whose reference is empty here")
        raise InputError(f"frozen prompts for case {where}: {what}. The prompt file was written for other data (a "
                         "different split, slice cap or dataset version); replay it on the data it was made from.")


def to_case_orientation(mask: np.ndarray, case, orientation: str) -> np.ndarray:
    """A mask predicted on a `prompted_slices` image, back on the case's own slice grid."""
    return mask.T if orientation == "display" and case.ndim == 3 else mask


def place_slice(volume: np.ndarray, mask: np.ndarray, index: int, axis: int | None) -> None:
    """Write a 2-D mask into `volume` at slice `index` along `axis` (the whole image when axis is None)."""
    if axis is None:
        volume[...] = mask
        return
    where = [slice(None)] * volume.ndim
    where[axis] = index
    volume[tuple(where)] = mask


__all__ = ["ORIENTATIONS", "PromptedSlice", "place_slice", "prompted_slices", "to_case_orientation"]

"""SAM's prompt encoder and mask decoder for prompts of every kind: boxes, points, box + points, and the previous
low-resolution logits as `mask_input` (iterative refinement), many slices in few decoder calls.

Same maths as segment_anything's `MaskDecoder.predict_masks` / `SamPredictor.predict_torch`, except that each
prompt attends to its own image's embedding (upstream repeats one image's embedding for all prompts). Prompts are
grouped by shape (box or not, number of points, mask input or not, multimask or not) and every group is decoded
in one call, so nothing is padded and each prompt gets exactly what upstream gives it alone: SAM's prompt
encoder adds one padding point when points come without a box, as upstream does.

Multimask: an object prompted by a single point and nothing else is ambiguous; as SAM's predictor advises, its
three multimask outputs are decoded and the one with the highest predicted IoU kept (SAM's interactive
evaluation does the same for the first click). Every other prompt takes the single-mask output (token 0).
Importing this module does not import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def run_decoder(model, embeddings, sparse, dense, *, multimask: bool = False):
    """(low-res logits (m, 1, 4h, 4w), predicted IoU (m,) of the chosen mask, or None for the single-mask output,
    whose IoU head nobody reads: the merge search's trials decode through here) for m prompts whose embeddings
    `embeddings` (m, C, h, w), sparse (m, t, C) and dense (m, C, h, w) prompt embeddings are given."""
    import torch

    md = model.mask_decoder
    m = sparse.shape[0]
    output_tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
    tokens = torch.cat((output_tokens.unsqueeze(0).expand(m, -1, -1), sparse), dim=1)
    src = embeddings + dense
    pos_src = model.prompt_encoder.get_dense_pe().expand(m, -1, -1, -1)
    b, c, hh, ww = src.shape
    hs, src = md.transformer(src, pos_src, tokens)
    upscaled = md.output_upscaling(src.transpose(1, 2).reshape(b, c, hh, ww))
    b2, c2, h2, w2 = upscaled.shape
    flat = upscaled.reshape(b2, c2, h2 * w2)
    if not multimask:  # mask token 0: the single-mask output
        hyper = md.output_hypernetworks_mlps[0](hs[:, 1, :])
        return (hyper.unsqueeze(1) @ flat).reshape(b2, 1, h2, w2), None
    tokens_out = range(1, md.num_mask_tokens)
    hyper = torch.stack([md.output_hypernetworks_mlps[i](hs[:, 1 + i, :]) for i in tokens_out], dim=1)
    masks = (hyper @ flat).reshape(b2, len(tokens_out), h2, w2)
    iou = md.iou_prediction_head(hs[:, 0, :])[:, 1:]
    best = iou.argmax(dim=1)
    rows = torch.arange(b2, device=masks.device)
    return masks[rows, best].unsqueeze(1), iou[rows, best]


@dataclass
class EncodedSlices:
    """Image embeddings (n, C, h, w) of n slices and each slice's preprocessing geometry and (H, W)."""

    embeddings: Any
    geometries: list
    shapes: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.geometries)

    def subset(self, index: Sequence[int]) -> EncodedSlices:
        return EncodedSlices(self.embeddings[list(index)], [self.geometries[i] for i in index],
                             [self.shapes[i] for i in index])


def decode_slice_prompts(model, encoded: EncodedSlices, prompts: Sequence, prep, *, mask_inputs=None,
                         probabilities: bool = False, max_prompts: int | None = 256):
    """Masks of n slices from their `SlicePrompt`s (objects in slice pixels) on `encoded`'s embeddings.

    mask_inputs: per slice None or a tensor (k_i, 1, 4h, 4w) of low-res logits, one per object (the previous
    round's). Returns (per slice bool (H, W) masks, or float32 probabilities with `probabilities`, the union /
    maximum over its objects; per slice the low-res logits (k_i, 1, 4h, 4w) of its objects, on the device).
    """
    import torch

    from medmix.models.preprocess import coordinate_scale, postprocess_logits, postprocess_probabilities

    device = encoded.embeddings.device
    pe = model.prompt_encoder
    objects = []  # (slice, object index, object, mask input)
    for i, prompt in enumerate(prompts):
        given = None if mask_inputs is None else mask_inputs[i]
        for j, obj in enumerate(prompt.objects):
            objects.append((i, j, obj, None if given is None else given[j:j + 1]))
    groups: dict[tuple, list[int]] = {}
    for n, (_, _, obj, mask) in enumerate(objects):
        multimask = obj.box is None and len(obj.points) == 1 and mask is None
        groups.setdefault((obj.box is not None, len(obj.points), mask is not None, multimask), []).append(n)
    low_res: list = [None] * len(objects)
    for (has_box, n_points, has_mask, multimask), members in groups.items():
        step = len(members) if not max_prompts else int(max_prompts)
        for start in range(0, len(members), step):
            part = members[start:start + step]
            image_index = torch.tensor([objects[n][0] for n in part], device=device)
            scales = torch.tensor([coordinate_scale(encoded.geometries[objects[n][0]], prep) for n in part],
                                  dtype=torch.float32, device=device)  # (m, 2): x, y
            boxes = points = masks = None
            if has_box:
                raw = torch.tensor(np.stack([objects[n][2].box for n in part]), dtype=torch.float32, device=device)
                boxes = (raw.reshape(-1, 2, 2) * scales[:, None, :]).reshape(-1, 1, 4)
            if n_points:
                coords = torch.tensor(np.stack([objects[n][2].points for n in part]), dtype=torch.float32,
                                      device=device) * scales[:, None, :]
                labels = torch.tensor(np.stack([objects[n][2].labels for n in part]), dtype=torch.int64,
                                      device=device)
                points = (coords, labels)
            if has_mask:
                masks = torch.cat([objects[n][3] for n in part]).to(device=device, dtype=torch.float32)
            sparse, dense = pe(points=points, boxes=boxes, masks=masks)
            logits, _ = run_decoder(model, encoded.embeddings[image_index], sparse, dense, multimask=multimask)
            for n, value in zip(part, logits):
                low_res[n] = value
    post = postprocess_probabilities if probabilities else postprocess_logits
    per_slice: list[list] = [[] for _ in prompts]
    for n, (i, _, _, _) in enumerate(objects):
        per_slice[i].append(low_res[n])
    masks_out, logits_out = [], []
    for i, parts in enumerate(per_slice):
        h, w = encoded.shapes[i]
        if not parts:
            masks_out.append(np.zeros((h, w), dtype=np.float32 if probabilities else bool))
            logits_out.append(None)
            continue
        stacked = torch.stack(parts)
        maps = post(stacked, encoded.geometries[i], prep)
        union = maps.max(dim=0).values if probabilities else maps.any(dim=0)
        masks_out.append(union.cpu().numpy().astype(np.float32 if probabilities else bool, copy=False))
        logits_out.append(stacked)
    return masks_out, logits_out


__all__ = ["EncodedSlices", "decode_slice_prompts", "run_decoder"]

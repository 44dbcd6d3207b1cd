"""The search objective's data: calibration slices prepared once, kept on the device, scored per trial.

Every calibration slice of the chosen tasks goes through the harness's own steps once (`prompted_slices`:
intensity handling, one box per reference-foreground slice, the protocol's orientation; then the model's
preprocessing) and stays on the device as model input, boxes in model coordinates and the reference mask. Cards
come already rewritten by the search's protocol, so the objective scores what an evaluation under that protocol
would. A trial then only runs the encoder, the batched
decoder, post-processing and Dice on the device; per task it returns the mean slice Dice (MedSAMix's objective).

Fidelity: slices of each task are in a seeded random order, so a budget of b slices scores the first
⌈b / n_tasks⌉ of every task: a smaller budget is a smaller, unbiased sample and really does less work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from medmix.errors import InputError, MedmixError


@dataclass
class PreparedBatch:
    inputs: object  # tensor (B, 3, S, S), storage dtype, on the device
    boxes: list  # B tensors (k, 4), model-input coordinates
    geometry: object  # shared preprocess Geometry of the batch
    gt: object  # bool tensor (B, H, W)
    # Prompts other than boxes: B `SlicePrompt`s in slice pixels and the spec (iterative rounds run per trial).
    prompts: list | None = None
    prompt_spec: object = None

    @property
    def size(self) -> int:
        return int(self.inputs.shape[0])


@dataclass
class CalibrationSet:
    tasks: list[str]
    batches: dict[str, list[PreparedBatch]] = field(default_factory=dict)
    n_slices: dict[str, int] = field(default_factory=dict)
    dice_epsilon: float = 0.0  # MedSAMix's protocol: 1e-8 in Dice's denominator
    # Image embeddings of the batches, valid while the merged encoder is the one `embedding_key` names.
    embeddings: dict = field(default_factory=dict)
    embedding_key: object = None

    @property
    def total_slices(self) -> int:
        return sum(self.n_slices.values())


def collect_slices(card, case_ids: list[str], data_root, orientation: str = "display"):
    """(image slice in [0, 255], prompt (`SlicePrompt`), reference slice) for every prompted slice of the cases,
    which are the card's split in sorted order (their positions feed MedSAMix's fundus jitter stream)."""
    from medmix.data.slices import prompted_slices
    from medmix.data.sources import load_case

    out = []
    for position, case_id in enumerate(case_ids):
        case = load_case(card, case_id, data_root)
        for item in prompted_slices(case, card, orientation=orientation, stream_index=position):
            out.append((item.image, item.prompt, item.reference))
    return out


def build_calibration(cards, model, *, split: str = "calibration", data_root=None, max_slices_per_task: int | None
                      = None, seed: int = 0, batch_size: int = 16, allow_test_split: bool = False,
                      orientation: str = "display", dice_epsilon: float = 0.0) -> CalibrationSet:
    """Prepare the calibration slices of `cards` (as the search's protocol rewrote them) for `model` (a
    `SamFamilyModel`) on its device."""
    import torch

    from medmix.data.sources import case_ids
    from medmix.models.preprocess import preprocess_images, transform_boxes

    if split != "calibration" and not allow_test_split:
        raise MedmixError(f"the merge search scores candidates on the calibration split only; got split={split!r}. "
                          "Tuning on test cases leaks them into the result. Pass allow_test_split=True "
                          "(--allow-test-split) only if you really mean it.")
    device = model.device
    storage = torch.float16 if device.type == "cuda" else torch.float32
    calib = CalibrationSet([c.name for c in cards], dice_epsilon=dice_epsilon)
    rng = np.random.default_rng(seed)
    for card in cards:
        ids = case_ids(card, data_root, split)
        slices = collect_slices(card, ids, data_root, orientation)
        if not slices:
            raise InputError(f"task {card.name}: no prompted slice in the {split} split; nothing to score.")
        order = rng.permutation(len(slices))
        if max_slices_per_task is not None:
            order = order[:max_slices_per_task]
        picked = [slices[i] for i in order]
        batches = []
        start = 0
        while start < len(picked):
            # A batch holds consecutive slices of one shape (one preprocessing geometry).
            shape = picked[start][0].shape
            end = start
            while end < len(picked) and end - start < batch_size and picked[end][0].shape == shape:
                end += 1
            group = picked[start:end]
            with torch.no_grad():  # not inference_mode: fine-tuning reuses these tensors under autograd
                inputs, geometries = preprocess_images([torch.from_numpy(img).to(device) for img, _, _ in group],
                                                       model.preprocessing)
                boxes = [transform_boxes(torch.from_numpy(p.boxes).to(device), geometries[0], model.preprocessing)
                         for _, p, _ in group]
            gt = torch.from_numpy(np.stack([ref for _, _, ref in group])).to(device)
            prompted = card.prompt.interactive or not all(p.box_only for _, p, _ in group)
            batches.append(PreparedBatch(inputs.to(storage), boxes, geometries[0], gt,
                                         [p for _, p, _ in group] if prompted else None,
                                         card.prompt if prompted else None))
            start = end
        calib.batches[card.name] = batches
        calib.n_slices[card.name] = len(picked)
    return calib


def slices_for_budget(calib: CalibrationSet, budget: float | None) -> dict[str, int]:
    """Slices scored per task for a budget in total slices (None: all)."""
    if budget is None:
        return dict(calib.n_slices)
    per_task = max(1, math.ceil(float(budget) / len(calib.tasks)))
    return {t: min(n, per_task) for t, n in calib.n_slices.items()}


def score_calibration(model, calib: CalibrationSet, budget: float | None = None, encoder_key=None
                      ) -> dict[str, float]:
    """Mean slice Dice per task of the model's current weights (one host sync at the end).

    encoder_key: what the merged image encoder is (e.g. the recipes of the units that touch it). When it equals the
    key the stored embeddings were computed under, they are reused and only the prompt encoder and the decoder
    run, the trial's whole cost when a search changes only those units; None computes everything.
    """
    import torch

    from medmix.metrics.torch_batch import batch_dice_iou
    from medmix.models.adapters import decode_boxes
    from medmix.models.preprocess import postprocess_logits

    limits = slices_for_budget(calib, budget)
    model.module.eval()  # refreshes weight-derived caches (TinyViT) after in-place merges
    if encoder_key is None or encoder_key != calib.embedding_key:
        calib.embeddings.clear()
        calib.embedding_key = encoder_key
    sums = {}
    with torch.inference_mode():
        for task, batches in calib.batches.items():
            remaining = limits[task]
            total = torch.zeros((), dtype=torch.float64, device=model.device)
            for index, batch in enumerate(batches):
                if remaining <= 0:
                    break
                m = min(batch.size, remaining)
                remaining -= m
                stored = calib.embeddings.get((task, index))
                if stored is not None and stored.shape[0] >= m:
                    embeddings = stored[:m]
                else:
                    embeddings = model.encode_cached(batch.inputs[:m].float())
                    if encoder_key is not None:
                        calib.embeddings[(task, index)] = embeddings
                if batch.prompts is not None:
                    total += prompted_dice(model, embeddings, batch, m, calib.dice_epsilon)
                    continue
                logits = decode_boxes(model.module, embeddings, batch.boxes[:m],
                                      max_boxes=model.max_boxes_per_decode)
                masks = postprocess_logits(logits, batch.geometry, model.preprocessing)
                counts = [int(b.shape[0]) for b in batch.boxes[:m]]
                if any(c != 1 for c in counts):
                    masks = torch.stack([part.any(dim=0) for part in torch.split(masks, counts)])
                dice, _ = batch_dice_iou(masks, batch.gt[:m], dice_epsilon=calib.dice_epsilon)
                total += dice.sum()
            sums[task] = total
    return {task: float(value) / limits[task] for task, value in sums.items()}


def prompted_dice(model, embeddings, batch: PreparedBatch, m: int, dice_epsilon: float):
    """Sum of slice Dice of the first m slices of a batch prompted with points (or iteratively: Dice after the
    spec's last round, no NoC clicks), on embeddings already computed."""
    import torch

    from medmix.evaluation.interactive import interact
    from medmix.models.prompt_decoding import EncodedSlices

    shape = tuple(batch.gt.shape[-2:])
    encoded = EncodedSlices(embeddings, [batch.geometry] * m, [shape] * m)
    refs = batch.gt[:m].cpu().numpy()
    prompts = batch.prompts[:m]
    if batch.prompt_spec.interactive:
        runs = interact(_Encoded(model, encoded), [None] * m, list(refs), prompts, batch.prompt_spec,
                        extend_for_noc=False)
        masks = [run.masks[-1] for run in runs]
    else:
        masks, _ = model.decode_prompted(encoded, prompts)
    pred = np.stack(masks).astype(bool)
    inter = (pred & refs).sum(axis=(1, 2))
    dice = 2.0 * inter / (pred.sum(axis=(1, 2)) + refs.sum(axis=(1, 2)) + dice_epsilon)
    return torch.tensor(float(dice.sum()), dtype=torch.float64, device=embeddings.device)


class _Encoded:
    """A model whose slices are already encoded (the calibration's stored embeddings): `interact` decodes on them."""

    def __init__(self, model, encoded):
        self.model, self.encoded = model, encoded

    def encode_slices(self, images):
        return self.encoded

    def decode_prompted(self, encoded, prompts, **kwargs):
        return self.model.decode_prompted(encoded, prompts, **kwargs)
